"""Pure, differentiable camera geometry: backprojection, projection, rigid transforms, warping."""

from monodepthkit.geometry.camera import (
    backproject_depth,
    crop_intrinsics,
    flip_intrinsics,
    invert_transform,
    pixel_grid,
    project_points,
    scale_intrinsics,
    transform_points,
)
from monodepthkit.geometry.disparity import depth_to_disp, disp_to_depth, mean_inverse_depth
from monodepthkit.geometry.pose import axis_angle_to_matrix, transformation_from_parameters
from monodepthkit.geometry.warp import warp_to_target

__all__ = [
    "axis_angle_to_matrix",
    "backproject_depth",
    "crop_intrinsics",
    "depth_to_disp",
    "disp_to_depth",
    "flip_intrinsics",
    "invert_transform",
    "mean_inverse_depth",
    "pixel_grid",
    "project_points",
    "scale_intrinsics",
    "transform_points",
    "transformation_from_parameters",
    "warp_to_target",
]
