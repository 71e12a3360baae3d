import math

import pytest
import torch

from monodepthkit.geometry import (
    backproject_depth,
    invert_transform,
    pixel_grid,
    project_points,
    transform_points,
    warp_to_target,
)


def _K(batch=1, dtype=torch.float64):
    K = torch.tensor([[50.0, 0.0, 15.5], [0.0, 55.0, 11.5], [0.0, 0.0, 1.0]], dtype=dtype)
    return K.repeat(batch, 1, 1)


def _transform(angle=0.1, t=(0.2, -0.1, 0.5), dtype=torch.float64):
    c, s = math.cos(angle), math.sin(angle)
    T = torch.eye(4, dtype=dtype)
    T[:3, :3] = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=dtype)
    T[:3, 3] = torch.tensor(t, dtype=dtype)
    return T[None]


def test_pixel_grid_order():
    grid = pixel_grid(2, 3)
    assert grid.shape == (3, 6)
    assert grid[:, 4].tolist() == [1.0, 1.0, 1.0]  # row 1, column 1


def test_backproject_then_project_is_identity():
    depth = torch.rand(2, 1, 24, 32, dtype=torch.float64) * 10 + 1
    points = backproject_depth(depth, _K(2))
    torch.testing.assert_close(points[:, 2:3].reshape(2, 1, 24, 32), depth)
    pixels, _ = project_points(points, _K(2))
    torch.testing.assert_close(
        pixels, pixel_grid(24, 32, dtype=torch.float64)[:2].expand(2, -1, -1)
    )


def test_backproject_known_point():
    depth = torch.zeros(1, 1, 24, 32, dtype=torch.float64)
    depth[0, 0, 3, 20] = 4.0
    point = backproject_depth(depth, _K())[0, :, 3 * 32 + 20]
    torch.testing.assert_close(
        point, torch.tensor([(20 - 15.5) * 4 / 50, (3 - 11.5) * 4 / 55, 4.0], dtype=torch.float64)
    )


def test_invert_transform():
    T = _transform()
    torch.testing.assert_close(invert_transform(T) @ T, torch.eye(4, dtype=torch.float64)[None])
    points = torch.rand(1, 3, 5, dtype=torch.float64)
    torch.testing.assert_close(
        transform_points(invert_transform(T), transform_points(T, points)), points
    )


def test_warp_with_identity_pose_reproduces_source():
    source = torch.rand(1, 3, 24, 32, dtype=torch.float64)
    depth = torch.full((1, 1, 24, 32), 5.0, dtype=torch.float64)
    warped, inside, _ = warp_to_target(source, depth, torch.eye(4, dtype=torch.float64)[None], _K())
    torch.testing.assert_close(warped, source)
    assert inside.all() and inside.shape == (1, 1, 24, 32)


def test_warp_pure_translation_shifts_by_disparity():
    # A fronto-parallel plane at z seen by a camera moved by b along x shifts by fx * b / z pixels.
    source = torch.arange(32, dtype=torch.float64).repeat(1, 1, 24, 1)
    depth = torch.full((1, 1, 24, 32), 10.0, dtype=torch.float64)
    T = torch.eye(4, dtype=torch.float64)[None]
    T[0, 0, 3] = -0.4  # camera at +0.4 m: points move by -0.4 m in its frame
    warped, inside, _ = warp_to_target(source, depth, T, _K())
    shift = 50.0 * 0.4 / 10.0  # 2 pixels
    expected = torch.arange(32, dtype=torch.float64) - shift
    valid = inside[0, 0, 0]
    torch.testing.assert_close(warped[0, 0, 0][valid], expected[valid])
    assert not valid[:2].any() and valid[2:].all()


@pytest.mark.parametrize("which", ["depth", "transform"])
def test_warp_gradcheck(which):
    source = torch.rand(1, 2, 5, 6, dtype=torch.float64)
    depth = (torch.rand(1, 1, 5, 6, dtype=torch.float64) + 2).requires_grad_(which == "depth")
    # Offsets keep projections off integer pixel positions, where bilinear sampling has kinks.
    T = _transform(0.02, (0.011, 0.013, 0.02)).requires_grad_(which == "transform")
    K = torch.tensor([[[4.0, 0, 2.37], [0, 4.1, 2.21], [0, 0, 1]]], dtype=torch.float64)
    inputs = (depth,) if which == "depth" else (T,)

    def fn(x):
        d, t = (x, T) if which == "depth" else (depth, x)
        return warp_to_target(source, d, t, K)[0]

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5)
