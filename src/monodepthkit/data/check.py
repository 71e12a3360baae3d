"""`mdk data check`: find every problem in a dataset tree before training meets it.

`run_check` walks a dataset, decodes every file in parallel threads (OpenCV and NumPy release
the GIL, so a few thousand files take seconds) and reports counts, the depth range and a list
of `Problem`: missing files, unreadable images or depth maps, image/depth size mismatches,
implausible depth values and intrinsics (principal point outside the image, a focal length
whose field of view is outside 5-170 degrees, very non-square pixels), malformed poses,
timestamps and split entries. It never raises on bad data: each bad file is one problem.

The folder format (``folder``, ``synthetic``), ``nyu_labeled`` and ``nyu_raw`` are checked file
by file; any other registered dataset is built with its builder and every sample is loaded and
validated against the batch contract, so problems are reported with the builder's messages.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from monodepthkit.data.folder_index import (
    INTRINSICS_FILE,
    SPLITS_FOLDER,
    SequenceFiles,
    find_sequences,
    read_split_lines,
    split_path,
)
from monodepthkit.data.io import (
    DEPTH_SCALE,
    META_FILE,
    intrinsics_from_fov,
    read_depth,
    read_matrix,
    read_poses,
    read_rgb,
)
from monodepthkit.errors import MdkError

MAX_PLAUSIBLE_DEPTH = 1000.0
"""Depths beyond this (metres) are reported: usually a wrong ``depth_scale``."""
FOV_RANGE_DEG = (5.0, 170.0)
"""Horizontal and vertical fields of view outside this range mean an implausible focal length."""
MAX_ASPECT = 2.0
"""fx / fy beyond [1 / MAX_ASPECT, MAX_ASPECT] is reported (pixels far from square)."""
FIRST_ENTRIES = 3
"""How many missing split entries a problem quotes."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset.

    Attributes:
        path: the file (or folder) at fault.
        message: what is wrong and, where it helps, how to fix it.
    """

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class CheckReport:
    """What `run_check` found.

    Attributes:
        dataset: the dataset name.
        root: the checked root.
        counts: named counts (sequences, frames, depth maps, ...).
        depth_range: (min, max) valid depth in metres over every depth map, or None.
        problems: every problem, sorted by path.
    """

    dataset: str
    root: Path
    counts: dict[str, int] = field(default_factory=dict)
    depth_range: tuple[float, float] | None = None
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        """One line: the counts and the depth range."""
        parts = [f"{value} {name}" for name, value in self.counts.items()]
        if self.depth_range is not None:
            parts.append(f"depth {self.depth_range[0]:.3g}-{self.depth_range[1]:.4g} m")
        return f"{self.dataset} at {self.root}: " + (", ".join(parts) or "nothing found")


def check_dataset(
    name: str, root: str | Path, split: str | None = None, workers: int = 8
) -> list[Problem]:
    """Every problem of a dataset tree (see `run_check`); an empty list means it is fine."""
    return run_check(name, root, split, workers).problems


def run_check(
    name: str, root: str | Path, split: str | None = None, workers: int = 8
) -> CheckReport:
    """Check a dataset: counts, depth range and problems, decoding every file in parallel.

    Args:
        name: a registered dataset name (``folder``, ``synthetic``, ``nyu_labeled``,
            ``nyu_raw``, or any other: checked by loading its samples).
        root: the dataset root.
        split: check only this split; None checks every frame (and every split file).
        workers: parallel threads.

    Returns:
        The `CheckReport`.

    Raises:
        MdkError: an unknown dataset name (bad data never raises; it becomes a `Problem`).
    """
    from monodepthkit.data.registry import get_dataset_builder

    builder = get_dataset_builder(name)  # unknown names fail here, listing the known ones
    report = CheckReport(name, Path(root))
    checker = _CHECKERS.get(name)
    if checker is None:
        _check_samples(builder, report, split, max(1, workers))
    else:
        checker(report, split, max(1, workers))
    report.problems = sorted(set(report.problems), key=lambda p: (str(p.path), p.message))
    return report


# --- the folder format ----------------------------------------------------------------------


@dataclass
class _FrameResult:
    size: tuple[int, int] | None = None
    depth_min: float | None = None
    depth_max: float | None = None
    problems: list[Problem] = field(default_factory=list)


def _check_folder(report: CheckReport, split: str | None, workers: int) -> None:
    root = report.root
    if not root.is_dir():
        report.problems.append(Problem(root, "data folder not found; " + _FOLDER_LAYOUT))
        return
    depth_scale, fov = _read_folder_meta(report)
    sequences = find_sequences(root)
    if not sequences:
        report.problems.append(
            Problem(root, "no image/ folder in it or its sub-folders; " + _FOLDER_LAYOUT)
        )
        return
    selected = _folder_split_entries(report, split, sequences)
    tasks: list[Callable[[], _FrameResult]] = []
    shared_K_path = root / INTRINSICS_FILE
    shared_K = _read_K(report, shared_K_path)
    sequence_tasks: dict[str, list[Callable[[], _FrameResult]]] = {}
    sequence_K: dict[str, tuple[np.ndarray | None, Path]] = {}
    frames = depth_maps = 0
    for name, files in sequences.items():
        if selected is not None and name not in selected:
            continue  # a split check looks at the split's sequences only
        if not files.images:
            report.problems.append(Problem(files.path / "image", "no .png/.jpg images in it"))
            continue
        depth_files = files.depth_files
        for stem in sorted(set(depth_files) - set(files.images)) if selected is None else []:
            report.problems.append(Problem(depth_files[stem], "depth map without an image"))
        K_path = files.intrinsics
        K = shared_K if K_path == shared_K_path else _read_K(report, K_path)
        sequence_K[name] = (K, K_path)
        _check_sequence_files(report, files)
        has_right = files.right_images.is_dir()
        if has_right and not files.stereo.is_file():
            report.problems.append(Problem(files.stereo, "file not found (image_right/ needs it)"))
        wanted = selected.get(name, set()) if selected is not None else set(files.images)
        for stem in sorted(wanted):
            frames += 1
            depth_path = depth_files.get(stem)
            depth_maps += depth_path is not None
            if files.has_depth and depth_path is None:
                report.problems.append(
                    Problem(
                        files.images[stem],
                        f"image has no depth map; expected {files.path / 'depth' / stem}.png "
                        "(or .npy, .exr)",
                    )
                )
            right = files.stereo_image(stem) if has_right else None
            if has_right and right is None:
                report.problems.append(
                    Problem(files.right_images / f"{stem}.png", "stereo image not found")
                )
            right_depth = files.right_depth_files.get(stem)
            task = _frame_task(files.images[stem], depth_path, depth_scale, right, right_depth)
            tasks.append(task)
            sequence_tasks.setdefault(name, []).append(task)
    results = _run_parallel(tasks, workers)
    by_task = dict(zip(map(id, tasks), results, strict=True))
    for name, (K, K_path) in sequence_K.items():
        sizes = {by_task[id(t)].size for t in sequence_tasks.get(name, [])} - {None}
        if K is not None:
            if len(sizes) > 1:
                report.problems.append(
                    Problem(
                        K_path,
                        f"one K for images of {len(sizes)} sizes ("
                        + ", ".join(f"{w}x{h}" for h, w in sorted(sizes))
                        + "); give each size its own sequence folder or use fov_deg",
                    )
                )
            for size in sizes:
                report.problems += _intrinsics_problems(K_path, K, size)
        elif fov is not None:
            for size in sizes:
                K_fov = intrinsics_from_fov(fov[0], size, fov[1])
                report.problems += _intrinsics_problems(root / META_FILE, K_fov, size)
    _collect(report, results)
    report.counts = {
        "sequences": len(sequence_K),
        "frames": frames,
        "depth maps": depth_maps,
        **report.counts,
    }


_FOLDER_LAYOUT = (
    "expected ROOT/image/*.png or ROOT/SEQUENCE/image/*.png, with optional depth/ (16-bit "
    ".png, .npy or .exr), intrinsics.txt, poses.txt, timestamps.txt (see `mdk data synth "
    "--help` and the README)"
)


def _read_folder_meta(report: CheckReport) -> tuple[float, tuple[float, str] | None]:
    path = report.root / META_FILE
    meta: dict = {}
    if path.is_file():
        try:
            meta = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            report.problems.append(Problem(path, f"not valid JSON ({exc})"))
        if not isinstance(meta, dict):
            report.problems.append(Problem(path, "expected a JSON object {...}"))
            meta = {}
    depth_scale = meta.get("depth_scale", DEPTH_SCALE)
    if not isinstance(depth_scale, (int, float)) or depth_scale <= 0:
        report.problems.append(
            Problem(path, f"depth_scale must be a positive number, found {depth_scale!r}")
        )
        depth_scale = DEPTH_SCALE
    fov = None
    if "fov_deg" in meta:
        try:
            axis = meta.get("fov_axis", "horizontal")
            intrinsics_from_fov(float(meta["fov_deg"]), (2, 2), axis)
            fov = (float(meta["fov_deg"]), axis)
        except (MdkError, TypeError, ValueError) as exc:
            report.problems.append(Problem(path, str(exc)))
    return float(depth_scale), fov


def _folder_split_entries(
    report: CheckReport, split: str | None, sequences: dict[str, SequenceFiles]
) -> dict[str, set[str]] | None:
    """Frames of ``split`` by sequence (None = every frame); checks the split files."""
    split_dir = report.root / SPLITS_FOLDER
    if split in (None, "all"):
        files = sorted(split_dir.glob("*.txt")) if split_dir.is_dir() else []
    else:
        files = [split_path(report.root, split)]
    selected: dict[str, set[str]] = {}
    for path in files:
        if not path.is_file():
            report.problems.append(
                Problem(path, "split file not found (one 'SEQUENCE FRAME' line per frame)")
            )
            continue
        missing, count = [], 0
        for line in read_split_lines(path):
            if line.name is None:
                report.problems.append(
                    Problem(
                        path, f"line {line.number}: expected 'SEQUENCE FRAME', found '{line.text}'"
                    )
                )
                continue
            count += 1
            sequence = sequences.get(line.name)
            if sequence is None or line.stem not in sequence.images:
                missing.append(f"{line.name} {line.stem}")
            else:
                selected.setdefault(line.name, set()).add(line.stem)
        report.counts[f"{path.stem} entries"] = count
        if missing:
            report.problems.append(
                Problem(
                    path,
                    f"{len(missing)} of {count} entries have no image (first: "
                    f"{', '.join(missing[:FIRST_ENTRIES])})",
                )
            )
    return None if split in (None, "all") else selected


def _check_sequence_files(report: CheckReport, files: SequenceFiles) -> None:
    count = len(files.images)
    poses_path = files.poses
    if poses_path.is_file():
        try:
            poses = read_poses(poses_path, count)
        except MdkError as exc:
            report.problems.append(Problem(poses_path, _strip(exc, poses_path)))
        else:
            rotations = poses[:, :3, :3]
            error = np.abs(rotations @ rotations.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2))
            bad = np.nonzero((error > 1e-3) | (np.linalg.det(rotations) < 0))[0]
            if len(bad):
                report.problems.append(
                    Problem(
                        poses_path,
                        f"{len(bad)} poses are not rigid (rotation not orthonormal with det +1), "
                        f"first at line {bad[0] + 1}",
                    )
                )
    times_path = files.timestamps
    if times_path.is_file():
        try:
            times = read_matrix(times_path, (count,))
        except MdkError as exc:
            report.problems.append(
                Problem(times_path, _strip(exc, times_path) + f" (one per image: {count})")
            )
        else:
            if len(times) > 1 and not np.all(np.diff(times) > 0):
                report.problems.append(Problem(times_path, "timestamps must increase"))
    stereo_path = files.stereo
    if stereo_path.is_file():
        try:
            read_matrix(stereo_path, (4, 4))
        except MdkError as exc:
            report.problems.append(Problem(stereo_path, _strip(exc, stereo_path)))


def _read_K(report: CheckReport | None, path: Path) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        return read_matrix(path, (3, 3))
    except MdkError as exc:
        if report is not None:
            report.problems.append(Problem(path, _strip(exc, path)))
        return None


def _frame_task(
    image: Path,
    depth: Path | None,
    depth_scale: float,
    right: Path | None,
    right_depth: Path | None,
) -> Callable[[], _FrameResult]:
    def task() -> _FrameResult:
        result = _FrameResult()
        result.size = _decode_image(image, result)
        if depth is not None:
            _check_depth(depth, read_depth, depth_scale, result.size, image, result)
        if right is not None:
            right_size = _decode_image(right, result)
            if right_size is not None and result.size is not None and right_size != result.size:
                message = (
                    f"stereo image is {_wh(right_size)} but {image.name} is {_wh(result.size)}"
                )
                result.problems.append(Problem(right, message))
            if right_depth is not None:
                _check_depth(right_depth, read_depth, depth_scale, right_size, right, result)
        return result

    return task


def _decode_image(path: Path, result: _FrameResult) -> tuple[int, int] | None:
    """(H, W) of an image after checking that all of it can be read, or None (a problem).

    PNGs are checked by their chunk checksums and end marker (Pillow's ``verify``: a truncated
    or damaged file fails), JPEGs by a reduced-size decode of every scan (a truncated file
    fails); both are several times faster than a full decode. Other formats are decoded.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.format == "PNG":
                image.verify()
            elif image.format == "JPEG":
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
            else:
                read_rgb(path)
        return height, width
    except MdkError as exc:
        message = _strip(exc, path)
    except Exception as exc:  # Pillow raises many types (SyntaxError, struct.error, ...)
        message = f"expected a complete RGB image (png/jpg), cannot read it ({exc})"
    result.problems.append(Problem(path, "unreadable image: " + message))
    return None


