"""Pinhole camera geometry (OpenCV convention: x right, y down, z forward).

Pixel coordinates put the centre of the top-left pixel at (0, 0). Depth is metric z-depth
along the optical axis, in metres. Rigid transforms are [B, 4, 4] matrices; ``T_b_a`` maps
points expressed in frame ``a`` to frame ``b``.

Intrinsics follow the image through every resize, crop and flip with the functions below, the
one convention of the project (data loading, augmentation, the synthetic world's camera and the
Predictor's point clouds all call them). A resize maps pixel centres, u' = (u + 0.5) s - 0.5,
the convention of ``align_corners=False`` resizing and of OpenCV; Monodepth2 instead scales
normalised intrinsics linearly (cx' = cx s), which puts the principal point (s - 1) / 2 pixels
away from where the resized image has it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from monodepthkit.errors import InputError, check_shape

Intrinsics = TypeVar("Intrinsics", np.ndarray, Tensor)


def pixel_grid(height: int, width: int, *, device=None, dtype=torch.float32) -> Tensor:
    """Homogeneous pixel coordinates of an image.

    Args:
        height: image height H in pixels.
        width: image width W in pixels.

    Returns:
        [3, H*W] rows (u, v, 1), u the column and v the row index, row-major order.
    """
    v, u = torch.meshgrid(
        torch.arange(height, device=device, dtype=dtype),
        torch.arange(width, device=device, dtype=dtype),
        indexing="ij",
    )
    return torch.stack([u.reshape(-1), v.reshape(-1), torch.ones_like(u).reshape(-1)], dim=0)


def backproject_depth(depth: Tensor, K: Tensor) -> Tensor:
    """Lift every pixel to a 3D point in the camera frame.

    Args:
        depth: [B, 1, H, W] z-depth in metres.
        K: [B, 3, 3] intrinsics in pixels of this resolution.

    Returns:
        [B, 3, H*W] points (x, y, z) in metres, z equal to ``depth``.
    """
    check_shape(depth, "B 1 H W", "backproject_depth: depth")
    if K.shape[-2:] != (3, 3) or K.shape[0] != depth.shape[0]:
        raise InputError(
            f"K must have shape [B, 3, 3] with B={depth.shape[0]}, got {tuple(K.shape)}"
        )
    batch, _, height, width = depth.shape
    pixels = pixel_grid(height, width, device=depth.device, dtype=depth.dtype)
    rays = torch.linalg.inv(K.to(depth.dtype)) @ pixels.unsqueeze(0)  # [B, 3, HW], z = 1
    return rays * depth.reshape(batch, 1, -1)


def transform_points(T: Tensor, points: Tensor) -> Tensor:
    """Apply a rigid transform.

    Args:
        T: [B, 4, 4] transform ``T_b_a``.
        points: [B, 3, N] points in frame ``a``.

    Returns:
        [B, 3, N] the same points in frame ``b``.
    """
    return T[:, :3, :3] @ points + T[:, :3, 3:4]


def project_points(points: Tensor, K: Tensor, eps: float = 1e-7) -> tuple[Tensor, Tensor]:
    """Project camera-frame points to pixels.

    Args:
        points: [B, 3, N] points in metres in the camera frame.
        K: [B, 3, 3] intrinsics in pixels.
        eps: smallest z used in the division, to stay finite behind the camera.

    Returns:
        (pixels [B, 2, N] as (u, v) in pixels, z [B, 1, N] in metres).
    """
    projected = K @ points
    z = projected[:, 2:3]
    return projected[:, :2] / z.clamp(min=eps), points[:, 2:3]


def invert_transform(T: Tensor) -> Tensor:
    """Invert rigid transforms exactly (R^T, -R^T t).

    Args:
        T: [B, 4, 4] rigid transforms.

    Returns:
        [B, 4, 4] inverses.
    """
    R = T[:, :3, :3]
    t = T[:, :3, 3:4]
    inverse = torch.zeros_like(T)
    inverse[:, :3, :3] = R.transpose(1, 2)
    inverse[:, :3, 3:4] = -R.transpose(1, 2) @ t
    inverse[:, 3, 3] = 1.0
    return inverse


def scale_intrinsics(K: Intrinsics, from_size: Sequence[int], to_size: Sequence[int]) -> Intrinsics:
    """Intrinsics after resizing an image from ``from_size`` to ``to_size``.

    A pixel coordinate maps as u' = (u + 0.5) sx - 0.5 (pixel centres at integers, the
    ``align_corners=False`` convention), so fx, skew and cx scale with sx = W' / W and fy, cy
    with sy = H' / H, and the principal point also moves by (s - 1) / 2 pixels.

    Args:
        K: [..., 3, 3] intrinsics in pixels of a ``from_size`` image: a numpy array (returned
            as a float64 copy) or a tensor (returned as a new tensor of its dtype and device,
            e.g. a batch [B, 3, 3]).
        from_size: (H, W) in pixels of the image K belongs to.
        to_size: (H', W') in pixels after resizing.

    Returns:
        [..., 3, 3] intrinsics in pixels of a ``to_size`` image.
    """
    sy, sx = to_size[0] / from_size[0], to_size[1] / from_size[1]
    K = _copy(K)
    K[..., 0, 0] *= sx
    K[..., 1, 1] *= sy
    K[..., 0, 1] *= sx
    K[..., 0, 2] = (K[..., 0, 2] + 0.5) * sx - 0.5
    K[..., 1, 2] = (K[..., 1, 2] + 0.5) * sy - 0.5
    return K


def crop_intrinsics(K: Intrinsics, top: float, left: float) -> Intrinsics:
    """Intrinsics of the window of an image whose top-left pixel is (``left``, ``top``).

    Args:
        K: [..., 3, 3] intrinsics in pixels (numpy array or tensor; a copy is returned).
        top: first row of the window, pixels (may be fractional or negative: padding).
        left: first column of the window, pixels.

    Returns:
        [..., 3, 3] intrinsics with (cx, cy) shifted by (-left, -top).
    """
    K = _copy(K)
    K[..., 0, 2] -= left
    K[..., 1, 2] -= top
    return K


def flip_intrinsics(K: Intrinsics, width: int) -> Intrinsics:
    """Intrinsics of an image mirrored left-right: cx' = W - 1 - cx and the skew negated.

    Args:
        K: [..., 3, 3] intrinsics in pixels (numpy array or tensor; a copy is returned).
        width: image width W in pixels.

    Returns:
        [..., 3, 3] intrinsics of the mirrored image.
    """
    K = _copy(K)
    K[..., 0, 2] = width - 1 - K[..., 0, 2]
    K[..., 0, 1] = -K[..., 0, 1]
    return K


def _copy(K: Intrinsics) -> Intrinsics:
    K = K.clone() if isinstance(K, Tensor) else np.array(K, dtype=np.float64, copy=True)
    check_shape(K, "... 3 3", "K")
    return K
