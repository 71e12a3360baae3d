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
"""

from __future__ import annotations

import json
import math
import multiprocessing
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monodepthkit.data.io import (
    DEPTH_SCALE,
    META_FILE,
    read_meta,
    write_depth_png,
    write_matrix,
    write_rgb,
)
from monodepthkit.errors import MdkError
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

_MAX_SIZE = 8192
_MIN_SIZE = 16
_CACHE_KEYS = (
    "preset",
    "seed",
    "num_sequences",
    "frames_per_sequence",
    "width",
    "height",
    "stereo",
    "generator_version",
)
_INCOMPLETE_MARKER = ".synthetic_incomplete"


def generate_world(
    out: str | Path,
    preset: str = "driving",
    num_sequences: int = 20,
    frames_per_sequence: int = 30,
    seed: int = 0,
    width: int | None = None,
    height: int | None = None,
    stereo: bool = False,
    workers: int = 2,
    progress: bool = True,
) -> Path:
    """Render a synthetic world and write it in the generic folder format.

    Writes ``seq_0000/ ... seq_{n-1}/`` (``image/``, ``depth/``, optional ``image_right/`` and
    ``depth_right/``, ``intrinsics.txt``, ``poses.txt``, ``timestamps.txt``, ``stereo.txt``),
    ``splits/{train,val,test}.txt`` (whole sequences: the last ~10% test, the ~10% before val,
    at least one each from three sequences on) and ``meta.json`` last. A folder whose
    ``meta.json`` records the same parameters is returned at once (cache hit).

    Args:
        out: output folder; created if missing.
        preset: ``"driving"`` or ``"indoor"``.
        num_sequences: number of sequences, each a new random scene.
        frames_per_sequence: frames per sequence.
        seed: world seed; sequence ``i`` is seeded with ``(seed, i)``.
        width: image width in pixels (preset default when None).
        height: image height in pixels (preset default when None).
        stereo: also render the right camera of a stereo pair.
        workers: processes rendering sequences in parallel (1 renders in this process).
        progress: show a tqdm progress bar over frames.

    Returns:
        The output folder.

    Raises:
        MdkError: bad arguments, ``out`` holds a world made with other parameters, or ``out``
            is a non-empty folder that is not a synthetic world.
    """
    spec = _check_preset(preset)
    width, height = _check_size(spec, width, height)
    num_sequences = _check_count("num_sequences", num_sequences)
    frames_per_sequence = _check_count("frames_per_sequence", frames_per_sequence)
    workers = _check_count("workers", workers)
    seed = _check_seed(seed)
    out = Path(out)
    meta = {
        "preset": spec.name,
        "seed": seed,
        "num_sequences": num_sequences,
        "frames_per_sequence": frames_per_sequence,
        "width": width,
        "height": height,
        "stereo": bool(stereo),
        "min_depth": spec.min_depth,
        "max_depth": spec.max_depth,
        "depth_scale": DEPTH_SCALE,
        "fps": spec.fps,
        "stereo_baseline": spec.stereo_baseline,
        "generator": "monodepthkit.data.synthetic",
        "generator_version": GENERATOR_VERSION,
    }
    if _is_cached(out, meta):
        return out

    if (out / _INCOMPLETE_MARKER).exists():
        _remove_partial_world(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / _INCOMPLETE_MARKER).write_text("rendering in progress; rerun to start over\n")
    jobs = [
        (str(out), spec.name, seed, index, frames_per_sequence, width, height, bool(stereo))
        for index in range(num_sequences)
    ]
    bar = _progress_bar(progress, num_sequences * frames_per_sequence, spec.name)
    try:
        if workers == 1 or num_sequences == 1:
            for job in jobs:
                _write_sequence(*job, on_frame=bar.update if bar else None)
        else:
            # spawn: the caller may have started threads (torch), which fork does not survive.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(workers, num_sequences), mp_context=context) as pool:
                futures = [pool.submit(_write_sequence, *job) for job in jobs]
                for future in as_completed(futures):
                    future.result()
                    if bar:
                        bar.update(frames_per_sequence)
    finally:
        if bar:
            bar.close()

    _write_splits(out, num_sequences, frames_per_sequence)
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    (out / _INCOMPLETE_MARKER).unlink()
    return out


def render_sequence(
    preset: str,
    seed: int,
    sequence_index: int,
    num_frames: int,
    width: int | None = None,
    height: int | None = None,
    stereo: bool = False,
) -> dict:
    """Render one sequence in memory.

    Args:
        preset: ``"driving"`` or ``"indoor"``.
        seed: world seed.
        sequence_index: index of the sequence; the scene is seeded with ``(seed, index)``.
        num_frames: number of frames N.
        width: image width W in pixels (preset default when None).
        height: image height H in pixels (preset default when None).
        stereo: also render the right camera.

    Returns:
        A dict with ``images`` [N, H, W, 3] uint8 RGB, ``depths`` [N, H, W] float32 z-depth in
        metres (0 = sky, beyond ``max_depth`` or below ``min_depth``), ``K`` [3, 3] float64
        intrinsics in pixels, ``poses`` [N, 4, 4] float64 camera-to-world (metres),
        ``timestamps`` [N] float64 seconds; with ``stereo`` also ``images_right``,
        ``depths_right`` and ``T_right_left`` [4, 4] float64 (maps left-camera points to the
        right camera).

    Raises:
        MdkError: unknown preset or a bad size, frame count, seed or index.
    """
    spec = _check_preset(preset)
    width, height = _check_size(spec, width, height)
    num_frames = _check_count("num_frames", num_frames)
    seed = _check_seed(seed)
    sequence_index = _check_seed(sequence_index, "sequence_index")
    frames = list(_render_frames(spec, seed, sequence_index, num_frames, width, height, stereo))
    result = {
        "images": np.stack([frame["image"] for frame in frames]),
        "depths": np.stack([frame["depth"] for frame in frames]),
        "K": frames[0]["K"],
        "poses": np.stack([frame["pose"] for frame in frames]),
        "timestamps": np.array([frame["timestamp"] for frame in frames]),
    }
    if stereo:
        result["images_right"] = np.stack([frame["image_right"] for frame in frames])
        result["depths_right"] = np.stack([frame["depth_right"] for frame in frames])
        result["T_right_left"] = frames[0]["T_right_left"]
    return result


# ----------------------------------------------------------------------------- checks and I/O


def _check_preset(preset: str) -> SyntheticPreset:
    if preset not in PRESETS:
        raise MdkError(
            f"unknown synthetic preset {preset!r}; choose one of: {', '.join(sorted(PRESETS))}"
        )
    return PRESETS[preset]


def _check_size(spec: SyntheticPreset, width: int | None, height: int | None) -> tuple[int, int]:
    width = spec.width if width is None else width
    height = spec.height if height is None else height
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise MdkError(f"synthetic image {name} must be an integer, got {value!r}")
        if not _MIN_SIZE <= value <= _MAX_SIZE:
            raise MdkError(
                f"synthetic image {name} must be between {_MIN_SIZE} and {_MAX_SIZE} pixels, "
                f"got {value}"
            )
    return int(width), int(height)


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise MdkError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_seed(value: int, name: str = "seed") -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise MdkError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _is_cached(out: Path, meta: dict) -> bool:
    """True when ``out`` already holds this world; raises when it holds something else."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise MdkError(f"{out}: exists and is not a folder; choose another output folder")
    if (out / META_FILE).is_file() and not (out / _INCOMPLETE_MARKER).exists():
        existing = read_meta(out)
        differing = [key for key in _CACHE_KEYS if existing.get(key) != meta[key]]
        if not differing:
            return True
        details = ", ".join(
            f"{key}={existing.get(key)!r} (requested {meta[key]!r})" for key in differing
        )
        raise MdkError(
            f"{out}: already holds a synthetic world with different parameters: {details}; "
            "choose another output folder or delete this one"
        )
    if any(out.iterdir()) and not (out / _INCOMPLETE_MARKER).exists():
        raise MdkError(
            f"{out}: folder is not empty and holds no synthetic world (no {META_FILE}); "
            "choose an empty or new output folder"
        )
    return False


def _remove_partial_world(out: Path) -> None:
    """Delete what an interrupted run wrote (its marker proves the folder is ours)."""
    for path in out.iterdir():
        if path.is_dir() and (path.name.startswith("seq_") or path.name == "splits"):
            shutil.rmtree(path)
    (out / META_FILE).unlink(missing_ok=True)


def _progress_bar(progress: bool, total: int, name: str):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"synthetic {name}", unit="frame")