def _check_depth(
    path: Path,
    reader: Callable,
    scale: float,
    image_size: tuple[int, int] | None,
    image: Path,
    result: _FrameResult,
) -> None:
    try:
        depth = reader(path, scale)
    except MdkError as exc:
        result.problems.append(Problem(path, "unreadable depth: " + _strip(exc, path)))
        return
    if image_size is not None and depth.shape != image_size:
        result.problems.append(
            Problem(
                path,
                f"depth is {_wh(depth.shape)} (WxH) but its image {image.name} is "
                f"{_wh(image_size)}; they must match",
            )
        )
    _depth_values(path, depth, result)


def _depth_values(path: Path, depth: np.ndarray, result: _FrameResult, name: str = "") -> None:
    valid = depth[depth > 0]
    where = f"{name}: " if name else ""
    if valid.size == 0:
        result.problems.append(Problem(path, f"{where}no valid depth (every value is 0)"))
        return
    low, high = float(valid.min()), float(valid.max())
    result.depth_min = low if result.depth_min is None else min(result.depth_min, low)
    result.depth_max = high if result.depth_max is None else max(result.depth_max, high)
    if high > MAX_PLAUSIBLE_DEPTH:
        result.problems.append(
            Problem(
                path,
                f"{where}depth up to {high:.4g} m, beyond {MAX_PLAUSIBLE_DEPTH:g} m: is the "
                "depth scale right (depth_scale in meta.json)?",
            )
        )


