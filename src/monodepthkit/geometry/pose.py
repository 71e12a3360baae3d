"""Rigid transforms from pose-network parameters (axis-angle rotation + translation).

Conventions follow `monodepthkit.geometry.camera`: transforms are 4x4 matrices and ``T_b_a``
maps points expressed in frame ``a`` to frame ``b``. Angles are in radians, translations in the
(unknown, for self-supervision) units of the depth.
"""

from __future__ import annotations

import torch
from torch import Tensor

from monodepthkit.errors import InputError, check_shape

# Below this squared angle (rad^2) the Rodrigues coefficients use their Taylor series (error
# below 1e-13): the closed forms divide by the angle, which is undefined at zero.
_SMALL_ANGLE_SQ = 1e-6


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """Rotation matrices from axis-angle vectors (Rodrigues' formula).

    The vector's direction is the rotation axis and its norm the angle in radians (right-hand
    rule). ``R = I + sin(t)/t * S + (1 - cos(t))/t^2 * S^2`` with ``S`` the cross-product matrix
    of the vector and ``t`` its norm; near ``t = 0`` both coefficients use their Taylor series, so
    the result and its gradient are exact and finite at zero (the gradient there is ``S``'s).

    Args:
        axis_angle: [..., 3] rotation vectors in radians.

    Returns:
        [..., 3, 3] rotation matrices (orthonormal, determinant 1).
    """
    check_shape(axis_angle, "... 3", "axis_angle")
    theta_sq = (axis_angle * axis_angle).sum(dim=-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    # Evaluate the closed forms on a safe angle only, so that the branch torch.where does not
    # take cannot produce NaN gradients.
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    safe_theta = safe_sq.sqrt()
    sin_coeff = torch.where(small, 1.0 - theta_sq / 6.0, torch.sin(safe_theta) / safe_theta)
    # (1 - cos t) / t^2 written as 2 sin^2(t/2) / t^2, which does not cancel catastrophically.
    half_sinc = torch.sin(safe_theta / 2) / (safe_theta / 2)
    cos_coeff = torch.where(small, 0.5 - theta_sq / 24.0, 0.5 * half_sinc * half_sinc)

    skew = _cross_product_matrix(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + sin_coeff[..., None, None] * skew + cos_coeff[..., None, None] * (skew @ skew)


def transformation_from_parameters(
    axis_angle: Tensor, translation: Tensor, invert: bool = False
) -> Tensor:
    """The 4x4 transform a pose network's outputs stand for (Monodepth2 composition).

    Without ``invert`` the rotation is applied first, then the translation: ``M = T(t) @ R``,
    i.e. ``[[R, t], [0, 1]]``. With ``invert`` the result is the exact inverse of that transform,
    built as Monodepth2 builds it: ``M = R^T @ T(-t)``, i.e. ``[[R^T, -R^T t], [0, 1]]``.

    Args:
        axis_angle: [B, 3] rotation vectors in radians (any leading dims are accepted).
        translation: [B, 3] translations, same leading dims as ``axis_angle``.
        invert: return the inverse transform (Monodepth2 uses it when the pose network saw the
            frame pair in reverse temporal order).

    Returns:
        [B, 4, 4] rigid transforms.
    """
    if translation.shape != axis_angle.shape:
        raise InputError(
            f"translation must have the shape of axis_angle {tuple(axis_angle.shape)} "
            f"([B, 3]), got {tuple(translation.shape)}"
        )
    rotation = axis_angle_to_matrix(axis_angle)
    if invert:
        rotation = rotation.transpose(-1, -2)
        translation = -translation
    rotation_h = _homogeneous(rotation, torch.zeros_like(translation))
    translation_h = _homogeneous(
        torch.eye(3, dtype=rotation.dtype, device=rotation.device).expand_as(rotation),
        translation,
    )
    if invert:
        return rotation_h @ translation_h
    return translation_h @ rotation_h


def _cross_product_matrix(vector: Tensor) -> Tensor:
    """[..., 3] -> [..., 3, 3] matrix ``S`` with ``S @ w == cross(vector, w)``."""
    x, y, z = vector.unbind(dim=-1)
    zero = torch.zeros_like(x)
    return torch.stack(
        [
            torch.stack([zero, -z, y], dim=-1),
            torch.stack([z, zero, -x], dim=-1),
            torch.stack([-y, x, zero], dim=-1),
        ],
        dim=-2,
    )


def _homogeneous(rotation: Tensor, translation: Tensor) -> Tensor:
    """[..., 3, 3] rotation and [..., 3] translation -> [..., 4, 4] ``[[R, t], [0, 1]]``."""
    top = torch.cat([rotation, translation.unsqueeze(-1)], dim=-1)
    bottom = torch.zeros_like(top[..., :1, :])
    bottom[..., 0, 3] = 1.0
    return torch.cat([top, bottom], dim=-2)
