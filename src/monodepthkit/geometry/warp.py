"""Inverse warping: synthesise the target view by sampling a source view."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from monodepthkit.geometry.camera import backproject_depth, project_points, transform_points


def warp_to_target(
    source: Tensor, depth_target: Tensor, T_source_target: Tensor, K: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Reconstruct the target image from a source image, target depth and relative pose.

    Each target pixel is lifted with its depth, moved into the source camera, projected and
    sampled bilinearly (border padding). Both views share the intrinsics ``K``.

    Args:
        source: [B, C, H, W] source image.
        depth_target: [B, 1, H, W] target z-depth in metres.
        T_source_target: [B, 4, 4] maps target-camera points to source-camera points.
        K: [B, 3, 3] intrinsics in pixels.

    Returns:
        (warped [B, C, H, W], inside [B, 1, H, W] bool: projects in front of the source camera
        and inside its image, source_z [B, 1, H, W] the point's depth in the source camera in
        metres, for occlusion tests).
    """
    batch, _, height, width = source.shape
    points = transform_points(T_source_target, backproject_depth(depth_target, K))
    pixels, z = project_points(points, K)
    u = pixels[:, 0].reshape(batch, height, width)
    v = pixels[:, 1].reshape(batch, height, width)
    # grid_sample with align_corners=True maps -1 / +1 to the centres of the border pixels.
    grid = torch.stack([2 * u / (width - 1) - 1, 2 * v / (height - 1) - 1], dim=-1)
    warped = F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=True)
    z = z.reshape(batch, 1, height, width)
    # A small tolerance keeps border pixels that land a rounding error outside the image.
    tol = 1e-3
    in_image = (u >= -tol) & (u <= width - 1 + tol) & (v >= -tol) & (v <= height - 1 + tol)
    inside = (z > 0) & in_image.unsqueeze(1)
    return warped, inside, z
