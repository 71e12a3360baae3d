"""Dataset over the generic folder format (synthetic worlds and users' own folders).

The on-disk layout is documented in `monodepthkit.data.io`: images with optional depth (16-bit
PNG with a declared scale, ``.npy`` or ``.exr`` metres), intrinsics from a file or a field of
view, optional poses, timestamps and stereo partners, and sequences of frames for
self-supervision. Samples follow the batch contract of `monodepthkit.data.batch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from monodepthkit.data.folder_index import (
    SequenceFiles,
    find_sequences,
    read_split_lines,
    split_path,
)
from monodepthkit.data.io import (
    DEPTH_SCALE,
    ResizeCache,
    depth_size,
    image_size,
    intrinsics_from_fov,
    read_depth,
    read_matrix,
    read_meta,
    read_poses,
    read_rgb,
)
from monodepthkit.data.registry import register_dataset
from monodepthkit.data.sample import ContextFrame, StereoPartner, build_sample
from monodepthkit.data.transforms import AugmentOptions
from monodepthkit.errors import MdkError

ALL_FRAMES = "all"


@dataclass
class _Sequence:
    """One sequence: its files (`SequenceFiles`) and the per-sequence files, read."""

    files: SequenceFiles
    K: np.ndarray | None = None
    poses: np.ndarray | None = None  # [N, 4, 4] camera-to-world
    timestamps: np.ndarray | None = None
    T_right_left: np.ndarray | None = None
    position: dict[str, int] = field(default_factory=dict)


@register_dataset("folder")
@register_dataset("synthetic")
class FolderDataset(Dataset):
    """Frames of a folder-format dataset, with optional context frames and stereo partner.

    Args:
        root: dataset folder (see `monodepthkit.data.io`).
        split: name of ``ROOT/splits/SPLIT.txt``, or ``"all"`` for every frame.
        frame_offsets: context offsets to load besides the target, e.g. ``(-1, 1)``; frames
            without all their neighbours are skipped. Each comes with ``T_{offset:+d}`` when
            the sequence has ``poses.txt`` and ``dt_{offset:+d}`` (seconds) when it has
            ``timestamps.txt``.
        stereo: also load the stereo partner (``image_right/``) and ``T_stereo``.
        image_size: (height, width) to resize to; None keeps the files' size.
        flip: mirror each sample left-right with probability 0.5 (training augmentation); a
            shorthand for ``augment=AugmentOptions()``, and it switches flips on in ``augment``.
        require_depth: fail unless every frame has a depth map.
        augment: training augmentation of each sample (flip, colour jitter, scale-and-crop,
            channel swap; see `AugmentOptions`); None = none (unless ``flip``). Give it for the
            training split only. Random draws use torch's global RNG, which DataLoader seeds
            per worker.
        cache_dir: keep downscaled ``.npy`` copies of images and depth maps here, made on
            first read (`monodepthkit.data.io.ResizeCache`); use it when decoding large PNGs
            starves training. None = read the files every time. Copies hold metres, so
            delete the folder after changing ``depth_scale``.

    Raises:
        MdkError: a missing folder or file, an unreadable image, or mismatched sizes.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = ALL_FRAMES,
        frame_offsets: tuple[int, ...] | list[int] = (),
        stereo: bool = False,
        image_size: tuple[int, int] | None = None,
        flip: bool = False,
        require_depth: bool = False,
        augment: AugmentOptions | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise MdkError(
                f"{self.root}: data folder not found (create it with `mdk data synth --out "
                f"{self.root}` or point to your own folder)"
            )
        meta = read_meta(self.root)
        self.depth_scale = float(meta.get("depth_scale", DEPTH_SCALE))
        self.fov = _field_of_view(self.root, meta)
        self.frame_offsets = tuple(int(o) for o in frame_offsets if int(o) != 0)
        self.stereo = stereo
        self.image_size = tuple(image_size) if image_size is not None else None
        self.flip = flip
        if flip:
            augment = replace(augment, flip=True) if augment else AugmentOptions(flip=True)
        self.augment = augment if augment is not None and augment.enabled else None
        self.cache = (
            ResizeCache(cache_dir, self.root, self.image_size) if cache_dir is not None else None
        )
        self.sequences = _read_sequences(self.root)
        entries = _read_split(self.root, split, self.sequences)
        self.samples: list[tuple[_Sequence, str]] = []
        for name, stem in entries:
            sequence = self.sequences[name]
            if all(
                0 <= sequence.position[stem] + o < len(sequence.position)
                for o in self.frame_offsets
            ):
                self.samples.append((sequence, stem))
        if not self.samples:
            raise MdkError(
                f"{self.root}: split '{split}' has no usable frame (offsets {self.frame_offsets} "
                "need neighbours on both sides; check the split file and the sequence lengths)"
            )
        used = {id(s): s for s, _ in self.samples}.values()
        for sequence in used:
            self._check_sequence(sequence, require_depth)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sequence, stem = self.samples[index]
        files = sequence.files
        image, source_size = self._read_image(files.images[stem])
        depth = self._read_depth(files.depth_files[stem]) if files.has_depth else None
        K = sequence.K
        if K is None and self.fov is not None:
            K = intrinsics_from_fov(self.fov[0], source_size, self.fov[1])
        position = sequence.position[stem]
        context = {}
        for offset in self.frame_offsets:
            neighbour = files.stems[position + offset]
            T = dt = None
            if sequence.poses is not None:
                T = np.linalg.inv(sequence.poses[position + offset]) @ sequence.poses[position]
            if sequence.timestamps is not None:
                dt = sequence.timestamps[position + offset] - sequence.timestamps[position]
            context[offset] = ContextFrame(self._read_image(files.images[neighbour])[0], T, dt)
        stereo = None
        if self.stereo:
            right, _ = self._read_image(_stereo_image(files, stem))
            right_depth = files.right_depth_files.get(stem)
            stereo = StereoPartner(
                right,
                sequence.T_right_left,
                self._read_depth(right_depth) if right_depth is not None else None,
            )
        return build_sample(
            f"{files.name}/{stem}",
            image,
            size=self.image_size or source_size,
            depth=depth,
            K=K,
            K_size=source_size,
            context=context,
            stereo=stereo,
            speed=_speed(sequence, position),
            augment=self.augment,
        )

    def _read_image(self, path: Path) -> tuple[np.ndarray, tuple[int, int]]:
        """([h, w, 3] uint8 image, (H, W) of the file): from the cache when there is one."""
        if self.cache is not None:
            return self.cache.rgb(path)
        image = read_rgb(path)
        return image, image.shape[:2]

    def _read_depth(self, path: Path) -> np.ndarray:
        """[h, w] float32 metres, through the cache when there is one."""
        if self.cache is not None:
            return self.cache.depth(path, self._decode_depth)
        return self._decode_depth(path)

    def _decode_depth(self, path: Path) -> np.ndarray:
        return read_depth(path, self.depth_scale)

    def _check_sequence(self, sequence: _Sequence, require_depth: bool) -> None:
        """Check every file the samples will read, once, so bad data fails before training."""
        files = sequence.files
        if require_depth and not files.has_depth:
            raise MdkError(
                f"{files.path}: no depth/ folder, but this task needs ground-truth depth "
                "(add depth/FRAME.png files, 16-bit, metres x 256, or .npy float metres)"
            )
        needs_K = bool(self.frame_offsets) or self.stereo
        if needs_K and sequence.K is None and self.fov is None:
            raise MdkError(
                f"{files.path / 'intrinsics.txt'}: file not found (needed for context "
                'frames; or set "fov_deg" in meta.json)'
            )
        if self.stereo and sequence.T_right_left is None:
            raise MdkError(f"{files.stereo}: file not found (needed for stereo)")
        for stem in files.stems:
            image = files.images[stem]
            size = image_size(image)
            if files.has_depth:
                depth_path = files.depth_files.get(stem)
                if depth_path is None:
                    raise MdkError(
                        f"{image}: image has no depth map; expected "
                        f"{files.path / 'depth' / stem}.png (or .npy, .exr) (add it, or "
                        "remove the image)"
                    )
                found = depth_size(depth_path)
                if found != size:
                    raise MdkError(
                        f"{depth_path}: depth is {found[1]}x{found[0]} (WxH) but its "
                        f"image {image.name} is {size[1]}x{size[0]}; they must match"
                    )
            if self.stereo:
                _stereo_image(files, stem)