def _write_sequence(
    out: str,
    preset: str,
    seed: int,
    index: int,
    num_frames: int,
    width: int,
    height: int,
    stereo: bool,
    on_frame=None,
) -> None:
    """Render one sequence frame by frame and write it to ``out/seq_{index:04d}``."""
    folder = Path(out) / f"seq_{index:04d}"
    poses, timestamps = [], []
    for number, frame in enumerate(
        _render_frames(PRESETS[preset], seed, index, num_frames, width, height, stereo)
    ):
        stem = f"{number:06d}.png"
        write_rgb(folder / "image" / stem, frame["image"])
        write_depth_png(folder / "depth" / stem, frame["depth"], DEPTH_SCALE)
        if stereo:
            write_rgb(folder / "image_right" / stem, frame["image_right"])
            write_depth_png(folder / "depth_right" / stem, frame["depth_right"], DEPTH_SCALE)
            if number == 0:
                write_matrix(folder / "stereo.txt", frame["T_right_left"])
        if number == 0:
            write_matrix(folder / "intrinsics.txt", frame["K"])
        poses.append(frame["pose"][:3].reshape(12))
        timestamps.append(frame["timestamp"])
        if on_frame is not None:
            on_frame(1)
    write_matrix(folder / "poses.txt", np.stack(poses))
    write_matrix(folder / "timestamps.txt", np.array(timestamps)[:, None])


def _write_splits(out: Path, num_sequences: int, frames_per_sequence: int) -> None:
    """Split by whole sequences: the last ~10% test, the ~10% before them val, the rest train."""
    if num_sequences >= 3:
        held_out = max(1, round(0.1 * num_sequences))
        num_test = num_val = held_out
    else:
        num_test, num_val = 0, num_sequences - 1
    num_train = num_sequences - num_val - num_test
    ranges = {
        "train": range(0, num_train),
        "val": range(num_train, num_train + num_val),
        "test": range(num_train + num_val, num_sequences),
    }
    (out / "splits").mkdir(parents=True, exist_ok=True)
    for split, indices in ranges.items():
        lines = [
            f"seq_{index:04d} {frame:06d}\n"
            for index in indices
            for frame in range(frames_per_sequence)
        ]
        (out / "splits" / f"{split}.txt").write_text("".join(lines))


# ----------------------------------------------------------------------------- sequences


def _render_frames(
    spec: SyntheticPreset,
    seed: int,
    index: int,
    num_frames: int,
    width: int,
    height: int,
    stereo: bool,
) -> Iterator[dict]:
    """Yield one dict per frame (image, depth, pose, timestamp, K and the stereo partner)."""
    rng = np.random.default_rng([seed, index])
    build = _build_driving if spec.name == "driving" else _build_indoor
    scene, poses = build(rng, num_frames, spec.fps)
    K = spec.camera_matrix(width, height)
    renderer = _Renderer(scene, K, width, height, spec.min_depth, spec.max_depth)
    T_right_left = np.eye(4)
    T_right_left[0, 3] = -spec.stereo_baseline
    right_from_left = np.linalg.inv(T_right_left)
    for number, pose in enumerate(poses):
        image, depth = renderer.render(pose)
        frame = {
            "image": image,
            "depth": depth,
            "pose": pose,
            "timestamp": number / spec.fps,
            "K": K,
        }
        if stereo:
            frame["image_right"], frame["depth_right"] = renderer.render(pose @ right_from_left)
            frame["T_right_left"] = T_right_left
        yield frame


def _camera_pose(yaw: float, pitch: float, roll: float, position: np.ndarray) -> np.ndarray:
    """Camera-to-world pose from heading angles (radians) and the centre (metres, world).

    Yaw turns the forward axis from +z towards +x (a right turn in the y-down world), positive
    pitch looks up, roll turns about the forward axis.
    """
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    R_yaw = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    R_pitch = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    R_roll = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    pose = np.eye(4)
    pose[:3, :3] = R_yaw @ R_pitch @ R_roll
    pose[:3, 3] = position
    return pose


# ----------------------------------------------------------------------------- scene description

# Box materials; the ground plane and the room have their own texture functions.
_FACADE, _VEHICLE, _POLE, _SIGN, _FOLIAGE, _FURNITURE = range(6)
# Per-box material parameters: colour A (3), colour B (3), four pattern numbers, noise seed,
# variant.
_NUM_PARAMS = 12


@dataclass
class _BoxList:
    """Yaw-rotated boxes resting in the world; local x/z axes follow the box's yaw."""

    centers: list = field(default_factory=list)
    halves: list = field(default_factory=list)
    yaws: list = field(default_factory=list)
    materials: list = field(default_factory=list)
    params: list = field(default_factory=list)

    def add(
        self,
        center: np.ndarray,
        half: tuple[float, float, float],
        yaw: float,
        material: int,
        colour_a,
        colour_b=(0.0, 0.0, 0.0),
        pattern=(0.0, 0.0, 0.0, 0.0),
        noise_seed: float = 0.0,
        variant: int = 0,
    ) -> None:
        self.centers.append(np.asarray(center, dtype=np.float64))
        self.halves.append(half)
        self.yaws.append(yaw)
        self.materials.append(material)
        self.params.append([*colour_a, *colour_b, *pattern, noise_seed, variant])

    def arrays(self) -> dict[str, np.ndarray]:
        count = len(self.centers)
        return {
            "center": np.array(self.centers, dtype=np.float64).reshape(count, 3),
            "half": np.array(self.halves, dtype=np.float64).reshape(count, 3),
            "yaw": np.array(self.yaws, dtype=np.float64).reshape(count),
            "material": np.array(self.materials, dtype=np.int32).reshape(count),
            "params": np.array(self.params, dtype=np.float32).reshape(count, _NUM_PARAMS),
        }


@dataclass
class _Scene:
    """Everything the renderer needs; all lengths in metres, world frame y-down."""

    boxes: dict[str, np.ndarray]
    light: np.ndarray  # [3] unit vector towards the light
    ambient: float
    diffuse: float
    road: dict | None = None  # driving: curved road on the ground plane y = 0
    room: dict | None = None  # indoor: room interior, bounds and surface styles
    sky: dict | None = None


# ----------------------------------------------------------------------------- driving scenes

_LANE_WIDTH = 3.5
_CURB = 5.6  # road + parking lane half width
_SIDEWALK = 8.2  # building line


def _build_driving(rng: np.random.Generator, num_frames: int, fps: float):
    """A curved street and a trajectory along it (right-hand traffic)."""
    frames = np.arange(num_frames, dtype=np.float64)
    mean_speed = rng.uniform(0.75, 1.05)  # metres per frame
    speed = mean_speed + rng.uniform(0.04, 0.12) * np.sin(
        2 * np.pi * frames / rng.uniform(40, 100) + rng.uniform(0, 2 * np.pi)
    )
    speed = np.clip(speed, 0.6, 1.2)
    arc = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    length = float(arc[-1])
    # A constant curvature keeps the camera turning every frame; long sequences turn less so
    # the street never closes on itself.
    turn_per_frame = math.radians(rng.uniform(0.7, 1.5))
    radius = float(np.clip(mean_speed / turn_per_frame, max(30.0, length / (0.75 * np.pi)), 5e3))
    curvature = rng.choice([-1.0, 1.0]) / radius
    heading0 = rng.uniform(-np.pi, np.pi)
    centre = _right(heading0) / curvature  # centre of curvature (x, z); the start is the origin

    sway_amplitude = rng.uniform(0.08, 0.25)
    sway_length = rng.uniform(40.0, 80.0)
    sway_phase = rng.uniform(0, 2 * np.pi)
    lane = _LANE_WIDTH / 2 + sway_amplitude * np.sin(2 * np.pi * arc / sway_length + sway_phase)
    lane_slope = (
        sway_amplitude
        * 2
        * np.pi
        / sway_length
        * np.cos(2 * np.pi * arc / sway_length + sway_phase)
    )
    heading = heading0 + curvature * arc
    yaw = heading + np.arctan(lane_slope)
    yaw += math.radians(0.3) * np.sin(2 * np.pi * frames / rng.uniform(15, 30) + rng.uniform(0, 6))
    pitch = math.radians(rng.uniform(-1.5, 0.5)) + math.radians(0.4) * np.sin(
        2 * np.pi * frames / rng.uniform(8, 20) + rng.uniform(0, 6)
    )
    roll = math.radians(0.4) * np.sin(2 * np.pi * frames / rng.uniform(10, 25) + rng.uniform(0, 6))
    camera_height = 1.65 + rng.uniform(-0.05, 0.05)
    bob = 0.01 * np.sin(2 * np.pi * frames / rng.uniform(5, 12) + rng.uniform(0, 6))

    def road_point(s, lateral):
        """World (x, z) of arc length s and lateral offset (metres, + = right of travel)."""
        psi = heading0 + curvature * s
        anchor = centre if np.ndim(s) == 0 else centre[:, None]
        return anchor + _right(psi) * (lateral - 1.0 / curvature), psi

    xz, _ = road_point(arc, lane)
    poses = [
        _camera_pose(
            yaw[i],
            pitch[i],
            roll[i],
            np.array([xz[0, i], -(camera_height + bob[i]), xz[1, i]]),
        )
        for i in range(num_frames)
    ]

    boxes = _BoxList()
    start = -35.0
    stop = min(length + 170.0, start + 0.9 * 2 * np.pi * radius)
    for side in (-1.0, 1.0):
        inner = side * curvature > 0  # the side facing the centre of curvature
        _street_buildings(rng, boxes, road_point, start, stop, side, inner, radius, back_row=False)
        _street_buildings(rng, boxes, road_point, start, stop, side, inner, radius, back_row=True)
        _street_furniture(rng, boxes, road_point, start, stop, side)
        _parked_vehicles(rng, boxes, road_point, start, stop, side)
    # Stopped traffic in the opposite lane, and in ours only beyond the end of the trajectory.
    _parked_vehicles(rng, boxes, road_point, start, stop, -_LANE_WIDTH / 2)
    _parked_vehicles(rng, boxes, road_point, length + 12.0, stop, _LANE_WIDTH / 2)

    elevation = math.radians(rng.uniform(25, 65))
    azimuth = rng.uniform(-np.pi, np.pi)
    light = np.array(
        [
            math.cos(elevation) * math.sin(azimuth),
            -math.sin(elevation),
            math.cos(elevation) * math.cos(azimuth),
        ]
    )
    road = {
        "centre": centre,
        "radius": radius,
        "curvature": curvature,
        "reference_angle": math.atan2(-centre[1], -centre[0]),  # angle of the origin (s = 0)
        "asphalt": _jitter(rng, (0.30, 0.30, 0.31), 0.04),
        "sidewalk": _jitter(rng, (0.60, 0.57, 0.52), 0.06),
        "verge": _jitter(rng, (0.30, 0.36, 0.20), 0.05),
        "tile": rng.uniform(0.3, 0.5),
        "dash": rng.uniform(2.0, 4.0),
        "dash_period": rng.uniform(8.0, 12.0),
        "noise_seed": rng.uniform(0, 100),
    }
    sky = {
        "horizon": _jitter(rng, (0.78, 0.84, 0.90), 0.04),
        "zenith": _jitter(rng, (0.32, 0.52, 0.85), 0.05),
        "cloud": rng.uniform(0.3, 0.8),
        "noise_seed": rng.uniform(0, 100),
    }
    scene = _Scene(
        boxes=boxes.arrays(),
        light=light,
        ambient=rng.uniform(0.45, 0.6),
        diffuse=rng.uniform(0.45, 0.6),
        road=road,
        sky=sky,
    )
    return scene, poses


