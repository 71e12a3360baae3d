"""Evaluation data: any registered dataset at full resolution, with its ground truth.

`build_eval_dataset` builds a registered dataset the way evaluation reads it (the files' size,
no augmentation); `GroundTruthFrames` pairs each frame with its full-resolution ground truth
(from a table such as `mdk data kitti-gt`'s .npz, the dataset's ``depth(index)`` or the sample's
``depth``); `iter_ground_truth` gives the ground truth alone, for scoring saved predictions.
Running a model on these frames is `monodepthkit.inference.evaluate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from monodepthkit.data import batch as keys
from monodepthkit.errors import MdkError

DATASET_PROTOCOLS: dict[str, str] = {"kitti": "kitti", "nyu_labeled": "nyu", "nyu_raw": "nyu"}
"""Default evaluation protocol of a dataset (``none`` for the others)."""


def default_protocol(dataset: str) -> str:
    """``kitti`` for KITTI, ``nyu`` for the NYU datasets, ``none`` otherwise."""
    return DATASET_PROTOCOLS.get(dataset, "none")


def build_eval_dataset(
    dataset: str,
    root: str | Path,
    split: str = "test",
    options: dict[str, Any] | None = None,
    require_depth: bool = True,
) -> Dataset:
    """Build a registered dataset for evaluation: full-resolution frames, no augmentation.

    ``split`` is read as the dataset understands it, plus two conveniences:

    - ``kitti``: a split name (``eigen``, ``eigen_benchmark``, ...) or the path of a split file;
      ground truth is Velodyne (variant ``monodepth2``) except annotated for ``eigen_benchmark``
      (override with ``options={"gt": ..., "variant": ...}``).
    - ``nyu_labeled``: a split scheme (``official`` = the 654 test frames of ``splits.mat``,
      ``report2``, ``report5``: their test split), ``SCHEME/SPLIT`` (``report2/val``), or a
      split of the ``split_scheme`` option (``test``, ...).

    Args:
        dataset: a registered name (`monodepthkit.data.registry.list_datasets`).
        root: the dataset root.
        split: the split (see above).
        options: dataset-specific builder options (as ``data.dataset_options`` in configs).
        require_depth: fail unless every frame has ground truth.

    Returns:
        The dataset; its samples follow the batch contract at the files' resolution.

    Raises:
        MdkError: an unknown dataset, a bad option, or the dataset's own errors.
    """
    from monodepthkit.data.registry import get_dataset_builder

    builder = get_dataset_builder(dataset)
    options = dict(options or {})
    split_name = str(split)
    if dataset == "kitti":
        path = Path(split_name)
        if path.suffix == ".txt" or path.is_file():
            options.setdefault("split_file", path)
    elif dataset == "nyu_labeled":
        from monodepthkit.data.nyu import SPLIT_SCHEMES

        scheme, _, part = split_name.partition("/")
        if scheme in SPLIT_SCHEMES:
            options["split_scheme"] = scheme
            split_name = part or "test"
    try:
        return builder(
            Path(root),
            split=split_name,
            frame_offsets=(),
            stereo=False,
            image_size=None,
            require_depth=require_depth,
            augment=None,
            **options,
        )
    except TypeError as exc:
        raise MdkError(
            f"dataset {dataset!r}: bad option in {sorted(options)} ({exc}); see the dataset's "
            "docstring for its options"
        ) from None


class GroundTruthFrames(Dataset):
    """(name, image [3, H, W] in [0, 1], ground truth [H', W'] float32 metres) of each frame.

    Ground truth comes, by priority, from ``table[name]``, the dataset's ``depth(index)``
    (KITTI: the full calibration-size map, whatever the image size) or the sample's ``depth``.

    Args:
        dataset: samples with ``name`` and ``image`` (and ``depth`` [1, H, W] metres unless
            ``table`` or ``dataset.depth`` gives it).
        table: optional {sample name: [H, W] metres} (e.g. from `mdk data kitti-gt`).
    """

    def __init__(self, dataset: Dataset, table: dict[str, np.ndarray] | None = None) -> None:
        self.dataset = dataset
        self.table = table

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[str, torch.Tensor, np.ndarray]:
        sample = self.dataset[index]
        name = sample[keys.NAME]
        return name, sample[keys.IMAGE], self.ground_truth(index, name, sample)

    def ground_truth(self, index: int, name: str, sample: dict | None = None) -> np.ndarray:
        """The [H, W] float32 ground truth in metres of frame ``index`` named ``name``; the
        sample is only read when neither the table nor ``dataset.depth`` gives it.

        Raises:
            MdkError: the frame has no ground truth.
        """
        if self.table is not None:
            gt = self.table[name]
        elif callable(getattr(self.dataset, "depth", None)):
            gt = self.dataset.depth(index)
        else:
            gt = (sample if sample is not None else self.dataset[index]).get(keys.DEPTH)
        if gt is None:
            raise MdkError(
                f"{name}: the dataset gives no ground-truth depth for this frame; evaluate a "
                "split with depth, or pass ground truth (--gt-npz)"
            )
        if isinstance(gt, torch.Tensor):
            gt = gt.detach().cpu().numpy()
        gt = np.asarray(gt, dtype=np.float32)
        while gt.ndim > 2 and gt.shape[0] == 1:
            gt = gt[0]
        return gt


def iter_ground_truth(dataset: Dataset) -> Iterator[tuple[str, np.ndarray]]:
    """(name, [H, W] float32 metres) of every frame of a dataset, at full resolution (see
    `GroundTruthFrames` for where the ground truth comes from).

    KITTI decodes no image: its names come from the split entries and its ground truth from
    ``depth(index)``.
    """
    frames = GroundTruthFrames(dataset)
    if callable(getattr(dataset, "depth", None)):
        for index, name in enumerate(dataset_names(dataset)):
            yield name, frames.ground_truth(index, name)
        return
    for index in range(len(dataset)):
        sample = dataset[index]
        yield sample[keys.NAME], frames.ground_truth(index, sample[keys.NAME], sample)


def dataset_names(dataset: Dataset) -> list[str]:
    """The sample names of a dataset, in order (KITTI without reading any file)."""
    from monodepthkit.data.kitti import KittiDataset, sample_name

    if isinstance(dataset, KittiDataset):
        return [sample_name(entry) for entry in dataset.entries]
    return [dataset[index][keys.NAME] for index in range(len(dataset))]


def npz_ground_truth(path: str | Path, dataset: Dataset) -> dict[str, np.ndarray]:
    """{name: [H, W] metres} of a ground-truth .npz (`mdk data kitti-gt`, or Monodepth2's
    ``gt_depths.npz`` matched by order) for the frames of ``dataset``.

    Raises:
        MdkError: a file without names whose length differs from the dataset's, or frames the
            file has no ground truth for.
    """
    from monodepthkit.data.kitti import load_gt_depths

    names, depths = load_gt_depths(path)
    wanted = dataset_names(dataset)
    if not any(names):
        if len(depths) != len(wanted):
            raise MdkError(
                f"{path}: {len(depths)} ground-truth maps without names for {len(wanted)} "
                "frames; write the file for this split with `mdk data kitti-gt`"
            )
        return dict(zip(wanted, depths, strict=True))
    table = dict(zip(names, depths, strict=True))
    missing = [name for name in wanted if name not in table]
    if missing:
        raise MdkError(
            f"{path}: no ground truth for {len(missing)} of {len(wanted)} frames (e.g. "
            f"{missing[0]!r}); write the file for this split with `mdk data kitti-gt`"
        )
    return {name: table[name] for name in wanted}