def _read_sequences(root: Path) -> dict[str, _Sequence]:
    found = find_sequences(root)
    if not found:
        raise MdkError(
            f"{root}: no image/ folder found in it or its sub-folders; expected "
            "ROOT/image/*.png or "
            "ROOT/SEQUENCE/image/*.png (see `mdk data synth --help` for the layout)"
        )
    sequences = {}
    for name, files in found.items():
        if not files.images:
            raise MdkError(f"{files.path / 'image'}: no .png/.jpg images in it")
        count = len(files.stems)
        sequence = _Sequence(files, position={stem: i for i, stem in enumerate(files.stems)})
        if files.intrinsics.is_file():
            sequence.K = read_matrix(files.intrinsics, (3, 3))
        if files.poses.is_file():
            sequence.poses = read_poses(files.poses, count)
        if files.timestamps.is_file():
            sequence.timestamps = read_matrix(files.timestamps, (count,))
        if files.stereo.is_file():
            sequence.T_right_left = read_matrix(files.stereo, (4, 4))
        sequences[name] = sequence
    return sequences


def _field_of_view(root: Path, meta: dict) -> tuple[float, str] | None:
    """(fov_deg, fov_axis) from meta.json, validated, or None."""
    if "fov_deg" not in meta:
        return None
    fov, axis = meta["fov_deg"], meta.get("fov_axis", "horizontal")
    try:
        intrinsics_from_fov(float(fov), (2, 2), axis)
    except (MdkError, TypeError, ValueError) as exc:
        raise MdkError(f"{root / 'meta.json'}: {exc}") from None
    return float(fov), axis


