"""Geometric transforms that keep images, depth, intrinsics and poses consistent."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from monodepthkit.data.batch import IMAGE, INTRINSICS, NAME, SPEED


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an [H, W, C] image to ``size`` (height, width): area when shrinking, else bilinear."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    shrinking = height < image.shape[0] and width < image.shape[1]
    return cv2.resize(
        image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )


def resize_depth(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an [H, W] depth map with nearest neighbour, so 0 (no ground truth) never blends in."""
    height, width = size
    if depth.shape == (height, width):
        return depth
    return cv2.resize(depth, (width, height), interpolation=cv2.INTER_NEAREST)


def scale_intrinsics(
    K: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]
) -> np.ndarray:
    """Intrinsics after resizing an image from ``from_size`` to ``to_size`` ((H, W) in pixels).

    With pixel centres at integer coordinates, a coordinate maps as u' = (u + 0.5) * sx - 0.5.
    """
    sy, sx = to_size[0] / from_size[0], to_size[1] / from_size[1]
    K = np.array(K, dtype=np.float64, copy=True)
    K[0, 0] *= sx
    K[1, 1] *= sy
    K[0, 1] *= sx
    K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
    K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
    return K


# Mirroring the x axis: flipped-image transforms are F @ T @ F.
_FLIP_X = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=torch.float64))


def hflip_sample(sample: dict) -> dict:
    """Mirror a sample left-right, consistently for every key of the batch contract.

    Images and depth maps [C, H, W] are flipped along W; ``K`` gets cx' = W - 1 - cx; rigid
    transforms T become F T F with F = diag(-1, 1, 1, 1), which also flips the sign of a stereo
    baseline.
    """
    width = sample[IMAGE].shape[-1]
    out = {}
    for key, value in sample.items():
        if key in (NAME, SPEED):
            out[key] = value
        elif key == INTRINSICS:
            K = value.clone()
            K[0, 2] = width - 1 - K[0, 2]
            out[key] = K
        elif key.startswith("T_"):
            flip = _FLIP_X.to(value.dtype)
            out[key] = flip @ value @ flip
        else:  # images and depth maps
            out[key] = torch.flip(value, dims=[-1])
    return out


def to_image_tensor(image: np.ndarray) -> Tensor:
    """[H, W, 3] uint8 -> [3, H, W] float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)


def to_depth_tensor(depth: np.ndarray) -> Tensor:
    """[H, W] metres -> [1, H, W] float32 metres."""
    return torch.from_numpy(np.ascontiguousarray(depth, dtype=np.float32)).unsqueeze(0)


__all__ = [
    "hflip_sample",
    "resize_depth",
    "resize_image",
    "scale_intrinsics",
    "to_depth_tensor",
    "to_image_tensor",
]