def _right(heading):
    """World (x, z) unit vector to the right of a heading (radians); [2] or [2, N]."""
    return np.array([np.cos(heading), -np.sin(heading)])


def _jitter(rng: np.random.Generator, colour, amount: float) -> tuple[float, float, float]:
    values = np.clip(np.asarray(colour) + rng.uniform(-amount, amount, 3), 0.02, 0.98)
    return tuple(float(v) for v in values)


_FACADE_COLOURS = (
    (0.78, 0.72, 0.62),
    (0.86, 0.83, 0.76),
    (0.60, 0.62, 0.65),
    (0.56, 0.30, 0.22),
    (0.64, 0.40, 0.28),
    (0.50, 0.50, 0.47),
    (0.72, 0.58, 0.46),
    (0.55, 0.62, 0.70),
    (0.80, 0.70, 0.52),
)
_CAR_COLOURS = (
    (0.75, 0.08, 0.06),
    (0.10, 0.20, 0.55),
    (0.85, 0.85, 0.85),
    (0.12, 0.12, 0.13),
    (0.55, 0.57, 0.60),
    (0.10, 0.40, 0.20),
    (0.85, 0.65, 0.10),
    (0.40, 0.25, 0.15),
)


def _street_buildings(rng, boxes, road_point, start, stop, side, inner, radius, back_row):
    """Facade boxes along one side of the street, with set-backs and gaps."""
    cursor = start + rng.uniform(0, 6)
    while cursor < stop:
        if back_row:
            length = rng.uniform(15, 35)
            setback = rng.uniform(18, 35)
            depth = rng.uniform(10, 25)
            height = rng.uniform(12, 35)
        else:
            length = rng.uniform(8, 26)
            setback = rng.uniform(0, 4) if rng.random() < 0.7 else rng.uniform(4, 9)
            depth = rng.uniform(8, 18)
            height = rng.uniform(5, 24)
        near = _SIDEWALK + setback
        if inner:
            face_radius = radius - near
            if face_radius < 8:
                break
            # A straight facade on the inside of a curve bulges towards the road at its ends.
            length = min(length, math.sqrt(8 * face_radius * 0.8))
            depth = min(depth, face_radius - 4)
        if rng.random() < (0.1 if back_row else 0.22):
            cursor += rng.uniform(3, 14)  # a gap lets the back row and the sky through
            continue
        middle = cursor + length / 2
        point, heading = road_point(np.array(middle), side * (near + depth / 2))
        material = _facade_parameters(rng)
        boxes.add(
            (point[0], -height / 2, point[1]),
            (depth / 2, height / 2, length / 2),
            float(heading),
            _FACADE,
            **material,
        )
        cursor += length + rng.uniform(0.0, 1.5)


def _facade_parameters(rng) -> dict:
    colour = _jitter(rng, _FACADE_COLOURS[rng.integers(len(_FACADE_COLOURS))], 0.05)
    glass = _jitter(rng, (0.14, 0.18, 0.24), 0.05)
    floor_height = rng.uniform(2.9, 3.6)
    window_width = rng.uniform(0.9, 1.6)
    spacing = window_width + rng.uniform(0.8, 2.0)
    window_height = rng.uniform(1.2, min(1.9, floor_height - 0.9))
    return {
        "colour_a": colour,
        "colour_b": glass,
        "pattern": (floor_height, window_width, spacing, window_height),
        "noise_seed": rng.uniform(0, 100),
        "variant": int(rng.integers(3)),  # 0 plaster, 1 brick, 2 concrete panels
    }


def _street_furniture(rng, boxes, road_point, start, stop, side):
    """Poles (some with signs) near the curb and trees on the sidewalk."""
    cursor = start + rng.uniform(0, 10)
    while cursor < stop:
        point, heading = road_point(np.array(cursor), side * (_CURB + 0.35))
        height = rng.uniform(4.0, 8.0)
        grey = _jitter(rng, (0.50, 0.50, 0.52), 0.08)
        boxes.add(
            (point[0], -height / 2, point[1]),
            (0.09, height / 2, 0.09),
            float(heading),
            _POLE,
            grey,
            noise_seed=rng.uniform(0, 100),
        )
        if rng.random() < 0.4:
            colour = ((0.75, 0.1, 0.1), (0.1, 0.25, 0.7), (0.85, 0.7, 0.1))[rng.integers(3)]
            size = rng.uniform(0.3, 0.45)
            sign_height = rng.uniform(2.2, min(3.0, height - 0.4))
            boxes.add(
                (point[0], -sign_height, point[1]),
                (size, size, 0.03),
                float(heading),
                _SIGN,
                colour,
                (0.9, 0.9, 0.9),
                noise_seed=rng.uniform(0, 100),
            )
        cursor += rng.uniform(12, 30)
    cursor = start + rng.uniform(0, 15)
    while cursor < stop:
        if rng.random() < 0.5:
            point, heading = road_point(np.array(cursor), side * rng.uniform(6.8, 7.4))
            trunk = rng.uniform(2.5, 3.5)
            crown = rng.uniform(1.0, 1.5)
            boxes.add(
                (point[0], -trunk / 2, point[1]),
                (0.12, trunk / 2, 0.12),
                float(heading),
                _POLE,
                _jitter(rng, (0.35, 0.25, 0.16), 0.05),
                noise_seed=rng.uniform(0, 100),
            )
            boxes.add(
                (point[0], -(trunk + crown), point[1]),
                (crown, crown, crown),
                float(heading) + rng.uniform(-0.5, 0.5),
                _FOLIAGE,
                _jitter(rng, (0.22, 0.38, 0.14), 0.06),
                (0.10, 0.20, 0.06),
                noise_seed=rng.uniform(0, 100),
            )
        cursor += rng.uniform(8, 20)


def _parked_vehicles(rng, boxes, road_point, start, stop, lateral):
    """Static vehicles: a body box and a cabin box each.

    ``lateral`` is a side (+-1: the parking lanes) or a lane centre offset in metres.
    """
    parking = abs(lateral) == 1.0
    offset = lateral * (_CURB - 1.1) if parking else lateral
    cursor = start + rng.uniform(0, 8)
    while cursor < stop:
        if rng.random() < (0.55 if parking else 0.3):
            length = rng.uniform(3.8, 4.9)
            width = rng.uniform(1.65, 1.9)
            body = rng.uniform(0.7, 0.9)
            cabin = rng.uniform(0.45, 0.6)
            clearance = 0.12
            middle = cursor + length / 2
            point, heading = road_point(np.array(middle), offset + rng.uniform(-0.15, 0.15))
            yaw = float(heading) + math.radians(rng.uniform(-3, 3))
            if lateral < 0 and not parking:
                yaw += np.pi  # oncoming
            colour = _jitter(rng, _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))], 0.04)
            glass = _jitter(rng, (0.10, 0.12, 0.16), 0.03)
            seed = rng.uniform(0, 100)
            boxes.add(
                (point[0], -(clearance + body / 2), point[1]),
                (width / 2, body / 2, length / 2),
                yaw,
                _VEHICLE,
                colour,
                glass,
                (length, body + clearance, 0.0, 0.0),
                seed,
                0,
            )
            cabin_length = length * rng.uniform(0.45, 0.6)
            shift = -0.08 * length
            cabin_point = point + shift * np.array([math.sin(yaw), math.cos(yaw)])
            boxes.add(
                (cabin_point[0], -(clearance + body + cabin / 2), cabin_point[1]),
                (width / 2 - 0.1, cabin / 2, cabin_length / 2),
                yaw,
                _VEHICLE,
                colour,
                glass,
                (cabin_length, cabin, 0.0, 0.0),
                seed + 1,
                1,
            )
            cursor += length + rng.uniform(0.8, 3.0)
        else:
            cursor += rng.uniform(3, 12) if parking else rng.uniform(10, 40)