def _read_split(root: Path, split: str, sequences: dict[str, _Sequence]) -> list[tuple[str, str]]:
    if split == ALL_FRAMES:
        return [(name, stem) for name, seq in sequences.items() for stem in seq.files.stems]
    path = split_path(root, split)
    if not path.is_file():
        raise MdkError(
            f"{path}: split file not found; write one 'SEQUENCE FRAME' line per frame, "
            f"or use split '{ALL_FRAMES}' for every frame"
        )
    entries = []
    for line in read_split_lines(path):
        if line.name is None:
            raise MdkError(
                f"{path}:{line.number}: expected 'SEQUENCE FRAME', found '{line.text.strip()}'"
            )
        if line.name not in sequences or line.stem not in sequences[line.name].position:
            raise MdkError(
                f"{path}:{line.number}: frame '{line.name} {line.stem}' has no image in "
                f"{root / line.name / 'image'}"
            )
        entries.append((line.name, line.stem))
    return entries


def _stereo_image(files: SequenceFiles, stem: str) -> Path:
    path = files.stereo_image(stem)
    if path is None:
        raise MdkError(
            f"{files.right_images / stem}.png: stereo image not found (expected .png or .jpg)"
        )
    return path


def _speed(sequence: _Sequence, position: int) -> float | None:
    """Camera speed in m/s at a frame, by central differences of poses over timestamps."""
    count = len(sequence.position)
    if sequence.poses is None or sequence.timestamps is None or count < 2:
        return None
    before, after = max(position - 1, 0), min(position + 1, count - 1)
    elapsed = sequence.timestamps[after] - sequence.timestamps[before]
    if elapsed <= 0:
        return None
    distance = np.linalg.norm(sequence.poses[after][:3, 3] - sequence.poses[before][:3, 3])
    return float(distance / elapsed)