def _intrinsics_problems(path: Path, K: np.ndarray, size: tuple[int, int]) -> list[Problem]:
    """Sanity of K for images of ``size`` (height, width)."""
    height, width = size
    problems = []
    if not np.allclose(K[2], [0.0, 0.0, 1.0]) or K[1, 0] != 0 or not np.all(np.isfinite(K)):
        expected = "[[fx, s, cx], [0, fy, cy], [0, 0, 1]]"
        return [Problem(path, f"expected K = {expected}, found {K.tolist()}")]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if not (-0.5 <= cx <= width - 0.5 and -0.5 <= cy <= height - 0.5):
        problems.append(
            Problem(
                path,
                f"principal point ({cx:.1f}, {cy:.1f}) is outside the {width}x{height} image "
                "(is K for another image size?)",
            )
        )
    if fx <= 0 or fy <= 0:
        return [*problems, Problem(path, f"focal lengths must be positive, found {fx}, {fy}")]
    low, high = FOV_RANGE_DEG
    fov_x = math.degrees(2 * math.atan(width / (2 * fx)))
    fov_y = math.degrees(2 * math.atan(height / (2 * fy)))
    if not (low <= fov_x <= high and low <= fov_y <= high):
        problems.append(
            Problem(
                path,
                f"focal lengths fx {fx:.4g}, fy {fy:.4g} give a {fov_x:.1f} x {fov_y:.1f} degree "
                f"field of view on {width}x{height} images (plausible: {low:g}-{high:g}); is K "
                "in pixels of these images?",
            )
        )
    if not 1 / MAX_ASPECT <= fx / fy <= MAX_ASPECT:
        problems.append(Problem(path, f"fx / fy = {fx / fy:.3g}: pixels far from square"))
    return problems