# ----------------------------------------------------------------------------- indoor scenes

_CLEARANCE = 0.75  # camera path to walls and furniture (horizontal), metres


def _build_indoor(rng: np.random.Generator, num_frames: int, fps: float):
    """A furnished room and a smooth hand-held trajectory through its free space."""
    width = rng.uniform(3.0, 8.0)  # along x
    length = rng.uniform(3.0, 8.0)  # along z
    ceiling = rng.uniform(2.5, 3.2)
    free_x = max(width / 2 - _CLEARANCE - 0.15, 0.2)
    free_z = max(length / 2 - _CLEARANCE - 0.15, 0.2)
    # The look direction follows the camera around a loop, so the loop's angular rate sets the
    # rotation between frames; a roughly round loop keeps that rate steady.
    orbit_rate = rng.uniform(0.5, 0.9)  # rad/s
    radius_x = min(rng.uniform(0.6, 1.5), free_x)
    radius_z = min(radius_x * rng.uniform(0.75, 1.33), free_z)
    radius_x = min(radius_x, 1.5 * radius_z)
    mean_radius = (radius_x + radius_z) / 2
    wobble = rng.uniform(0.0, 0.08)
    wobble_phase = rng.uniform(0, 2 * np.pi)
    centre = np.array([width / 2, length / 2])

    def path(theta):
        scale = 1 + wobble * np.sin(2 * theta + wobble_phase)
        return (
            centre[:, None] + np.array([radius_x * np.cos(theta), radius_z * np.sin(theta)]) * scale
        )

    speed = float(np.clip(orbit_rate * mean_radius, 0.45, 1.0)) / fps  # metres per frame
    direction = rng.choice([-1.0, 1.0])
    # Arc-length parametrise the loop so the camera moves at a steady pace.
    theta_fine = np.linspace(0, 2 * np.pi, 4097)
    points = path(theta_fine)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(points, axis=1)))])
    travelled = rng.uniform(0, arc[-1]) + direction * speed * np.arange(num_frames)
    theta = np.interp(np.mod(travelled, arc[-1]), arc, theta_fine)
    xz = path(theta)

    frames = np.arange(num_frames, dtype=np.float64)
    times = frames / fps
    # Look across the room at a target that swings around with the camera, and pan to and fro
    # around it, so consecutive frames differ by a clear rotation as well as a translation.
    gain = rng.uniform(1.5, 3.0)
    angle = rng.uniform(-0.5, 0.5)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    target = centre[:, None] + gain * (rotation @ (centre[:, None] - xz))
    yaw = np.unwrap(np.arctan2(target[0] - xz[0], target[1] - xz[1]))
    # Pan to and fro, never faster than half the loop's rate, so the rotation never stalls.
    period = rng.uniform(4, 7)
    sweep = 0.5 * (speed * fps / mean_radius) * period / (2 * np.pi)
    yaw += sweep * np.sin(2 * np.pi * times / period + rng.uniform(0, 6))
    pitch = rng.uniform(-0.3, 0.0) + 0.06 * np.sin(
        2 * np.pi * times / rng.uniform(2, 4) + rng.uniform(0, 6)
    )
    roll = 0.03 * np.sin(2 * np.pi * times / rng.uniform(3, 7) + rng.uniform(0, 6))
    height = rng.uniform(1.2, 1.6) + 0.02 * np.sin(
        2 * np.pi * times / rng.uniform(1.5, 3) + rng.uniform(0, 6)
    )
    poses = [
        _camera_pose(yaw[i], pitch[i], roll[i], np.array([xz[0, i], -height[i], xz[1, i]]))
        for i in range(num_frames)
    ]

    loop = path(np.linspace(0, 2 * np.pi, 256)).T  # [256, 2] keep-out samples
    boxes = _BoxList()
    _furnish(rng, boxes, width, length, loop)

    light = np.array([rng.uniform(-0.5, 0.5), -1.0, rng.uniform(-0.5, 0.5)])
    room = {
        "size": (width, ceiling, length),
        "walls": [
            _jitter(rng, _WALL_COLOURS[rng.integers(len(_WALL_COLOURS))], 0.04) for _ in range(4)
        ],
        "wall_variant": int(rng.integers(3)),  # 0 stucco, 1 stripes, 2 brick
        "stripe": rng.uniform(0.08, 0.3),
        "floor_variant": int(rng.integers(3)),  # 0 planks, 1 tiles, 2 carpet
        "floor": _jitter(rng, _FLOOR_COLOURS[rng.integers(len(_FLOOR_COLOURS))], 0.05),
        "plank": rng.uniform(0.12, 0.22),
        "tile": rng.uniform(0.3, 0.6),
        "ceiling": _jitter(rng, (0.86, 0.85, 0.82), 0.04),
        "noise_seed": rng.uniform(0, 100),
    }
    scene = _Scene(
        boxes=boxes.arrays(),
        light=light / np.linalg.norm(light),
        ambient=rng.uniform(0.5, 0.62),
        diffuse=rng.uniform(0.35, 0.5),
        room=room,
    )
    return scene, poses


_WALL_COLOURS = (
    (0.85, 0.82, 0.74),
    (0.72, 0.80, 0.78),
    (0.80, 0.70, 0.62),
    (0.65, 0.70, 0.80),
    (0.88, 0.88, 0.86),
    (0.78, 0.74, 0.56),
)
_FLOOR_COLOURS = ((0.55, 0.38, 0.22), (0.68, 0.52, 0.34), (0.45, 0.45, 0.46), (0.62, 0.58, 0.5))
_FURNITURE_COLOURS = (
    (0.50, 0.33, 0.18),
    (0.70, 0.55, 0.35),
    (0.85, 0.85, 0.82),
    (0.25, 0.27, 0.32),
    (0.55, 0.15, 0.12),
    (0.20, 0.35, 0.50),
    (0.45, 0.50, 0.30),
)


def _furnish(rng, boxes, width, length, loop):
    """Place furniture against walls and in the room, clear of the camera's loop."""
    footprints: list[tuple[float, float, float, float]] = []

    def free(x0, x1, z0, z1):
        if x0 < 0.01 or z0 < 0.01 or x1 > width - 0.01 or z1 > length - 0.01:
            return False
        dx = np.maximum(np.maximum(x0 - loop[:, 0], loop[:, 0] - x1), 0)
        dz = np.maximum(np.maximum(z0 - loop[:, 1], loop[:, 1] - z1), 0)
        if np.min(np.hypot(dx, dz)) < _CLEARANCE:
            return False
        return all(
            x1 + 0.05 < a0 or a1 + 0.05 < x0 or z1 + 0.05 < b0 or b1 + 0.05 < z0
            for a0, a1, b0, b1 in footprints
        )

    def style():
        variant = int(rng.integers(3))  # 0 wood, 1 painted, 2 fabric
        colour = _jitter(rng, _FURNITURE_COLOURS[rng.integers(len(_FURNITURE_COLOURS))], 0.05)
        dark = tuple(0.6 * c for c in colour)
        pattern = (rng.uniform(0.3, 0.6), rng.uniform(0.35, 0.6), 0.0, 0.0)
        return {
            "colour_a": colour,
            "colour_b": dark,
            "pattern": pattern,
            "noise_seed": rng.uniform(0, 100),
            "variant": variant,
        }

    def add_block(x0, x1, z0, z1, bottom, top, material_style):
        boxes.add(
            ((x0 + x1) / 2, -(bottom + top) / 2, (z0 + z1) / 2),
            ((x1 - x0) / 2, (top - bottom) / 2, (z1 - z0) / 2),
            0.0,
            _FURNITURE,
            **material_style,
        )

    target = int(rng.integers(4, 10))
    for _ in range(60):
        if len(footprints) >= target:
            break
        kind = rng.choice(["wall_unit", "wall_unit", "bed", "table", "crate"])
        if kind in ("wall_unit", "bed"):
            if kind == "wall_unit":
                along, across, tall = (
                    rng.uniform(0.6, 2.2),
                    rng.uniform(0.35, 0.65),
                    rng.uniform(0.7, 2.3),
                )
            else:
                along, across, tall = (
                    rng.uniform(1.4, 2.2),
                    rng.uniform(0.8, 2.0),
                    rng.uniform(0.4, 0.55),
                )
            wall = int(rng.integers(4))
            wall_length = width if wall < 2 else length
            if along > wall_length - 0.1:
                continue
            position = rng.uniform(0.05, wall_length - along - 0.05)
            if wall < 2:  # along x, against z = 0 or z = length
                x0, x1 = position, position + along
                z0, z1 = (
                    (0.02, 0.02 + across) if wall == 0 else (length - 0.02 - across, length - 0.02)
                )
            else:
                z0, z1 = position, position + along
                x0, x1 = (
                    (0.02, 0.02 + across) if wall == 2 else (width - 0.02 - across, width - 0.02)
                )
            if not free(x0, x1, z0, z1):
                continue
            footprints.append((x0, x1, z0, z1))
            material = style()
            add_block(x0, x1, z0, z1, 0.0, tall, material)
            if kind == "bed":  # headboard / backrest against the wall
                back = 0.12
                if wall == 0:
                    add_block(x0, x1, z0, z0 + back, tall, tall + 0.5, material)
                elif wall == 1:
                    add_block(x0, x1, z1 - back, z1, tall, tall + 0.5, material)
                elif wall == 2:
                    add_block(x0, x0 + back, z0, z1, tall, tall + 0.5, material)
                else:
                    add_block(x1 - back, x1, z0, z1, tall, tall + 0.5, material)
        else:
            if kind == "table":
                size_x, size_z = rng.uniform(0.8, 1.6), rng.uniform(0.6, 1.0)
            else:
                size_x = size_z = rng.uniform(0.3, 0.7)
            x0 = rng.uniform(0.05, max(width - size_x - 0.05, 0.06))
            z0 = rng.uniform(0.05, max(length - size_z - 0.05, 0.06))
            x1, z1 = x0 + size_x, z0 + size_z
            if not free(x0, x1, z0, z1):
                continue
            footprints.append((x0, x1, z0, z1))
            material = style()
            if kind == "crate":
                add_block(x0, x1, z0, z1, 0.0, size_x * rng.uniform(0.7, 1.2), material)
                continue
            top = rng.uniform(0.7, 0.78)
            add_block(x0, x1, z0, z1, top - 0.04, top, material)
            leg = 0.05
            for lx in (x0 + 0.03, x1 - 0.03 - leg):
                for lz in (z0 + 0.03, z1 - 0.03 - leg):
                    add_block(lx, lx + leg, lz, lz + leg, 0.0, top - 0.04, material)


