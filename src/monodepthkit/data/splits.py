"""KITTI split files: the standard frame lists of the Eigen, Eigen-Zhou and odometry protocols.

The files are the ones published with Monodepth2, SfMLearner and BTS; their licences forbid
shipping them here, so `download_splits` fetches them once (on a machine with internet) into::

    DEST/eigen/test_files.txt              Eigen test, 697 frames (Velodyne ground truth)
    DEST/eigen_benchmark/test_files.txt    Eigen benchmark, 652 frames (annotated ground truth)
    DEST/eigen_zhou/{train,val}_files.txt  Zhou et al.'s Eigen training split, 39810 / 4424
    DEST/eigen_full/{train,val}_files.txt  Eigen's full training split
    DEST/odom/{train,val}_files.txt        odometry sequences 00-08 ...
    DEST/odom/test_files_{09,10}.txt       ... and the test sequences 09 and 10
    DEST/benchmark/{train,val,test}_files.txt   the KITTI depth prediction benchmark
    DEST/sfmlearner/static_frames.txt      Zhou et al.'s static frames ("DATE DRIVE FRAME")
    DEST/bts/eigen_test_files_with_gt.txt  Eigen test with annotated-depth paths (BTS)

Formats (one frame per line, whitespace separated):

- Monodepth2 (``read_split_file``): ``FOLDER FRAME SIDE``, e.g.
  ``2011_09_26/2011_09_26_drive_0002_sync 69 l``; FRAME is an integer (zero padding optional),
  SIDE is ``l``/``r`` (or ``2``/``3``) and may be missing (= ``l``). Odometry files use the
  sequence number as FOLDER (``9 0 l``); the benchmark files use ``image``.
- Image paths (SfMLearner's ``test_files_eigen.txt``, BTS): ``DATE/DRIVE/image_0X/data/FRAME.png
  [DEPTH_PATH|None FOCAL]``; read by the same function.
- Static frames: ``DATE DRIVE FRAME`` (`read_static_frames`).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monodepthkit.errors import MdkError

SIDES = {"l": 2, "r": 3, "2": 2, "3": 3}
"""Split-file side -> KITTI camera index (2 = left colour, 3 = right colour); entries store
``"l"``/``"r"``."""

SPLIT_FILES: dict[str, str] = {
    "eigen": "eigen/test_files.txt",
    "eigen_benchmark": "eigen_benchmark/test_files.txt",
    "eigen_zhou/train": "eigen_zhou/train_files.txt",
    "eigen_zhou/val": "eigen_zhou/val_files.txt",
    "eigen_full/train": "eigen_full/train_files.txt",
    "eigen_full/val": "eigen_full/val_files.txt",
    "odom/train": "odom/train_files.txt",
    "odom/val": "odom/val_files.txt",
    "odom/test_09": "odom/test_files_09.txt",
    "odom/test_10": "odom/test_files_10.txt",
    "benchmark/train": "benchmark/train_files.txt",
    "benchmark/val": "benchmark/val_files.txt",
    "benchmark/test": "benchmark/test_files.txt",
}
"""Split name -> file inside the splits folder written by `download_splits`."""

STATIC_FRAMES_FILE = "sfmlearner/static_frames.txt"
BTS_EIGEN_FILE = "bts/eigen_test_files_with_gt.txt"

_MONODEPTH2 = (
    "https://raw.githubusercontent.com/nianticlabs/monodepth2/"
    "b676244e5a1ca55564eb5d16ab521a48f823af31/splits/"
)
_SFMLEARNER = (
    "https://raw.githubusercontent.com/tinghuiz/SfMLearner/"
    "65f71f10da7a0576961a869ec3b3c1a68e89f188/data/kitti/"
)
_BTS = (
    "https://raw.githubusercontent.com/cleinc/bts/"
    "5e3406b35d1497b2e55d2dd600524d1f4efacaed/train_test_inputs/"
)
DOWNLOADS: dict[str, str] = {
    **{path: _MONODEPTH2 + path for path in SPLIT_FILES.values()},
    STATIC_FRAMES_FILE: _SFMLEARNER + "static_frames.txt",
    BTS_EIGEN_FILE: _BTS + "eigen_test_files_with_gt.txt",
}
"""File in the splits folder -> the official URL (pinned commits) it is downloaded from."""


@dataclass(frozen=True)
class SplitEntry:
    """One frame of a split.

    Attributes:
        folder: drive folder relative to the KITTI raw root
            (``"2011_09_26/2011_09_26_drive_0002_sync"``), or the odometry sequence (``"9"``).
        frame: frame index (the file stem as an integer).
        side: ``"l"`` (camera 2) or ``"r"`` (camera 3).
        depth_path: annotated ground-truth path relative to the annotated-depth root, as BTS
            files give it; None when the file gives none (BTS writes ``None`` for 45 Eigen
            frames without annotated depth).
        focal: focal length in pixels, when the file gives it (BTS).
    """

    folder: str
    frame: int
    side: str = "l"
    depth_path: str | None = None
    focal: float | None = None

    @property
    def date(self) -> str:
        """Recording date folder (``"2011_09_26"``)."""
        return self.folder.split("/")[0]

    @property
    def drive(self) -> str:
        """Drive folder name (``"2011_09_26_drive_0002_sync"``)."""
        return self.folder.rstrip("/").split("/")[-1]

    @property
    def camera(self) -> int:
        """KITTI camera index: 2 (left colour) or 3 (right colour)."""
        return SIDES[self.side]

    def __str__(self) -> str:
        return f"{self.folder} {self.frame} {self.side}"


def read_split_file(path: str | Path) -> list[SplitEntry]:
    """Read a split file in the Monodepth2 or the image-path format (see the module docstring).

    Args:
        path: the split file.

    Returns:
        The entries in file order (duplicates kept: Eigen-Zhou lists most frames twice, once
        per side).

    Raises:
        MdkError: a missing file, or a line in neither format (naming the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: split file not found")
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            entries.append(_parse_line(fields))
        except (ValueError, KeyError, IndexError):
            raise MdkError(
                f"{path}:{number}: expected 'FOLDER FRAME [SIDE]' (e.g. '2011_09_26/"
                "2011_09_26_drive_0002_sync 69 l') or 'DATE/DRIVE/image_02/data/FRAME.png ...', "
                f"found '{line.strip()}'"
            ) from None
    return entries


def _parse_line(fields: list[str]) -> SplitEntry:
    if "/image_0" in fields[0] and "/data/" in fields[0]:
        # DATE/DRIVE/image_0X/data/FRAME.ext [DEPTH_PATH|None FOCAL]
        parts = fields[0].split("/")
        camera_folder, stem = parts[-3], parts[-1].rsplit(".", 1)[0]
        side = {"image_02": "l", "image_03": "r"}[camera_folder]
        depth = fields[1] if len(fields) > 1 and fields[1] != "None" else None
        focal = float(fields[2]) if len(fields) > 2 else None
        return SplitEntry("/".join(parts[:-3]), int(stem), side, depth, focal)
    if len(fields) not in (2, 3):
        raise ValueError
    side = fields[2] if len(fields) == 3 else "l"
    if side not in SIDES:
        raise ValueError(side)
    return SplitEntry(fields[0], int(fields[1]), "l" if SIDES[side] == 2 else "r")


def read_static_frames(path: str | Path) -> set[tuple[str, int]]:
    """Read Zhou et al.'s static-frame list (``DATE DRIVE FRAME`` per line).

    Args:
        path: ``static_frames.txt`` of SfMLearner.

    Returns:
        The (drive, frame) pairs of frames where the car stands still.

    Raises:
        MdkError: a missing file or a malformed line.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: static-frame file not found")
    frames = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            _, drive, frame = fields
            frames.add((drive, int(frame)))
        except ValueError:
            raise MdkError(
                f"{path}:{number}: expected 'DATE DRIVE FRAME', found '{line.strip()}'"
            ) from None
    return frames


def remove_static_frames(
    entries: Iterable[SplitEntry], static: set[tuple[str, int]]
) -> list[SplitEntry]:
    """Drop the entries whose (drive, frame) is static (both sides of a static frame go).

    Args:
        entries: split entries.
        static: pairs from `read_static_frames`.

    Returns:
        The remaining entries, in order.
    """
    return [entry for entry in entries if (entry.drive, entry.frame) not in static]


def split_file_path(name: str, splits_dir: str | Path) -> Path:
    """The file of a split: a known name (`SPLIT_FILES`) inside ``splits_dir``, or a path.

    Args:
        name: ``"eigen"``, ``"eigen_benchmark"``, ``"eigen_zhou/train"``, ... or the path of a
            split file.
        splits_dir: folder written by `download_splits`.

    Raises:
        MdkError: unknown name, or the file is missing (saying how to get it).
    """
    if name in SPLIT_FILES:
        path = Path(splits_dir) / SPLIT_FILES[name]
        if not path.is_file():
            raise MdkError(
                f"{path}: split file of '{name}' not found; run `mdk data splits --download "
                f"{splits_dir}` on a machine with internet (or copy Monodepth2's splits/ folder "
                "there), or give the path of a split file"
            )
        return path
    path = Path(name)
    if path.is_file():
        return path
    raise MdkError(
        f"unknown split '{name}': expected one of {', '.join(SPLIT_FILES)} or the path of a "
        "split file"
    )


def download_splits(
    dest: str | Path, files: Sequence[str] | None = None, timeout: float = 30.0
) -> list[Path]:
    """Download the official split files (pinned commits of Monodepth2, SfMLearner and BTS).

    Monodepth2's files are under the Monodepth2 licence (non-commercial), SfMLearner's MIT,
    BTS's GPL-3.0; they are downloaded to the user's machine, never bundled.

    Args:
        dest: splits folder; files land at the paths listed in the module docstring.
        files: which files (keys of `DOWNLOADS`); None = all.
        timeout: seconds per request.

    Returns:
        The written files.

    Raises:
        MdkError: an unknown file name, or a download that failed (offline, proxy), naming the
            URL; files downloaded before the failure are kept.
    """
    dest = Path(dest)
    wanted = list(DOWNLOADS) if files is None else list(files)
    unknown = [name for name in wanted if name not in DOWNLOADS]
    if unknown:
        raise MdkError(f"unknown split files {unknown}; known: {', '.join(DOWNLOADS)}")
    written = []
    for name in wanted:
        url = DOWNLOADS[name]
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise MdkError(
                f"could not download {url} ({exc}); this needs internet access: run "
                f"`mdk data splits --download {dest}` on a machine that has it and copy the "
                "folder here"
            ) from None
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written