# --- NYU ------------------------------------------------------------------------------------


def _check_nyu_labeled(report: CheckReport, split: str | None, workers: int) -> None:
    import h5py

    from monodepthkit.data import nyu

    root = report.root
    path = root if root.suffix == ".mat" else root / nyu.LABELED_FILE
    try:
        (height, width), count = nyu._inspect_labeled(path, "depths")
    except MdkError as exc:
        report.problems.append(Problem(path, _strip(exc, path)))
        return
    report.counts = {"frames": count}
    splits_path = path.parent / nyu.SPLITS_FILE
    frames = np.arange(count)
    if splits_path.is_file():
        try:
            official = nyu.read_official_split(splits_path)
        except MdkError as exc:
            report.problems.append(Problem(splits_path, _strip(exc, splits_path)))
        else:
            report.counts.update({f"official {k}": len(v) for k, v in official.items()})
            both = np.intersect1d(official["train"], official["test"])
            if len(both):
                report.problems.append(
                    Problem(splits_path, f"{len(both)} frames are in both train and test")
                )
            every = np.concatenate(list(official.values()))
            if every.min() < 0 or every.max() >= count:
                report.problems.append(
                    Problem(
                        splits_path,
                        f"indices must be 1..{count} (1-based), found {every.min() + 1}.."
                        f"{every.max() + 1}",
                    )
                )
            if split in official:
                frames = official[split][(official[split] >= 0) & (official[split] < count)]
    chunks = [frames[i : i + 32] for i in range(0, len(frames), 32)]

    def task(chunk: np.ndarray) -> _FrameResult:
        result = _FrameResult()
        try:
            with h5py.File(path, "r") as mat:
                for frame in chunk:
                    name = f"frame {int(frame) + 1}"
                    try:
                        _, depth = nyu.read_labeled_frame(mat, int(frame))
                    except (OSError, ValueError) as exc:
                        result.problems.append(Problem(path, f"{name}: unreadable ({exc})"))
                        continue
                    if not np.all(np.isfinite(depth)):
                        result.problems.append(Problem(path, f"{name}: non-finite depth values"))
                    _depth_values(path, np.nan_to_num(depth), result, name)
        except OSError as exc:
            result.problems.append(Problem(path, f"cannot read the file ({exc})"))
        return result

    _collect(report, _run_parallel([lambda c=c: task(c) for c in chunks], workers))
    report.counts["checked"] = len(frames)
    report.counts[f"{width}x{height}"] = count


