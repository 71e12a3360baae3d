import math

import pytest
import torch
from scipy.spatial.transform import Rotation

from monodepthkit.errors import MdkError
from monodepthkit.geometry import (
    axis_angle_to_matrix,
    invert_transform,
    transformation_from_parameters,
)


def _random_axis_angle(count: int, seed: int = 0, max_angle: float = 3.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(
        torch.randn(count, 3, generator=generator, dtype=torch.float64), dim=-1
    )
    angle = torch.rand(count, 1, generator=generator, dtype=torch.float64) * max_angle
    return axis * angle


def test_rotation_matches_scipy_rotvec():
    axis_angle = _random_axis_angle(32)
    expected = torch.from_numpy(Rotation.from_rotvec(axis_angle.numpy()).as_matrix())
    torch.testing.assert_close(axis_angle_to_matrix(axis_angle), expected)


def test_rotation_about_z_by_hand():
    angle = 0.3
    R = axis_angle_to_matrix(torch.tensor([0.0, 0.0, angle], dtype=torch.float64))
    c, s = math.cos(angle), math.sin(angle)
    expected = torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=torch.float64)
    torch.testing.assert_close(R, expected)
    # Right-hand rule: the x axis turns towards the y axis.
    torch.testing.assert_close(R @ torch.tensor([1.0, 0, 0], dtype=torch.float64), expected[:, 0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rotations_are_orthonormal_with_unit_determinant(dtype):
    axis_angle = torch.cat(
        [_random_axis_angle(64, seed=1), _random_axis_angle(8, seed=2, max_angle=1e-4)]
    ).to(dtype)
    R = axis_angle_to_matrix(axis_angle)
    eye = torch.eye(3, dtype=dtype).expand_as(R)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(R.transpose(-1, -2) @ R, eye, atol=tol, rtol=0)
    torch.testing.assert_close(
        torch.linalg.det(R), torch.ones(len(R), dtype=dtype), atol=tol, rtol=0
    )


def test_leading_dimensions_are_kept():
    axis_angle = _random_axis_angle(6).reshape(2, 3, 3)
    R = axis_angle_to_matrix(axis_angle)
    assert R.shape == (2, 3, 3, 3)
    torch.testing.assert_close(R[1, 2], axis_angle_to_matrix(axis_angle[1, 2]))


def test_zero_angle_is_identity_with_finite_generator_gradient():
    axis_angle = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    R = axis_angle_to_matrix(axis_angle)
    torch.testing.assert_close(R, torch.eye(3, dtype=torch.float64)[None])
    # dR/dw_z at 0 is the generator of rotations about z: [[0,-1,0],[1,0,0],[0,0,0]].
    (gradient,) = torch.autograd.grad(R[0, 1, 0] - R[0, 0, 1], axis_angle)
    torch.testing.assert_close(gradient, torch.tensor([[0.0, 0.0, 2.0]], dtype=torch.float64))


@pytest.mark.parametrize("angle", [1e-8, 1e-5, 9e-4, 1.1e-3, 1e-2])
def test_small_angles_match_first_and_second_order(angle):
    axis = torch.nn.functional.normalize(torch.tensor([0.3, -0.5, 0.8], dtype=torch.float64), dim=0)
    w = axis * angle
    R = axis_angle_to_matrix(w)
    expected = torch.from_numpy(Rotation.from_rotvec(w.numpy()).as_matrix())
    torch.testing.assert_close(R, expected, atol=1e-15, rtol=0)
    skew = torch.tensor([[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]], dtype=torch.float64)
    first_order = torch.eye(3, dtype=torch.float64) + skew
    assert (R - first_order).abs().max() <= angle**2  # the remainder is second order


def test_axis_angle_gradcheck_float64():
    axis_angle = torch.cat(
        [_random_axis_angle(4, seed=3), torch.tensor([[1e-4, -2e-4, 5e-5], [0.0, 0.0, 0.0]])]
    ).requires_grad_(True)
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (axis_angle,))


@pytest.mark.parametrize("invert", [False, True])
def test_transformation_gradcheck_float64(invert):
    axis_angle = _random_axis_angle(3, seed=4, max_angle=0.5).requires_grad_(True)
    translation = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, t: transformation_from_parameters(a, t, invert=invert), (axis_angle, translation)
    )


def _monodepth2_composition(axis_angle, translation, invert):
    """The paper code's composition written out: M = T(t) @ R, or R^T @ T(-t) when inverted."""
    batch = len(axis_angle)
    R4 = torch.eye(4, dtype=torch.float64).repeat(batch, 1, 1)
    R4[:, :3, :3] = torch.from_numpy(Rotation.from_rotvec(axis_angle.numpy()).as_matrix())
    t = translation.clone()
    if invert:
        R4 = R4.transpose(1, 2)
        t = -t
    T4 = torch.eye(4, dtype=torch.float64).repeat(batch, 1, 1)
    T4[:, :3, 3] = t
    return R4 @ T4 if invert else T4 @ R4


@pytest.mark.parametrize("invert", [False, True])
def test_transformation_parity_with_monodepth2_composition(invert):
    axis_angle = _random_axis_angle(16, seed=5)
    translation = torch.randn(
        16, 3, generator=torch.Generator().manual_seed(6), dtype=torch.float64
    )
    torch.testing.assert_close(
        transformation_from_parameters(axis_angle, translation, invert=invert),
        _monodepth2_composition(axis_angle, translation, invert),
    )


def test_transformation_rotates_then_translates():
    axis_angle = torch.tensor([[0.0, 0.0, math.pi / 2]], dtype=torch.float64)
    translation = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    M = transformation_from_parameters(axis_angle, translation)
    point = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    # R maps x to y, then t is added: (0, 1, 0) + (1, 2, 3).
    torch.testing.assert_close(
        M[0] @ point, torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
    )
    assert M[0, 3].tolist() == [0.0, 0.0, 0.0, 1.0]


def test_invert_gives_the_inverse_transform():
    axis_angle = _random_axis_angle(8, seed=7)
    translation = torch.randn(8, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    forward = transformation_from_parameters(axis_angle, translation)
    backward = transformation_from_parameters(axis_angle, translation, invert=True)
    eye = torch.eye(4, dtype=torch.float64).expand(8, 4, 4)
    torch.testing.assert_close(backward @ forward, eye)
    torch.testing.assert_close(forward @ backward, eye)
    torch.testing.assert_close(backward, invert_transform(forward))


def test_zero_parameters_give_identity():
    zeros = torch.zeros(2, 3)
    for invert in (False, True):
        torch.testing.assert_close(
            transformation_from_parameters(zeros, zeros, invert=invert),
            torch.eye(4).expand(2, 4, 4),
        )


def test_bad_shapes_raise_clear_errors():
    with pytest.raises(MdkError, match=r"axis_angle must have shape \[\.\.\., 3\].*\(2, 4\)"):
        axis_angle_to_matrix(torch.zeros(2, 4))
    with pytest.raises(MdkError, match=r"translation must have the shape.*\(2, 3\).*\(3, 3\)"):
        transformation_from_parameters(torch.zeros(2, 3), torch.zeros(3, 3))