# ----------------------------------------------------------------------------- ray casting

_NEAR = 0.02
_FAR = 300.0
_SKY, _GROUND, _ROOM = -1, -2, -3
# Box corners (local sign patterns) and the 12 edges between them, for screen-space bounds.
_CORNERS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
_EDGES = np.array(
    [(a, b) for a in range(8) for b in range(a + 1, 8) if np.sum(_CORNERS[a] != _CORNERS[b]) == 1]
)


class _Renderer:
    """Ray caster and shader for one scene and one camera."""

    def __init__(
        self,
        scene: _Scene,
        K: np.ndarray,
        width: int,
        height: int,
        min_depth: float,
        max_depth: float,
    ) -> None:
        self.scene = scene
        self.K = K
        self.width = width
        self.height = height
        self.min_depth = min_depth
        self.max_depth = max_depth
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
        self.rays = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)]).reshape(3, -1)
        self.rays = self.rays.astype(np.float32)
        self.ray_norm = np.linalg.norm(self.rays, axis=0)
        self.pixel_angle = np.float32(1.0 / min(fx, fy))
        boxes = scene.boxes
        self.box_cos = np.cos(boxes["yaw"])
        self.box_sin = np.sin(boxes["yaw"])
        self.box_aligned = boxes["yaw"] == 0.0

    def render(self, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ray cast and shade one view.

        Args:
            pose: [4, 4] camera-to-world.

        Returns:
            (image [H, W, 3] uint8 RGB, depth [H, W] float32 z-depth in metres, 0 = invalid).
        """
        rotation = pose[:3, :3]
        origin = pose[:3, 3]
        directions = (rotation.astype(np.float32) @ self.rays).reshape(3, self.height, self.width)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            inverse = 1.0 / directions
            depth, hit = self._cast(rotation, origin, directions, inverse)
            image = self._shade(origin, directions, depth, hit)
        valid = (hit != _SKY) & (depth >= self.min_depth) & (depth <= self.max_depth)
        return image, np.where(valid, depth, np.float32(0.0)).astype(np.float32)

    # -- intersections

    def _cast(self, rotation, origin, directions, inverse):
        """Nearest hit per pixel: (t [H, W] float32 z-depth, hit [H, W] int32 id)."""
        shape = (self.height, self.width)
        depth = np.full(shape, np.inf, dtype=np.float32)
        hit = np.full(shape, _SKY, dtype=np.int32)
        if self.scene.road is not None:
            ground = np.float32(-origin[1]) * inverse[1]  # the plane y = 0, camera above it
            below = directions[1] > 0
            depth = np.where(below, ground, depth)
            hit[below] = _GROUND
        if self.scene.room is not None:
            depth, hit = self._room_exit(origin, inverse)
        if len(self.scene.boxes["center"]):
            self._cast_boxes(rotation, origin, directions, inverse, depth, hit)
        return depth, hit

    def _room_exit(self, origin, inverse):
        """Where rays from inside the room leave it (walls, floor, ceiling)."""
        width, ceiling, length = self.scene.room["size"]
        exits = []
        for axis, (low, high) in enumerate(((0.0, width), (-ceiling, 0.0), (0.0, length))):
            a = np.float32(low - origin[axis]) * inverse[axis]
            b = np.float32(high - origin[axis]) * inverse[axis]
            exits.append(np.maximum(a, b))
        depth = np.minimum(np.minimum(exits[0], exits[1]), exits[2]).astype(np.float32)
        return depth, np.full(depth.shape, _ROOM, dtype=np.int32)

    def _cast_boxes(self, rotation, origin, directions, inverse, depth, hit):
        boxes = self.scene.boxes
        bounds = self._screen_bounds(rotation, origin)
        if bounds is None:
            return
        indices, u0, u1, v0, v1, z_near = bounds
        relative = (origin[None, :] - boxes["center"]).astype(np.float64)
        dx_all, _, dz_all = directions
        for k, a0, a1, b0, b1, z_min in zip(indices, u0, u1, v0, v1, z_near, strict=True):
            window = (slice(b0, b1 + 1), slice(a0, a1 + 1))
            best = depth[window]
            if z_min >= best.max():
                continue  # everything in the window is nearer than the box can be
            hx, hy, hz = boxes["half"][k]
            rx, ry, rz = relative[k]
            if self.box_aligned[k]:
                ox, oz = rx, rz
                ix = inverse[0][window]
                iz = inverse[2][window]
            else:
                c, s = self.box_cos[k], self.box_sin[k]
                ox, oz = c * rx - s * rz, s * rx + c * rz
                dx, dz = dx_all[window], dz_all[window]
                ix = 1.0 / (np.float32(c) * dx - np.float32(s) * dz)
                iz = 1.0 / (np.float32(s) * dx + np.float32(c) * dz)
            iy = inverse[1][window]
            t_low = np.float32(-hx - ox) * ix
            t_high = np.float32(hx - ox) * ix
            near = np.minimum(t_low, t_high)
            far = np.maximum(t_low, t_high)
            t_low = np.float32(-hy - ry) * iy
            t_high = np.float32(hy - ry) * iy
            np.maximum(near, np.minimum(t_low, t_high), out=near)
            np.minimum(far, np.maximum(t_low, t_high), out=far)
            t_low = np.float32(-hz - oz) * iz
            t_high = np.float32(hz - oz) * iz
            np.maximum(near, np.minimum(t_low, t_high), out=near)
            np.minimum(far, np.maximum(t_low, t_high), out=far)
            closer = (near <= far) & (near > 0) & (near < best)
            best[closer] = near[closer]
            hit[window][closer] = k

    def _screen_bounds(self, rotation, origin):
        """Pixel windows of the boxes in view, nearest first (None when none is in view).

        The window bounds the projection of the box clipped to the near plane, so a pixel
        outside it cannot see the box; ``z_near`` is the smallest depth the box can produce.
        """
        boxes = self.scene.boxes
        local = _CORNERS[None] * boxes["half"][:, None, :]  # [M, 8, 3]
        c = self.box_cos[:, None]
        s = self.box_sin[:, None]
        world = (
            np.stack(
                [
                    local[..., 0] * c + local[..., 2] * s,
                    local[..., 1],
                    -local[..., 0] * s + local[..., 2] * c,
                ],
                axis=-1,
            )
            + boxes["center"][:, None, :]
        )
        camera = (world - origin) @ rotation  # rows: R^T (p - C)
        z = camera[..., 2]
        front = z > _NEAR
        start = camera[:, _EDGES[:, 0]]
        end = camera[:, _EDGES[:, 1]]
        crossing = front[:, _EDGES[:, 0]] != front[:, _EDGES[:, 1]]
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = (_NEAR - start[..., 2]) / (end[..., 2] - start[..., 2])
        clipped = start + np.nan_to_num(fraction)[..., None] * (end - start)
        points = np.concatenate([camera, clipped], axis=1)  # [M, 20, 3]
        usable = np.concatenate([front, crossing], axis=1)
        pz = np.where(usable, np.maximum(points[..., 2], _NEAR), 1.0)
        K = self.K
        u = K[0, 0] * points[..., 0] / pz + K[0, 2]
        v = K[1, 1] * points[..., 1] / pz + K[1, 2]
        u_min = np.where(usable, u, np.inf).min(axis=1)
        u_max = np.where(usable, u, -np.inf).max(axis=1)
        v_min = np.where(usable, v, np.inf).min(axis=1)
        v_max = np.where(usable, v, -np.inf).max(axis=1)
        z_near = np.where(usable, pz, np.inf).min(axis=1)
        visible = (
            usable.any(axis=1)
            & (z_near < _FAR)
            & (u_max >= 0)
            & (u_min <= self.width - 1)
            & (v_max >= 0)
            & (v_min <= self.height - 1)
        )
        if not visible.any():
            return None
        indices = np.flatnonzero(visible)
        indices = indices[np.argsort(z_near[indices], kind="stable")]
        u0 = np.clip(np.floor(u_min[indices]), 0, self.width - 1).astype(int)
        u1 = np.clip(np.ceil(u_max[indices]), 0, self.width - 1).astype(int)
        v0 = np.clip(np.floor(v_min[indices]), 0, self.height - 1).astype(int)
        v1 = np.clip(np.ceil(v_max[indices]), 0, self.height - 1).astype(int)
        return indices, u0, u1, v0, v1, z_near[indices].astype(np.float32)

    # -- shading

    def _shade(self, origin, directions, depth, hit):
        scene = self.scene
        count = self.width * self.height
        d = directions.reshape(3, count)
        depth = depth.reshape(count)
        hit = hit.reshape(count)
        image = np.zeros((count, 3), dtype=np.float32)
        shading = np.zeros(count, dtype=np.float32)
        footprint_scale = depth * self.ray_norm * self.pixel_angle  # metres per pixel, head-on

        sky = np.flatnonzero(hit == _SKY)
        if len(sky):
            image[sky] = _sky_colour(scene.sky, d[:, sky])
            shading[sky] = 1.0

        groups = []
        if scene.road is not None:
            groups.append(np.flatnonzero(hit == _GROUND))
        if scene.room is not None:
            groups.append(np.flatnonzero(hit == _ROOM))
        groups.append(np.flatnonzero(hit >= 0))
        light = scene.light.astype(np.float32)
        for group, pixels in enumerate(groups):
            if not len(pixels):
                continue
            t = depth[pixels]
            ray = d[:, pixels]
            relative = ray * t  # hit point minus camera centre, world axes
            point = relative + origin.astype(np.float32)[:, None]
            if group == len(groups) - 1:
                albedo, normal = self._shade_boxes(hit[pixels], relative, origin, ray, t, pixels)
            elif scene.road is not None:
                normal = np.zeros((3, len(pixels)), np.float32)
                normal[1] = -1.0
                footprint = _footprint(footprint_scale[pixels], normal, ray, self.ray_norm[pixels])
                albedo = _road_albedo(scene.road, point, footprint)
            else:
                albedo, normal = self._shade_room(point, ray, footprint_scale[pixels], pixels)
            lambert = np.maximum(light @ normal, 0.0)
            image[pixels] = albedo
            shading[pixels] = scene.ambient + scene.diffuse * lambert
        image *= shading[:, None]
        rgb = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
        return rgb.reshape(self.height, self.width, 3)

    def _shade_room(self, point, ray, scale, pixels):
        room = self.scene.room
        width, ceiling, length = room["size"]
        # Which face: the bound the point lies on (smallest distance).
        distances = np.stack(
            [point[0], width - point[0], point[1] + ceiling, -point[1], point[2], length - point[2]]
        )
        face = np.argmin(np.abs(distances), axis=0)
        normal = np.zeros_like(point)
        axis = face // 2
        sign = np.where(face % 2 == 0, 1.0, -1.0).astype(np.float32)  # inward
        normal[axis, np.arange(len(face))] = sign
        footprint = _footprint(scale, normal, ray, self.ray_norm[pixels])
        albedo = np.empty((len(face), 3), dtype=np.float32)
        walls = np.flatnonzero(axis != 1)
        if len(walls):
            along = np.where(axis[walls] == 0, point[2, walls], point[0, walls])
            albedo[walls] = _wall_albedo(
                room, face[walls], along, -point[1, walls], footprint[walls]
            )
        for face_id, surface in ((3, "floor"), (2, "ceiling")):
            chosen = np.flatnonzero(face == face_id)
            if len(chosen):
                albedo[chosen] = _floor_albedo(
                    room, point[0, chosen], point[2, chosen], footprint[chosen], surface
                )
        u = np.where(axis == 0, point[2], point[0]) + 31.0 * face
        v = np.where(axis == 1, point[2], -point[1])
        albedo += _grime(u, v, footprint)
        return albedo, normal

    def _shade_boxes(self, ids, relative, origin, ray, t, pixels):
        boxes = self.scene.boxes
        centre = (boxes["center"][ids] - origin).astype(np.float32).T  # [3, n]
        c = self.box_cos[ids].astype(np.float32)
        s = self.box_sin[ids].astype(np.float32)
        offset = relative - centre
        local = np.stack([c * offset[0] - s * offset[2], offset[1], s * offset[0] + c * offset[2]])
        half = boxes["half"][ids].astype(np.float32).T
        ratio = np.abs(local) / half
        axis = np.argmax(ratio, axis=0)
        columns = np.arange(len(ids))
        sign = np.sign(local[axis, columns])
        # Local face normal rotated back to the world (yaw about y).
        normal = np.zeros_like(local)
        normal[0] = np.where(axis == 0, sign * c, np.where(axis == 2, sign * s, 0.0))
        normal[1] = np.where(axis == 1, sign, 0.0)
        normal[2] = np.where(axis == 0, -sign * s, np.where(axis == 2, sign * c, 0.0))
        footprint = _footprint(
            t * self.ray_norm[pixels] * self.pixel_angle, normal, ray, self.ray_norm[pixels]
        )
        # Face coordinates in metres: ``across`` along the face, ``up`` from the box bottom.
        side = axis != 1
        across = np.where(axis == 0, local[2] + half[2], local[0] + half[0])
        up = np.where(side, half[1] - local[1], local[2] + half[2])
        face_length = np.where(axis == 0, 2 * half[2], 2 * half[0])
        face_id = (axis * 2 + (sign > 0)).astype(np.float32)
        params = boxes["params"][ids]
        albedo = np.empty((len(ids), 3), dtype=np.float32)
        material = boxes["material"][ids]
        for kind, function in _BOX_MATERIALS.items():
            chosen = np.flatnonzero(material == kind)
            if len(chosen):
                albedo[chosen] = function(
                    params[chosen],
                    across[chosen],
                    up[chosen],
                    side[chosen],
                    face_length[chosen],
                    face_id[chosen],
                    footprint[chosen],
                )
        albedo += _grime(across + 13.0 * params[:, 10] + 7.0 * face_id, up, footprint)
        return albedo, normal


def _footprint(scale, normal, ray, ray_norm):
    """Pixel footprint on the surface in metres: head-on size over |cos(incidence)|."""
    cosine = np.abs(np.sum(normal * ray, axis=0)) / ray_norm
    return np.minimum(scale / np.maximum(cosine, 0.05), 50.0).astype(np.float32)


# ----------------------------------------------------------------------------- textures

# A fixed lattice of random values shared by all value noise (periodic every 256 cells).
_LATTICE = np.random.default_rng(20240917).random((256, 256), dtype=np.float32)
_LATTICE_FLAT = _LATTICE.ravel()


def _value_noise(x, y):
    """Smooth value noise with unit cells, in [0, 1]; x, y float32 arrays of one shape."""
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = x - x0
    fy = y - y0
    ix = x0.astype(np.int32) & 255
    row = (y0.astype(np.int32) & 255) << 8
    next_ix = (ix + 1) & 255
    next_row = (row + 256) & 0xFFFF
    sx = fx * fx * (3 - 2 * fx)
    sy = fy * fy * (3 - 2 * fy)
    v00 = _LATTICE_FLAT.take(row | ix)
    v10 = _LATTICE_FLAT.take(row | next_ix)
    v01 = _LATTICE_FLAT.take(next_row | ix)
    v11 = _LATTICE_FLAT.take(next_row | next_ix)
    top = v00 + (v10 - v00) * sx
    bottom = v01 + (v11 - v01) * sx
    return top + (bottom - top) * sy


def _cell_random(ix, iy, seed: float = 0.0):
    """One random value in [0, 1) per integer cell (ix, iy float arrays of whole numbers)."""
    offset = int(seed * 97) & 255
    return _LATTICE[(iy.astype(np.int32) + offset) & 255, (ix.astype(np.int32) * 7 + offset) & 255]


def _detail(footprint, size: float):
    """Visibility of a feature of ``size`` metres: 1 while pixels resolve it, fading to 0."""
    return np.clip(1.5 - 1.5 * footprint / size, 0.0, 1.0)


def _fbm(x, y, footprint, cells, seed: float):
    """Sum of value-noise octaves (cell sizes in metres), each faded by the footprint.

    Returns zero-mean detail in about [-0.5, 0.5].
    """
    total = np.zeros_like(x)
    weight = 1.0 / len(cells)
    for octave, cell in enumerate(cells):
        shift = seed * 3.7 + octave * 41.3
        noise = _value_noise(x / cell + shift, y / cell - 0.61 * shift)
        total += (noise - 0.5) * (weight * _detail(footprint, cell))
    return total


def _pulse(x, period: float, width: float, footprint):
    """Box-filtered coverage of stripes [k period, k period + width), in [0, 1].

    Integrating the stripe indicator over the pixel footprint anti-aliases exactly for a box
    filter: far away the value tends to the mean coverage ``width / period``.
    """
    u = x / period
    w = width / period
    half = np.maximum(footprint / period, 0.02) * 0.5
    a = u - half
    b = u + half
    fa = np.floor(a)
    fb = np.floor(b)
    covered = (fb - fa) * w + np.minimum(b - fb, w) - np.minimum(a - fa, w)
    return np.clip(covered / (2 * half), 0.0, 1.0)


def _band(x, low: float, high, footprint):
    """Box-filtered coverage of low <= x < high, in [0, 1]."""
    half = np.maximum(footprint, 1e-4) * 0.5
    return np.clip((np.minimum(x + half, high) - np.maximum(x - half, low)) / (2 * half), 0.0, 1.0)


def _grime(x, y, footprint):
    """Additive grey dirt at several scales ([n, 1]), so dark and plain surfaces carry texture
    that photometric matching can lock on to."""
    return (0.35 * _fbm(x, y, footprint, (0.4, 0.12, 0.04, 0.012), 17.0))[:, None]


def _mix(base, other, amount):
    """Blend [n, 3] colours by a per-pixel amount in [0, 1]."""
    return base + (other - base) * amount[:, None]


def _colour(rgb) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float32)[None, :]


def _sky_colour(sky: dict | None, d):
    """Sky from the ray direction only: a gradient with soft clouds ([3, n] rays -> [n, 3])."""
    if sky is None:
        return np.zeros((d.shape[1], 3), np.float32)
    norm = np.linalg.norm(d, axis=0)
    elevation = np.clip(-d[1] / norm, 0.0, 1.0)
    colour = _mix(_colour(sky["horizon"]), _colour(sky["zenith"]), np.minimum(elevation * 2.5, 1.0))
    lift = np.maximum(-d[1], 0.02)
    x = d[0] / lift
    z = d[2] / lift
    zero = np.zeros_like(x)
    cloud = _fbm(x, z, zero, (1.5, 0.5, 0.2), sky["noise_seed"]) * 2 + 0.5
    cloud = np.clip((cloud - (1 - sky["cloud"])) * 2.5, 0.0, 1.0) * np.minimum(elevation * 8, 1.0)
    return _mix(colour, _colour((0.95, 0.95, 0.96)), cloud * 0.8)


def _road_albedo(road: dict, point, footprint):
    """Asphalt with lane markings, curb, sidewalk tiles and verge on the ground plane."""
    curvature = road["curvature"]
    rx = point[0] - np.float32(road["centre"][0])
    rz = point[2] - np.float32(road["centre"][1])
    distance = np.sqrt(rx * rx + rz * rz)
    lateral = np.float32(np.sign(curvature)) * (np.float32(road["radius"]) - distance)
    turned = np.arctan2(rz, rx) - np.float32(road["reference_angle"])
    turned = (turned + np.float32(np.pi)) % np.float32(2 * np.pi) - np.float32(np.pi)
    along = -turned / np.float32(curvature)
    side = np.abs(lateral)
    f = footprint
    seed = road["noise_seed"]
    x, z = point[0], point[2]

    grain = _fbm(x, z, f, (6.0, 2.0, 0.6, 0.2, 0.06), seed)
    patches = np.clip((_value_noise(x / 5.0 + seed, z / 5.0) - 0.7) * 8, 0, 1) * _detail(f, 1.0)
    asphalt = _colour(road["asphalt"]) * (1 + 1.5 * grain - 0.25 * patches)[:, None]
    parking = _band(side, _LANE_WIDTH, _CURB, f)
    asphalt = asphalt * (1 - 0.12 * parking)[:, None]
    marks = _band(lateral, -0.07, 0.07, f) * _pulse(along, road["dash_period"], road["dash"], f)
    marks += _band(side, _LANE_WIDTH - 0.15, _LANE_WIDTH - 0.03, f)
    marks += parking * _pulse(along, 5.5, 0.12, f) * _band(side, _LANE_WIDTH, _CURB - 0.4, f)
    colour = _mix(asphalt, _colour((0.86, 0.86, 0.82)), np.minimum(marks, 1.0) * 0.9)

    tile = road["tile"]
    joints = 1 - (1 - _pulse(along, tile, 0.02, f)) * (1 - _pulse(side, tile, 0.02, f))
    tone = (_cell_random(np.floor(along / tile), np.floor(side / tile), seed) - 0.5) * _detail(
        f, tile
    )
    pavement = (
        _colour(road["sidewalk"])
        * (1 + 0.25 * tone + 0.6 * _fbm(x, z, f, (0.6, 0.1, 0.03), seed + 1))[:, None]
    )
    pavement = pavement * (1 - 0.35 * joints)[:, None]
    curb = _colour((0.72, 0.72, 0.70)) * (1 + 0.5 * _fbm(x, z, f, (0.3, 0.05), seed + 2))[:, None]
    verge = (
        _colour(road["verge"])
        * (1 + 1.2 * _fbm(x, z, f, (2.0, 0.5, 0.12, 0.04), seed + 3))[:, None]
    )

    colour = _mix(colour, curb, _band(side, _CURB, _CURB + 0.2, f))
    colour = _mix(colour, pavement, _band(side, _CURB + 0.2, _SIDEWALK, f))
    colour = _mix(colour, verge, _band(side, _SIDEWALK, np.inf, f))
    return colour


def _facade_albedo(params, across, up, side, face_length, face_id, f):
    wall = params[:, 0:3]
    glass = params[:, 3:6]
    floor_height, window_width, spacing, window_height = (params[:, i] for i in range(6, 10))
    seed = params[:, 10] + 7.1 * face_id
    variant = params[:, 11]
    x = across + seed * 13.0
    noise = _fbm(x, up, f, (4.0, 1.0, 0.25, 0.06), 0.0)
    colour = wall * (1 + 0.6 * noise)[:, None]
    brick = variant == 1
    if brick.any():
        row = np.floor(up / 0.075)
        shifted = across + 0.11 * (row % 2)
        mortar = 1 - (1 - _pulse(up, 0.075, 0.012, f)) * (1 - _pulse(shifted, 0.22, 0.012, f))
        tone = (_cell_random(np.floor(shifted / 0.22), row, 3.0) - 0.5) * _detail(f, 0.075)
        brick_colour = wall * (1 + 0.3 * tone)[:, None]
        brick_colour = _mix(brick_colour, _colour((0.78, 0.76, 0.72)), mortar * 0.8)
        colour = np.where(brick[:, None], brick_colour * (1 + 0.4 * noise)[:, None], colour)
    panels = variant == 2
    if panels.any():
        joints = 1 - (1 - _pulse(up, 1.5, 0.03, f)) * (1 - _pulse(across, 2.4, 0.03, f))
        colour = np.where(panels[:, None], colour * (1 - 0.4 * joints)[:, None], colour)
    # Windows: a grid per floor, centred on the face, none on the roof.
    count = np.maximum(np.floor((face_length - 0.8) / spacing), 0)
    start = (face_length - count * spacing) / 2 + (spacing - window_width) / 2
    in_span = _band(across, start - 0.05, start + count * spacing - 0.05, f)
    sill = 0.9
    columns = (across - start) / spacing
    rows = (up - sill) / floor_height
    frame = 0.08
    in_frame = _pulse((columns * spacing) + frame, spacing, window_width + 2 * frame, f) * _pulse(
        rows * floor_height + frame, floor_height, window_height + 2 * frame, f
    )
    in_glass = _pulse(columns * spacing, spacing, window_width, f) * _pulse(
        rows * floor_height, floor_height, window_height, f
    )
    in_frame = in_frame * in_span * side
    in_glass = np.minimum(in_glass * in_span * side, in_frame)
    pane = glass * (1 + 0.8 * _fbm(x, up, f, (0.7, 0.2), 5.0))[:, None]
    colour = _mix(colour, _colour((0.85, 0.84, 0.80)), in_frame - in_glass)
    colour = colour * (1 - in_glass)[:, None] + pane * in_glass[:, None]
    roof = _colour((0.42, 0.41, 0.40)) * (1 + 1.0 * _fbm(x, up, f, (2.0, 0.4, 0.08), 9.0))[:, None]
    return np.where(side[:, None], colour, roof)


def _vehicle_albedo(params, across, up, side, face_length, face_id, f):
    body = params[:, 0:3]
    glass = params[:, 3:6]
    length = params[:, 6]
    seed = params[:, 10] + 7.1 * face_id
    cabin = params[:, 11] == 1
    long_side = side & (np.abs(face_length - length) < 1e-3)
    colour = body * (1 + 0.25 * _fbm(across + seed * 11.0, up, f, (0.8, 0.2, 0.05), 2.0))[:, None]
    doors = _pulse(across - 0.3, 1.1, 0.025, f) * long_side * ~cabin
    colour = colour * (1 - 0.6 * doors)[:, None]
    # Wheels on the long sides; windows on the cabin sides (pillars left at the corners).
    wheel = np.zeros_like(across)
    for centre in (0.8, -0.8):
        position = np.where(centre > 0, centre, length + centre)
        distance = np.hypot(across - position, up - 0.34)
        wheel = np.maximum(wheel, np.clip((0.34 - distance) / np.maximum(f, 1e-3) + 0.5, 0, 1))
    wheel = wheel * long_side * ~cabin
    rim = (
        np.clip(
            (0.16 - np.hypot(across - np.where(across < length / 2, 0.8, length - 0.8), up - 0.34))
            / np.maximum(f, 1e-3)
            + 0.5,
            0,
            1,
        )
        * wheel
    )
    colour = _mix(colour, _colour((0.06, 0.06, 0.06)), wheel)
    colour = _mix(colour, _colour((0.6, 0.6, 0.62)), rim)
    window = _band(across, 0.12, face_length - 0.12, f) * _band(up, 0.08, params[:, 7] - 0.06, f)
    window = window * side * cabin
    pane = glass * (1 + 0.6 * _fbm(across + seed, up, f, (0.5, 0.15), 4.0))[:, None]
    colour = _mix(colour, pane, window)
    lights = _band(up, 0.45, 0.62, f) * (side & ~long_side & ~cabin)
    lights = lights * (
        _band(across, 0.1, 0.35, f) + _band(across, face_length - 0.35, face_length - 0.1, f)
    )
    return _mix(colour, _colour((0.95, 0.9, 0.7)), lights)


def _pole_albedo(params, across, up, side, face_length, face_id, f):
    noise = _fbm(across + params[:, 10] * 5.0 + face_id, up, f, (0.6, 0.15, 0.04), 6.0)
    bands = _pulse(up, 1.2, 0.08, f)
    return params[:, 0:3] * (1 + 0.6 * noise - 0.3 * bands)[:, None]


def _sign_albedo(params, across, up, side, face_length, face_id, f):
    size = face_length
    border = 1 - _band(across, 0.06, size - 0.06, f) * _band(up, 0.06, size - 0.06, f)
    symbol = _band(across, size * 0.35, size * 0.65, f) * _band(up, size * 0.2, size * 0.8, f)
    colour = _mix(params[:, 0:3], params[:, 3:6], np.clip(border + symbol, 0, 1))
    back = _colour((0.55, 0.55, 0.57)) * (1 + 0.3 * _fbm(across, up, f, (0.1, 0.03), 1.0))[:, None]
    front = (face_id == 5) | (face_id == 4)
    return np.where(front[:, None], colour, back)


def _foliage_albedo(params, across, up, side, face_length, face_id, f):
    seed = params[:, 10] + 7.1 * face_id
    noise = _fbm(across + seed * 9.0, up, f, (0.6, 0.2, 0.07, 0.025), 8.0)
    leaves = np.clip(noise * 3 + 0.5, 0, 1)
    return _mix(params[:, 3:6], params[:, 0:3], leaves) * (1 + 0.4 * noise)[:, None]


def _furniture_albedo(params, across, up, side, face_length, face_id, f):
    colour_a = params[:, 0:3]
    colour_b = params[:, 3:6]
    grain_length, panel, variant = params[:, 6], params[:, 7], params[:, 11]
    seed = params[:, 10] + 7.1 * face_id
    x = across + seed * 7.0
    # Wood: long streaks along ``across`` plus fine rings.
    streaks = _fbm(x / (8 * grain_length), up, f, (0.04, 0.012), 1.0)
    rings = _pulse(up + 0.3 * _value_noise(x * 2.0, up * 2.0), 0.012, 0.004, f)
    wood = _mix(colour_a, colour_b, np.clip(0.5 + 2.0 * streaks, 0, 1) * 0.7 + rings * 0.3)
    # Painted: panel grooves (doors, drawers) and light noise.
    grooves = 1 - (1 - _pulse(across, panel, 0.012, f)) * (1 - _pulse(up, panel, 0.012, f))
    painted = colour_a * (1 + 0.4 * _fbm(x, up, f, (0.5, 0.1, 0.03), 2.0) - 0.45 * grooves)[:, None]
    # Fabric: a woven check and fine fibres.
    check = _pulse(across, 0.04, 0.02, f) * _pulse(up, 0.04, 0.02, f)
    fabric = (
        _mix(colour_a, colour_b, check * 0.5)
        * (1 + 0.5 * _fbm(x, up, f, (0.3, 0.08, 0.015), 3.0))[:, None]
    )
    return np.where(
        (variant == 0)[:, None], wood, np.where((variant == 1)[:, None], painted, fabric)
    )


_BOX_MATERIALS = {
    _FACADE: _facade_albedo,
    _VEHICLE: _vehicle_albedo,
    _POLE: _pole_albedo,
    _SIGN: _sign_albedo,
    _FOLIAGE: _foliage_albedo,
    _FURNITURE: _furniture_albedo,
}


def _wall_albedo(room, face, along, up, f):
    """Painted stucco, wallpaper stripes or brick, with a skirting board and pictures."""
    colours = np.asarray(room["walls"], dtype=np.float32)[np.where(face < 2, face, face - 2)]
    seed = room["noise_seed"]
    x = along + face.astype(np.float32) * 31.0
    noise = _fbm(x, up, f, (1.0, 0.25, 0.06, 0.015), seed)
    variant = room["wall_variant"]
    if variant == 1:
        stripes = _pulse(along, room["stripe"], room["stripe"] / 2, f)
        colour = colours * (1 + 0.5 * noise - 0.12 * stripes)[:, None]
    elif variant == 2:
        row = np.floor(up / 0.075)
        shifted = along + 0.11 * (row % 2)
        mortar = 1 - (1 - _pulse(up, 0.075, 0.012, f)) * (1 - _pulse(shifted, 0.22, 0.012, f))
        tone = (_cell_random(np.floor(shifted / 0.22), row, seed) - 0.5) * _detail(f, 0.075)
        colour = colours * (1 + 0.3 * tone + 0.4 * noise)[:, None]
        colour = _mix(colour, _colour((0.8, 0.8, 0.78)), mortar * 0.7)
    else:
        colour = colours * (1 + 0.8 * noise)[:, None]
    # Pictures: in some 1.6 m cells along the wall, a framed, colourful noise rectangle.
    cell = np.floor(along / 1.6)
    present = _cell_random(cell, face.astype(np.float32), seed) < 0.45
    start = cell * 1.6 + 0.3
    picture = _band(along, start, start + 1.0, f) * _band(up, 1.1, 1.8, f) * present
    hue = np.stack(
        [_cell_random(cell + k, face.astype(np.float32) + 5.0, seed) for k in (1.0, 2.0, 3.0)],
        axis=1,
    )
    art = hue * (1 + 1.6 * _fbm(along, up, f, (0.3, 0.1, 0.03), seed + 4))[:, None]
    frame = _band(along, start - 0.04, start + 1.04, f) * _band(up, 1.06, 1.84, f) * present
    colour = _mix(colour, _colour((0.15, 0.12, 0.1)), frame)
    colour = _mix(colour, art, picture)
    skirting = _band(up, -1.0, 0.1, f)
    return _mix(colour, _colour((0.9, 0.9, 0.88)), skirting)


def _floor_albedo(room, x, z, f, surface):
    """Floor (planks, tiles or carpet) or ceiling (tiles), as a function of world x, z."""
    seed = room["noise_seed"] + (0.0 if surface == "floor" else 50.0)
    if surface == "ceiling":
        tile = 0.6
        joints = 1 - (1 - _pulse(x, tile, 0.015, f)) * (1 - _pulse(z, tile, 0.015, f))
        noise = _fbm(x, z, f, (0.5, 0.12, 0.03), seed)
        tone = (_cell_random(np.floor(x / tile), np.floor(z / tile), seed) - 0.5) * _detail(f, tile)
        return _colour(room["ceiling"]) * (1 + 0.5 * noise + 0.1 * tone - 0.3 * joints)[:, None]
    colour = _colour(room["floor"])
    variant = room["floor_variant"]
    if variant == 0:
        plank = room["plank"]
        row = np.floor(z / plank)
        board_length = 1.5
        shifted = x + _cell_random(row, row, seed) * board_length
        board = np.floor(shifted / board_length)
        joints = 1 - (1 - _pulse(z, plank, 0.004, f)) * (
            1 - _pulse(shifted, board_length, 0.004, f)
        )
        tone = (_cell_random(board, row, seed + 1) - 0.5) * _detail(f, plank)
        # Grain: noise stretched along the boards; its fine scale is the across-board one.
        grain = _fbm(shifted / 8.0, z, f, (0.05, 0.015), seed)
        return colour * (1 + 0.45 * tone + 0.5 * grain - 0.5 * joints)[:, None]
    if variant == 1:
        tile = room["tile"]
        joints = 1 - (1 - _pulse(x, tile, 0.008, f)) * (1 - _pulse(z, tile, 0.008, f))
        tone = (_cell_random(np.floor(x / tile), np.floor(z / tile), seed) - 0.5) * _detail(f, tile)
        noise = _fbm(x, z, f, (0.4, 0.1, 0.02), seed)
        return _mix(
            colour * (1 + 0.4 * tone + 0.6 * noise)[:, None], _colour((0.8, 0.8, 0.78)), joints
        )
    noise = _fbm(x, z, f, (1.0, 0.2, 0.05, 0.012), seed)
    return colour * (1 + 1.1 * noise)[:, None]