def _check_nyu_raw(report: CheckReport, split: str | None, workers: int) -> None:
    from monodepthkit.data import nyu

    root = report.root
    if not root.is_dir():
        report.problems.append(Problem(root, "NYU raw folder not found; " + _RAW_LAYOUT))
        return
    scenes = nyu.find_raw_scenes(root)
    if not scenes:
        message = "no scene folder with r-*.ppm frames; " + _RAW_LAYOUT
        report.problems.append(Problem(root, message))
        return
    if split not in (None, "all"):
        try:
            entries = nyu._read_raw_split(root, split, {s.name: nyu.sync_scene(s) for s in scenes})
        except MdkError as exc:
            report.problems.append(Problem(root / "splits" / f"{split}.txt", _strip(exc)))
        else:
            wanted = {name for name, _ in entries}
            scenes = [s for s in scenes if s.name in wanted]
    tasks, rgb_count, depth_count, synced = [], 0, 0, 0
    for scene in scenes:
        for entry in sorted(scene.iterdir()):
            name = entry.name
            if name.startswith(("r-", "d-")) and nyu.parse_raw_name(name) is None:
                report.problems.append(
                    Problem(entry, "not a raw frame name r-<time>-<n>.ppm / d-<time>-<n>.pgm")
                )
            elif name.startswith("r-"):
                rgb_count += 1
                tasks.append(lambda p=entry: _raw_rgb(p))
            elif name.startswith("d-"):
                depth_count += 1
                tasks.append(lambda p=entry: _raw_depth(p))
        synced += sum(frame.depth is not None for frame in nyu.sync_scene(scene))
    _collect(report, _run_parallel(tasks, workers))
    report.counts = {
        "scenes": len(scenes),
        "rgb frames": rgb_count,
        "depth frames": depth_count,
        "rgb frames with depth within 0.04 s": synced,
    }


