"""The synthetic presets: each world's camera, depth range and frame rate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monodepthkit.geometry.camera import scale_intrinsics

GENERATOR_VERSION = 2
"""Bumped whenever the rendered output changes, so cached worlds are not silently reused."""


@dataclass(frozen=True)
class SyntheticPreset:
    """A synthetic world's camera, depth range and frame rate.

    Attributes:
        name: preset name (key in :data:`PRESETS`).
        width: default image width in pixels.
        height: default image height in pixels.
        min_depth: smallest depth the scene is built to produce, metres.
        max_depth: depths beyond this are written as 0 (invalid), metres.
        stereo_baseline: distance of the right camera along the left camera's +x axis, metres.
        fps: frames per second of the trajectories.
        frames_per_sequence: default number of frames per sequence.
        intrinsics: (fx, fy, cx, cy) in pixels at ``reference_size``; other image sizes get K
            from `monodepthkit.geometry.camera.scale_intrinsics` (pixel centres map).
        reference_size: (width, height) in pixels at which ``intrinsics`` are given.
    """

    name: str
    width: int
    height: int
    min_depth: float
    max_depth: float
    stereo_baseline: float
    fps: float
    frames_per_sequence: int
    intrinsics: tuple[float, float, float, float]
    reference_size: tuple[int, int]

    def camera_matrix(self, width: int, height: int) -> np.ndarray:
        """Intrinsics for an image size.

        Args:
            width: image width W in pixels.
            height: image height H in pixels.

        Returns:
            [3, 3] float64 K in pixels of a W x H image.
        """
        fx, fy, cx, cy = self.intrinsics
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        reference_width, reference_height = self.reference_size
        return scale_intrinsics(K, (reference_height, reference_width), (height, width))


PRESETS: dict[str, SyntheticPreset] = {
    "driving": SyntheticPreset(
        name="driving",
        width=416,
        height=128,
        min_depth=1.0,
        max_depth=80.0,
        stereo_baseline=0.54,
        fps=10.0,
        frames_per_sequence=30,
        # monodepth2's normalised KITTI intrinsics (fx = 0.58 W, fy = 1.92 H, cx = W / 2,
        # cy = H / 2) at the default 416 x 128.
        intrinsics=(0.58 * 416, 1.92 * 128, 208.0, 64.0),
        reference_size=(416, 128),
    ),
    "indoor": SyntheticPreset(
        name="indoor",
        width=320,
        height=240,
        min_depth=0.5,
        max_depth=10.0,
        stereo_baseline=0.075,
        fps=30.0,
        frames_per_sequence=30,
        # The Kinect colour camera of NYU Depth v2 at 640x480.
        intrinsics=(518.8579, 519.4696, 325.5824, 253.7362),
        reference_size=(640, 480),
    ),
}
