"""The file index of the folder format: which files a dataset folder holds, found in one place.

`monodepthkit.data.folder.FolderDataset` (which raises on the first problem) and
`monodepthkit.data.check` (which reports every problem) both find the sequences, frames, depth
maps, stereo partners, per-sequence files and split entries through this index, so the two
never disagree about the layout (documented in `monodepthkit.data.io`). Nothing is decoded here
and nothing raises: missing files are absent entries or paths that do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from monodepthkit.data.io import DEPTH_SUFFIXES, IMAGE_SUFFIXES

INTRINSICS_FILE = "intrinsics.txt"
SPLITS_FOLDER = "splits"


@dataclass(frozen=True)
class SequenceFiles:
    """The files of one sequence folder (``ROOT`` itself or ``ROOT/SEQUENCE``).

    Attributes:
        name: the sequence name in split files and sample names (the folder's name).
        path: the sequence folder.
        images: frame stem -> image (``image/*.png`` or ``.jpg``).
        intrinsics: the sequence's ``intrinsics.txt``, else the root's; it may not exist.
    """

    name: str
    path: Path
    images: dict[str, Path]
    intrinsics: Path

    @cached_property
    def stems(self) -> list[str]:
        """Frame stems in frame order (sorted)."""
        return sorted(self.images)

    @property
    def has_depth(self) -> bool:
        """Whether the sequence has a ``depth/`` folder (then every frame needs a depth map)."""
        return (self.path / "depth").is_dir()

    @cached_property
    def depth_files(self) -> dict[str, Path]:
        """Frame stem -> depth map in ``depth/`` (`list_depth_files`)."""
        return list_depth_files(self.path / "depth")

    @cached_property
    def right_depth_files(self) -> dict[str, Path]:
        """Frame stem -> depth map of the stereo partner in ``depth_right/``."""
        return list_depth_files(self.path / "depth_right")

    @property
    def right_images(self) -> Path:
        """The stereo partners' folder ``image_right/`` (it may not exist)."""
        return self.path / "image_right"

    def stereo_image(self, stem: str) -> Path | None:
        """The stereo partner of frame ``stem`` (``image_right/STEM.png`` or ``.jpg``), or None."""
        return find_image(self.right_images, stem)

    @property
    def poses(self) -> Path:
        """``poses.txt``: one camera-to-world pose per frame (it may not exist)."""
        return self.path / "poses.txt"

    @property
    def timestamps(self) -> Path:
        """``timestamps.txt``: one time in seconds per frame (it may not exist)."""
        return self.path / "timestamps.txt"

    @property
    def stereo(self) -> Path:
        """``stereo.txt``: T_right_left (it may not exist)."""
        return self.path / "stereo.txt"


@dataclass(frozen=True)
class SplitLine:
    """One non-blank line of a split file.

    Attributes:
        number: 1-based line number.
        text: the line as written.
        name: the sequence name, or None when the line is not ``SEQUENCE FRAME``.
        stem: the frame stem, or None likewise.
    """

    number: int
    text: str
    name: str | None
    stem: str | None


def find_sequences(root: Path) -> dict[str, SequenceFiles]:
    """Every sequence of a folder-format dataset.

    Args:
        root: the dataset folder: a single sequence (``ROOT/image/``) or one sequence per
            sub-folder (``ROOT/SEQUENCE/image/``).

    Returns:
        Sequence name -> its files, sorted by folder name; empty when there is no ``image/``
        folder. A sequence may have no image (its ``image/`` folder holds no .png/.jpg).
    """
    folders = (
        [root]
        if (root / "image").is_dir()
        else sorted(p for p in root.iterdir() if (p / "image").is_dir())
    )
    sequences = {}
    for folder in folders:
        images = {
            p.stem: p
            for p in sorted((folder / "image").iterdir())
            if p.suffix.lower() in IMAGE_SUFFIXES
        }
        own = folder / INTRINSICS_FILE
        intrinsics = own if own.is_file() else root / INTRINSICS_FILE
        sequences[folder.name] = SequenceFiles(folder.name, folder, images, intrinsics)
    return sequences


def list_depth_files(folder: Path) -> dict[str, Path]:
    """Depth files of a folder by frame stem; a stem with several takes .png, then .npy, .exr."""
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for suffix in reversed(DEPTH_SUFFIXES):
        for path in folder.glob(f"*{suffix}"):
            found[path.stem] = path
    return found


def find_image(folder: Path, stem: str) -> Path | None:
    """``folder/STEM.png`` (or another image suffix) when it exists, else None."""
    for suffix in IMAGE_SUFFIXES:
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    return None


def split_path(root: Path, split: str) -> Path:
    """``ROOT/splits/SPLIT.txt``."""
    return root / SPLITS_FOLDER / f"{split}.txt"


def read_split_lines(path: Path) -> list[SplitLine]:
    """The non-blank lines of a split file of ``SEQUENCE FRAME`` lines, parsed.

    Args:
        path: an existing split file.

    Returns:
        One `SplitLine` per non-blank line, in file order (malformed lines have no name).
    """
    lines = []
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        parts = text.split()
        if not parts:
            continue
        name, stem = parts if len(parts) == 2 else (None, None)
        lines.append(SplitLine(number, text, name, stem))
    return lines