_RAW_LAYOUT = "expected ROOT/SCENE/r-<time>-<n>.ppm and d-<time>-<n>.pgm (NYU raw dumps)"


def _raw_rgb(path: Path) -> _FrameResult:
    from monodepthkit.data.nyu import NYU_SIZE

    result = _FrameResult()
    size = _decode_image(path, result)
    if size is not None and size != NYU_SIZE:
        result.problems.append(Problem(path, f"expected 640x480, found {_wh(size)}"))
    return result


def _raw_depth(path: Path) -> _FrameResult:
    from monodepthkit.data.nyu import NYU_SIZE, kinect_disparity_to_depth, read_raw_disparity

    result = _FrameResult()
    try:
        disparity = read_raw_disparity(path)
    except MdkError as exc:
        result.problems.append(Problem(path, "unreadable depth: " + _strip(exc, path)))
        return result
    if disparity.shape != NYU_SIZE:
        result.problems.append(Problem(path, f"expected 640x480, found {_wh(disparity.shape)}"))
    _depth_values(path, kinect_disparity_to_depth(disparity, max_depth=None), result)
    return result


# --- any other dataset: load every sample ----------------------------------------------------


def _check_samples(builder: Callable, report: CheckReport, split: str | None, workers: int):
    from monodepthkit.data.batch import DEPTH, IMAGE, INTRINSICS, NAME, validate_batch

    try:
        dataset = builder(report.root, split=split or "all")
    except Exception as exc:  # bad data must become a problem, whatever the builder raises
        report.problems.append(Problem(report.root, _describe(exc, report.root)))
        return

    def task(index: int) -> _FrameResult:
        result = _FrameResult()
        try:
            sample = dataset[index]
            validate_batch(sample, batched=False)
        except Exception as exc:
            result.problems.append(Problem(report.root, f"sample {index}: {_describe(exc)}"))
            return result
        where = Path(str(sample.get(NAME, f"sample {index}")))
        size = tuple(sample[IMAGE].shape[-2:])
        result.size = size
        if DEPTH in sample:
            _depth_values(where, sample[DEPTH][0].numpy(), result)
        if INTRINSICS in sample:
            K = sample[INTRINSICS].double().numpy()
            result.problems += _intrinsics_problems(where, K, size)
        return result

    results = _run_parallel([lambda i=i: task(i) for i in range(len(dataset))], workers)
    _collect(report, results)
    report.counts = {"samples": len(dataset)}


# --- shared ----------------------------------------------------------------------------------


def _run_parallel(tasks: Iterable[Callable[[], _FrameResult]], workers: int) -> list:
    tasks = list(tasks)
    if workers <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda task: task(), tasks))


def _collect(report: CheckReport, results: list[_FrameResult]) -> None:
    lows = [r.depth_min for r in results if r.depth_min is not None]
    highs = [r.depth_max for r in results if r.depth_max is not None]
    if lows:
        report.depth_range = (min(lows), max(highs))
    for result in results:
        report.problems += result.problems


def _strip(exc: BaseException, path: Path | None = None) -> str:
    """An error message without its leading "PATH: " (the problem names the path already)."""
    message = " ".join(str(exc).split())
    if path is not None:
        message = message.removeprefix(f"{path}: ")
    return message


def _describe(exc: BaseException, path: Path | None = None) -> str:
    """A user error's message, or an unexpected exception's type and message."""
    if isinstance(exc, MdkError):
        return _strip(exc, path)
    return f"{type(exc).__name__}: {_strip(exc, path)}"


def _wh(size: tuple[int, ...]) -> str:
    return f"{size[1]}x{size[0]}"


_CHECKERS: dict[str, Callable[[CheckReport, str | None, int], None]] = {
    "folder": _check_folder,
    "synthetic": _check_folder,
    "nyu_labeled": _check_nyu_labeled,
    "nyu_raw": _check_nyu_raw,
}
