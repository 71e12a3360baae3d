"""disp_to_depth / depth_to_disp: hand values, inverse pair, gradients, bad ranges."""

import pytest
import torch

from monodepthkit.geometry import depth_to_disp, disp_to_depth


def test_hand_values_monodepth2_range():
    disp = torch.tensor([0.0, 1.0, 0.5])
    scaled, depth = disp_to_depth(disp, 0.1, 100.0)
    # scaled = 1/100 + (1/0.1 - 1/100) * disp
    torch.testing.assert_close(scaled, torch.tensor([0.01, 10.0, 0.01 + 9.99 * 0.5]))
    torch.testing.assert_close(depth, torch.tensor([100.0, 0.1, 1 / 5.005]))


def test_depth_to_disp_inverts_disp_to_depth():
    disp = torch.rand(2, 1, 5, 7, dtype=torch.float64)
    _, depth = disp_to_depth(disp, 0.5, 80.0)
    torch.testing.assert_close(depth_to_disp(depth, 0.5, 80.0), disp)
    assert depth.min() >= 0.5 and depth.max() <= 80.0
    # depth_to_disp(min) = 1 and depth_to_disp(max) = 0
    ends = depth_to_disp(torch.tensor([0.5, 80.0], dtype=torch.float64), 0.5, 80.0)
    torch.testing.assert_close(ends, torch.tensor([1.0, 0.0], dtype=torch.float64))


def test_gradcheck():
    disp = torch.rand(1, 1, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda d: disp_to_depth(d, 0.1, 100.0), (disp,))
    depth = (torch.rand(1, 1, 3, 4, dtype=torch.float64) * 10 + 1).requires_grad_()
    assert torch.autograd.gradcheck(lambda d: depth_to_disp(d, 0.1, 100.0), (depth,))


@pytest.mark.parametrize("low,high", [(0.0, 10.0), (5.0, 5.0), (10.0, 1.0)])
def test_bad_range_raises(low, high):
    with pytest.raises(ValueError, match="min_depth"):
        disp_to_depth(torch.zeros(1), low, high)
    with pytest.raises(ValueError, match="min_depth"):
        depth_to_disp(torch.ones(1), low, high)
