"""Pure, differentiable camera geometry: backprojection, projection, rigid transforms, warping."""

from monodepthkit.geometry.camera import (
    backproject_depth,
    invert_transform,
    pixel_grid,
    project_points,
    transform_points,
)
from monodepthkit.geometry.warp import warp_to_target

__all__ = [
    "backproject_depth",
    "invert_transform",
    "pixel_grid",
    "project_points",
    "transform_points",
    "warp_to_target",
]
