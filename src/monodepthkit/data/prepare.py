"""Dataset preparation for the founding reports: from a public dataset's own layout to the
folder-format tree that a report's configs read.

`prepare_report1` builds report 1's KITTI data ("Depth Percepters", section 3 and 5.1): raw
left colour images with dense ground truth completed from the sparse LiDAR by IP-Basic
(Ku et al. 2018), both downscaled to 416x128, about 3824 image-depth pairs, split 60/20/20.
``mdk data prepare report1 --root KITTI --out data/kitti_ipbasic`` runs it; the result is what
``configs/report1_*.yaml`` name as ``data.root``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monodepthkit.data.completion import complete_depth, run_in_threads
from monodepthkit.data.io import read_rgb, write_depth_png, write_matrix, write_rgb
from monodepthkit.data.transforms import resize_depth, resize_image
from monodepthkit.errors import MdkError
from monodepthkit.geometry.camera import scale_intrinsics

# Report 1's numbers: "we trained on only 3824 image-depth map pairs", "downscaled to 416x128",
# "60% of the data in the training set, 20% for validation, and 20% for testing".
REPORT1_PAIRS = 3824
REPORT1_SIZE = (128, 416)
REPORT1_FRACTIONS = (0.6, 0.2, 0.2)


@dataclass(frozen=True)
class _Pair:
    """One left image and its sparse depth source (a velodyne_raw PNG or a Velodyne scan)."""

    drive: str  # "DATE/DATE_drive_XXXX_sync"
    frame: int
    image: Path
    sparse_png: Path | None
    scan: Path | None


def prepare_report1(
    root: str | Path,
    out: str | Path,
    num_pairs: int | None = REPORT1_PAIRS,
    size: tuple[int, int] = REPORT1_SIZE,
    seed: int = 0,
    fractions: tuple[float, float, float] = REPORT1_FRACTIONS,
    split_by: str = "frame",
    workers: int = 4,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Write report 1's IP-Basic KITTI dataset in the folder format.

    Every left colour frame (``image_02``) of the KITTI raw drives under ``root`` that has a
    sparse depth source is a candidate: KITTI depth's ``proj_depth/velodyne_raw/image_02/
    FRAME.png`` when it is merged into the drive (the input IP-Basic was published on),
    otherwise the frame's Velodyne scan projected into camera 2 as camera z-depth
    (`monodepthkit.data.kitti.velodyne_to_depth`, ``camera_z``). ``num_pairs`` of them are drawn
    with ``seed``; each sparse map is completed at full resolution by
    `monodepthkit.data.completion.complete_depth` (the paper's fast pipeline, Gaussian blur,
    extrapolation to the top of the image), then image and depth are downscaled to ``size``
    (area for the image, nearest neighbour for depth) and ``K`` is scaled with them.

    Output (the project's folder format)::

        OUT/meta.json                           depth_scale 256 and how the tree was made
        OUT/splits/{train,val,test}.txt         "SEQUENCE FRAME" per line, seeded split
        OUT/DATE_drive_XXXX_sync/image/FRAME.png
        OUT/DATE_drive_XXXX_sync/depth/FRAME.png    16-bit, metres x 256
        OUT/DATE_drive_XXXX_sync/intrinsics.txt     K at ``size``

    The report splits its pairs at random (``split_by="frame"``, the default), so frames of one
    drive, a few centimetres apart, fall in train and test alike; ``split_by="drive"`` keeps each
    drive in one split (one drive each first, then each drive to the split furthest below its
    share, so sizes follow the drives).

    A second run skips pairs whose files exist (so an interrupted run resumes), unless
    ``overwrite``.

    Args:
        root: KITTI raw root (``ROOT/DATE/calib_*.txt``, ``ROOT/DATE/DATE_drive_XXXX_sync/``).
        out: output folder.
        num_pairs: pairs to draw (the report's 3824); None or more than available: all.
        size: (H, W) of the written images and depth maps, pixels.
        seed: seed of the draw and of the split.
        fractions: train, val, test fractions (sum 1).
        split_by: ``"frame"`` or ``"drive"``.
        workers: parallel threads.
        overwrite: rewrite existing pairs.
        progress: show a progress bar.

    Returns:
        A summary: ``{"pairs": N, "available": M, "splits": {"train": n, ...}, "out": path}``.

    Raises:
        MdkError: no drive or no frame with a depth source under ``root``, a missing
            calibration, bad fractions or split mode.
    """
    from monodepthkit.data.kitti import read_raw_calibration

    if split_by not in ("frame", "drive"):
        raise MdkError(f"split_by '{split_by}': expected 'frame' or 'drive'")
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise MdkError(f"fractions {fractions}: expected three non-negative numbers summing to 1")
    root, out = Path(root), Path(out)
    candidates = _report1_candidates(root)
    rng = np.random.default_rng(seed)
    count = len(candidates) if num_pairs is None else min(num_pairs, len(candidates))
    chosen = sorted(
        (candidates[i] for i in rng.choice(len(candidates), count, replace=False)),
        key=lambda pair: (pair.drive, pair.frame),
    )
    calibrations = {
        drive: read_raw_calibration(root / drive.split("/")[0], drive.split("/")[1])
        for drive in sorted({pair.drive for pair in chosen})
    }
    for drive, calibration in calibrations.items():
        K = scale_intrinsics(calibration.intrinsics(2), calibration.image_size(2), size)
        (out / _sequence(drive)).mkdir(parents=True, exist_ok=True)
        write_matrix(out / _sequence(drive) / "intrinsics.txt", K)

    def run(pair: _Pair) -> None:
        _write_pair(pair, out, size, calibrations[pair.drive], overwrite)

    run_in_threads(run, chosen, workers, "report 1 pairs", "pair", progress)

    splits = _split(chosen, fractions, split_by, rng)
    (out / "splits").mkdir(parents=True, exist_ok=True)
    for name, pairs in splits.items():
        lines = "".join(f"{_sequence(p.drive)} {p.frame:010d}\n" for p in pairs)
        (out / "splits" / f"{name}.txt").write_text(lines)
    meta = {
        "depth_scale": 256,
        "prepared_by": "mdk data prepare report1",
        "source": str(root),
        "pairs": len(chosen),
        "size": list(size),
        "seed": seed,
        "fractions": list(fractions),
        "split_by": split_by,
        "completion": "IP-Basic fill_in_fast (gaussian, extrapolate), camera z-depth",
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return {
        "pairs": len(chosen),
        "available": len(candidates),
        "splits": {name: len(pairs) for name, pairs in splits.items()},
        "out": str(out),
    }


def _report1_candidates(root: Path) -> list[_Pair]:
    """Every left frame of the drives under ``root`` with a sparse depth source."""
    from monodepthkit.data.kitti import KittiDrive, find_drives

    pairs = []
    for name, folder in find_drives(root).items():
        drive = KittiDrive(folder)
        scans = drive.scans()
        raw_pngs = folder / "proj_depth" / "velodyne_raw" / "image_02"
        for frame, image in sorted(drive.images(2).items()):
            png = raw_pngs / f"{frame:010d}.png"
            if png.is_file():
                pairs.append(_Pair(name, frame, image, png, None))
            elif frame in scans:
                pairs.append(_Pair(name, frame, image, None, scans[frame]))
    if not pairs:
        raise MdkError(
            f"{root}: no left image (image_02/data/) with a Velodyne scan "
            "(velodyne_points/data/) or a velodyne_raw depth map; download the raw drives "
            "with their 'synced+rectified data' and Velodyne points"
        )
    return pairs


def _write_pair(pair: _Pair, out: Path, size: tuple[int, int], calibration, overwrite: bool):
    from monodepthkit.data.kitti import read_annotated_depth, read_velodyne, velodyne_to_depth

    sequence = out / _sequence(pair.drive)
    image_path = sequence / "image" / f"{pair.frame:010d}.png"
    depth_path = sequence / "depth" / f"{pair.frame:010d}.png"
    if not overwrite and image_path.is_file() and depth_path.is_file():
        return
    if pair.sparse_png is not None:
        sparse = read_annotated_depth(pair.sparse_png)
    else:
        sparse = velodyne_to_depth(read_velodyne(pair.scan), calibration, 2, "camera_z")
    image = read_rgb(pair.image)
    if image.shape[:2] != sparse.shape:
        raise MdkError(
            f"{pair.image}: image is {image.shape[1]}x{image.shape[0]} but its depth is "
            f"{sparse.shape[1]}x{sparse.shape[0]} (S_rect_02 of the calibration); is the "
            "calibration of another date?"
        )
    write_rgb(image_path, resize_image(image, size))
    write_depth_png(depth_path, resize_depth(complete_depth(sparse), size))


def _split(
    pairs: list[_Pair],
    fractions: tuple[float, float, float],
    split_by: str,
    rng: np.random.Generator,
) -> dict[str, list[_Pair]]:
    """Seeded train/val/test split of the pairs, by frame or by whole drive."""
    names = ("train", "val", "test")
    if split_by == "frame":
        order = rng.permutation(len(pairs))
        bounds = np.round(np.cumsum(fractions) * len(pairs)).astype(int)
        parts = np.split(order, bounds[:2])
        return {
            name: sorted((pairs[i] for i in part), key=_key)
            for name, part in zip(names, parts, strict=True)
        }
    drives = sorted({pair.drive for pair in pairs})
    drives = [drives[i] for i in rng.permutation(len(drives))]
    targets = np.asarray(fractions) * len(pairs)
    splits: dict[str, list[_Pair]] = {name: [] for name in names}
    for index, drive in enumerate(drives):
        # One drive per split first (when there are three), then each drive to the split
        # furthest below its share.
        counts = np.array([len(splits[name]) for name in names])
        choice = index if index < 3 else int(np.argmax(targets - counts))
        splits[names[choice]] += [pair for pair in pairs if pair.drive == drive]
    return {name: sorted(split, key=_key) for name, split in splits.items()}


def _key(pair: _Pair) -> tuple[str, int]:
    return pair.drive, pair.frame


def _sequence(drive: str) -> str:
    """Folder-format sequence name of a drive: its folder name (it starts with the date)."""
    return drive.split("/")[1]
