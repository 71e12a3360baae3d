"""Rendering synthetic worlds: `generate_world` writes one in the folder format (and reuses a
folder that already holds it), `render_sequence` renders one sequence in memory."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
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
from monodepthkit.data.synthetic.presets import GENERATOR_VERSION, PRESETS, SyntheticPreset
from monodepthkit.data.synthetic.render import Renderer
from monodepthkit.data.synthetic.scenes import build_driving, build_indoor
from monodepthkit.errors import MdkError

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
    build = build_driving if spec.name == "driving" else build_indoor
    scene, poses = build(rng, num_frames, spec.fps)
    K = spec.camera_matrix(width, height)
    renderer = Renderer(scene, K, width, height, spec.min_depth, spec.max_depth)
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
