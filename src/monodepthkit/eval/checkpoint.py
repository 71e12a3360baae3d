"""Evaluate a model on any registered dataset, through the `Predictor`, under the protocol.

One code path (DESIGN.md, "Evaluation protocol")::

    dataset (built by the registry, full-resolution images and ground truth)
      -> Predictor (the same preprocessing and disparity handling as `mdk predict`), its
         output resized once, straight to the ground truth's size
      -> DepthEvaluator (scale, mask, align, clamp, metrics; `monodepthkit.eval.protocol`)

so that ``mdk predict`` followed by ``mdk eval --pred --gt`` gives the numbers of
``mdk eval --checkpoint`` (when the images have the ground truth's size, as KITTI raw and NYU
frames do).

For a Monodepth2 checkpoint (``mdk convert monodepth2``) on KITTI Eigen the order is the one of
Monodepth2's ``evaluate_depth.py``: the network's disparity is resized to the ground-truth size
(bilinear), inverted, the Garg crop and the (1e-3, 80) m range select the pixels, a mono model
is median-scaled per image (a stereo model's depth is the disparity's inverse times 5.4, the
checkpoint's ``depth_scale``), and predictions are clipped to [1e-3, 80] m. Where we differ:

- the image is resized to the network's size with antialiased bilinear interpolation
  (``torch.nn.functional.interpolate(..., antialias=True)``); Monodepth2 uses Pillow's Lanczos
  (``ANTIALIAS``) filter, so inputs differ by a few grey levels;
- the depth network's ``disp -> depth`` conversion is inverted again by the Predictor
  (``1 / (1 / scaled_disp)``), equal to Monodepth2's ``scaled_disp`` up to float32 round-off;
- on ``eigen_benchmark`` the ``kitti`` protocol applies the Garg crop and the 80 m cap to the
  annotated ground truth (as the protocol says); Monodepth2 evaluates every pixel with
  ground truth > 0 on that split.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from monodepthkit.data import batch as keys
from monodepthkit.errors import MdkError
from monodepthkit.eval.protocol import get_protocol
from monodepthkit.eval.report import DepthEvaluator

DATASET_PROTOCOLS: dict[str, str] = {"kitti": "kitti", "nyu_labeled": "nyu", "nyu_raw": "nyu"}
"""Default evaluation protocol of a dataset (``none`` for the others)."""


def select_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; any other value is used as given."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def default_alignment(task: torch.nn.Module) -> str:
    """``"median"`` for a task whose depth is relative (``is_metric`` False), else ``"none"``."""
    return "none" if getattr(task, "is_metric", True) else "median"


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


@torch.no_grad()
def evaluate_predictor(
    predictor,
    dataset: Dataset,
    evaluator: DepthEvaluator,
    ground_truth: dict[str, np.ndarray] | None = None,
    save_predictions: str | Path | None = None,
    batch_size: int = 4,
    num_workers: int = 0,
    progress: bool = True,
) -> DepthEvaluator:
    """Predict every frame of a dataset with a `Predictor` and add it to an evaluator.

    Ground truth comes, by priority, from ``ground_truth[name]``, the dataset's ``depth(index)``
    (KITTI: the full calibration-size map, whatever the image size) or the sample's ``depth``.
    Each prediction is made at its ground truth's size (`Predictor.predict_many`
    ``output_sizes``).

    Args:
        predictor: a `monodepthkit.inference.predictor.Predictor`.
        dataset: samples with ``name`` and ``image`` [3, H, W] (and ``depth`` [1, H, W] metres
            unless ``ground_truth`` or ``dataset.depth`` gives it).
        evaluator: where the images are added (its ``kind`` must be the predictor's
            ``output_kind``).
        ground_truth: optional {sample name: [H, W] metres} (e.g. from `mdk data kitti-gt`).
        save_predictions: also write each prediction as ``DIR/NAME.npy`` (float32, the
            predictor's output at the ground-truth size), for ``mdk eval --pred DIR``.
        batch_size: images per forward pass.
        num_workers: DataLoader worker processes reading the frames.
        progress: show a progress bar.

    Returns:
        ``evaluator``, filled.

    Raises:
        MdkError: a frame without ground truth, or the evaluator's errors.
    """
    if evaluator.kind != predictor.output_kind:
        raise MdkError(
            f"evaluator kind {evaluator.kind!r} differs from the predictor's output "
            f"{predictor.output_kind!r}; build the evaluator with kind=predictor.output_kind"
        )
    for names, images, gts in tqdm(
        _frames(dataset, ground_truth, batch_size, num_workers),
        total=-(-len(dataset) // batch_size),
        desc="evaluating",
        disable=not progress,
    ):
        predictions = predictor.predict_many(images, output_sizes=[gt.shape for gt in gts])
        for name, prediction, gt in zip(names, predictions, gts, strict=True):
            if save_predictions is not None:
                from monodepthkit.inference.writers import write_npy

                write_npy(Path(save_predictions) / f"{name}.npy", prediction)
            evaluator.add(name, prediction, gt)
    return evaluator


@torch.no_grad()
def evaluate_checkpoint(
    checkpoint: str | Path,
    data_root: str | Path,
    split: str = "test",
    protocol: str | None = None,
    align: str | None = None,
    min_depth: float | None = None,
    max_depth: float | None = None,
    scale: float = 1.0,
    input_size: tuple[int, int] | None = None,
    batch_size: int = 4,
    device: str = "auto",
    progress: bool = True,
    dataset: str = "folder",
    dataset_options: dict[str, Any] | None = None,
    gt_npz: str | Path | None = None,
    save_predictions: str | Path | None = None,
    flip: bool = False,
    num_workers: int = 0,
) -> DepthEvaluator:
    """Run a checkpoint on every frame of a dataset split and score it at full resolution.

    The model runs through `Predictor.from_checkpoint` (the training ``image_size`` stored in
    the checkpoint unless ``input_size`` is given); relative models predict disparity, which
    is resized to the ground truth's size and inverted by the protocol, and are median-scaled
    per image unless ``align`` says otherwise (see the module docstring for Monodepth2).

    Args:
        checkpoint: ``.ckpt`` written by `mdk fit`, `mdk demo` or `mdk convert`.
        data_root: the dataset root.
        split: the split (see `build_eval_dataset`); ``"all"`` where the dataset has it.
        protocol: ``none``, ``kitti`` or ``nyu``; None = `default_protocol` of the dataset.
        align: ``none``, ``median``, ``lstsq``, ``scale_shift`` or ``scale_shift_disp``; None =
            `default_alignment` of the task (``median`` for relative models, else ``none``).
        min_depth: smallest evaluated ground truth in metres (None: the protocol's).
        max_depth: largest evaluated ground truth in metres (None: the protocol's).
        scale: fixed factor applied to predictions before alignment (a converted stereo
            Monodepth2 already has 5.4 as its ``depth_scale``).
        input_size: (height, width) fed to the model; None: from the checkpoint.
        batch_size: images per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, ...
        progress: show a progress bar.
        dataset: a registered dataset name (``folder``, ``synthetic``, ``kitti``,
            ``nyu_labeled``, ``nyu_raw``, ...).
        dataset_options: dataset-specific builder options.
        gt_npz: ground truth from `mdk data kitti-gt` (or Monodepth2's ``gt_depths.npz``): maps
            matched to the frames by name (by order when the file has no names); the dataset
            then only supplies the images.
        save_predictions: also write the predictions as ``DIR/NAME.npy``.
        flip: flip test-time augmentation.
        num_workers: DataLoader workers reading frames.

    Returns:
        The filled `DepthEvaluator` (call ``summary()`` / ``write(dir)``).
    """
    from monodepthkit.inference.predictor import Predictor

    options: dict[str, Any] = {"device": device, "flip": flip, "batch_size": batch_size}
    if input_size is not None:
        options["resolution"] = tuple(input_size)
    predictor = Predictor.from_checkpoint(checkpoint, **options)
    dataset_options = dict(dataset_options or {})
    if gt_npz is not None and dataset == "kitti":
        dataset_options.setdefault("gt", "none")
    frames = build_eval_dataset(
        dataset, data_root, split, dataset_options, require_depth=gt_npz is None
    )
    ground_truth = None if gt_npz is None else _npz_ground_truth(gt_npz, frames)
    evaluator = DepthEvaluator(
        get_protocol(protocol or default_protocol(dataset), min_depth, max_depth),
        align=align or default_alignment(predictor.model),
        scale=scale,
        kind=predictor.output_kind,
    )
    return evaluate_predictor(
        predictor,
        frames,
        evaluator,
        ground_truth=ground_truth,
        save_predictions=save_predictions,
        batch_size=batch_size,
        num_workers=num_workers,
        progress=progress,
    )


def iter_ground_truth(dataset: Dataset) -> Iterator[tuple[str, np.ndarray]]:
    """(name, [H, W] float32 metres) of every frame of a dataset, at full resolution (see
    `evaluate_predictor` for where the ground truth comes from)."""
    frames = _WithGroundTruth(dataset, None)
    for index in range(len(frames)):
        name, _, gt = frames[index]
        yield name, gt


def dataset_names(dataset: Dataset) -> list[str]:
    """The sample names of a dataset, in order (KITTI without reading any file)."""
    from monodepthkit.data.kitti import KittiDataset, sample_name

    if isinstance(dataset, KittiDataset):
        return [sample_name(entry) for entry in dataset.entries]
    return [dataset[index][keys.NAME] for index in range(len(dataset))]


def _npz_ground_truth(path: str | Path, dataset: Dataset) -> dict[str, np.ndarray]:
    """{name: depth} of a ground-truth .npz for the frames of ``dataset``."""
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


def _frames(
    dataset: Dataset,
    ground_truth: dict[str, np.ndarray] | None,
    batch_size: int,
    num_workers: int,
) -> Iterator[tuple[list[str], list[torch.Tensor], list[np.ndarray]]]:
    """Batches of (names, images [3, H, W], ground truths [H, W] metres), any sizes."""
    loader = DataLoader(
        _WithGroundTruth(dataset, ground_truth),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=_as_lists,
    )
    for batch in loader:
        yield [b[0] for b in batch], [b[1] for b in batch], [b[2] for b in batch]


class _WithGroundTruth(Dataset):
    """(name, image, full-resolution ground truth) of each sample of a dataset."""

    def __init__(self, dataset: Dataset, ground_truth: dict[str, np.ndarray] | None) -> None:
        self.dataset = dataset
        self.ground_truth = ground_truth

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[str, torch.Tensor, np.ndarray]:
        sample = self.dataset[index]
        name = sample[keys.NAME]
        if self.ground_truth is not None:
            gt = self.ground_truth[name]
        elif callable(getattr(self.dataset, "depth", None)):
            gt = self.dataset.depth(index)
        else:
            gt = sample.get(keys.DEPTH)
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
        return name, sample[keys.IMAGE], gt


def _as_lists(batch: list) -> list:
    return batch
