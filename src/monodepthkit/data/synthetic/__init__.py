"""Procedural synthetic RGB-D world with exact metric depth, intrinsics and camera poses.

Two presets are ray cast with vectorised numpy: ``driving`` (a curved street with building
facades, parked and stopped vehicles, poles, trees and sky; KITTI-like camera) and ``indoor``
(furnished rooms seen from a hand-held camera; NYU-like camera). Every sequence is its own random
scene with a smooth camera trajectory, and everything is deterministic given
``(seed, sequence_index)``.

Conventions match :mod:`monodepthkit.geometry`: OpenCV camera axes (x right, y down, z forward),
the centre of the top-left pixel at (0, 0), depth is z along the optical axis in metres. The world
frame is y-down as well (gravity along +y, the ground at y = 0), poses are 4x4 camera-to-world.
A pixel's ray is ``d_c = K^-1 [u, v, 1]`` (z = 1), so the ray parameter of a hit is its z-depth.

Appearance is a function of the world surface point only (procedural textures, Lambertian
shading with one light per scene), so a point looks the same from every view; the sky depends
on the ray direction only and has no depth. High-frequency texture detail is faded to its mean
(or box-filtered analytically) once a pixel's footprint on the surface exceeds the feature size.

Output folders follow the generic format documented in :mod:`monodepthkit.data.io`.

Modules, in data-flow order: `presets` (cameras, depth ranges, frame rates), `scenes` (random
scene descriptions and camera paths), `textures` (procedural albedo), `render` (the ray caster
and shader), `world` (`generate_world` with its folder cache, `render_sequence`).
"""

from monodepthkit.data.synthetic.presets import GENERATOR_VERSION, PRESETS, SyntheticPreset
from monodepthkit.data.synthetic.world import generate_world, render_sequence

__all__ = ["GENERATOR_VERSION", "PRESETS", "SyntheticPreset", "generate_world", "render_sequence"]
