"""Evaluate a model on any registered dataset, through the `Predictor`, under the protocol.

One code path (DESIGN.md, "Evaluation protocol")::

    dataset (built by the registry, full-resolution images and ground truth)
      -> Predictor (the same preprocessing and disparity handling as `mdk predict`), its
         output resized once, straight to the ground truth's size
      -> DepthEvaluator (scale, mask, align, clamp, metrics; `monodepthkit.eval.protocol`)

(the datasets and their ground truth come from `monodepthkit.eval.datasets`),

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

from monodepthkit.errors import MdkError
from monodepthkit.eval.datasets import (
    GroundTruthFrames,
    build_eval_dataset,
    default_protocol,
    npz_ground_truth,
)
from monodepthkit.eval.protocol import get_protocol
from monodepthkit.eval.report import DepthEvaluator
from monodepthkit.inference.predictor import Predictor
from monodepthkit.inference.writers import write_npy
from monodepthkit.models.outputs import model_is_metric


def default_alignment(task: torch.nn.Module) -> str:
    """``"median"`` for a task whose depth is relative (``is_metric`` False), else ``"none"``."""
    return "none" if model_is_metric(task) else "median"


@torch.no_grad()
def evaluate_predictor(
    predictor: Predictor,
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
    (KITTI: the full calibration-size map, whatever the image size) or the sample's ``depth``
    (`monodepthkit.eval.datasets.GroundTruthFrames`).
    Each prediction is made at its ground truth's size (`Predictor.predict_many`
    ``output_sizes``).

    Args:
        predictor: the model.
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
        split: the split (see `monodepthkit.eval.datasets.build_eval_dataset`); ``"all"``
            where the dataset has it.
        protocol: ``none``, ``kitti`` or ``nyu``; None = the dataset's default
            (`monodepthkit.eval.datasets.default_protocol`).
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
    evaluated = get_protocol(protocol or default_protocol(dataset), min_depth, max_depth)
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
    ground_truth = None if gt_npz is None else npz_ground_truth(gt_npz, frames)
    evaluator = DepthEvaluator(
        evaluated,
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


def _frames(
    dataset: Dataset,
    ground_truth: dict[str, np.ndarray] | None,
    batch_size: int,
    num_workers: int,
) -> Iterator[tuple[list[str], list[torch.Tensor], list[np.ndarray]]]:
    """Batches of (names, images [3, H, W], ground truths [H, W] metres), any sizes."""
    loader = DataLoader(
        GroundTruthFrames(dataset, ground_truth),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=_as_lists,
    )
    for batch in loader:
        yield [b[0] for b in batch], [b[1] for b in batch], [b[2] for b in batch]


def _as_lists(batch: list) -> list:
    return batch
