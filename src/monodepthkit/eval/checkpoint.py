"""Evaluate a trained checkpoint on a dataset split under the standard protocol."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from monodepthkit.data import batch as keys
from monodepthkit.data.folder import FolderDataset
from monodepthkit.eval.protocol import get_protocol
from monodepthkit.eval.report import DepthEvaluator


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


@torch.no_grad()
def evaluate_checkpoint(
    checkpoint: str | Path,
    data_root: str | Path,
    split: str = "test",
    protocol: str = "none",
    align: str | None = None,
    min_depth: float | None = None,
    max_depth: float | None = None,
    scale: float = 1.0,
    input_size: tuple[int, int] | None = None,
    batch_size: int = 4,
    device: str = "auto",
    progress: bool = True,
) -> DepthEvaluator:
    """Run a checkpoint on every frame of a split and score it against full-size ground truth.

    The image is resized to the model's input size (the training ``image_size`` stored in the
    checkpoint unless ``input_size`` is given); the prediction is resized back to the ground
    truth's size by the protocol. A task with ``is_metric`` (self-supervised) is scored as
    Monodepth2 scores it: its disparity ``1 / depth`` is resized and inverted, and, unless
    ``align`` says otherwise, a relative model (``is_metric`` False) is median-scaled per image.

    Args:
        checkpoint: ``.ckpt`` written by `mdk fit` or `mdk demo`.
        data_root: folder-format dataset with ``depth/`` ground truth.
        split: split name (``ROOT/splits/SPLIT.txt``) or ``"all"``.
        protocol: ``none``, ``kitti`` or ``nyu``.
        align: ``none``, ``median``, ``lstsq``, ``scale_shift`` or ``scale_shift_disp``; None =
            `default_alignment` of the task (``median`` for relative models, else ``none``).
        min_depth: smallest evaluated ground truth in metres (None: the protocol's).
        max_depth: largest evaluated ground truth in metres (None: the protocol's).
        scale: fixed factor applied to predictions before alignment.
        input_size: (height, width) fed to the model; None: from the checkpoint.
        batch_size: images per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, ...

    Returns:
        The filled `DepthEvaluator` (call ``summary()`` / ``write(dir)``).
    """
    from monodepthkit.tasks.loading import read_checkpoint, task_from_checkpoint

    target = select_device(device)
    contents = read_checkpoint(checkpoint)
    task = task_from_checkpoint(contents).to(target)
    if input_size is None:
        input_size = contents.get("datamodule_hyper_parameters", {}).get("image_size")
    dataset = FolderDataset(data_root, split=split, require_depth=True)
    # Self-supervised tasks (which say whether they are metric) predict through a disparity.
    kind = "disparity" if hasattr(task, "is_metric") else "depth"
    evaluator = DepthEvaluator(
        get_protocol(protocol, min_depth, max_depth),
        align=align or default_alignment(task),
        scale=scale,
        kind=kind,
    )
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=0)
    for batch in tqdm(loader, desc="evaluating", disable=not progress):
        image = batch[keys.IMAGE].to(target)
        if input_size is not None and tuple(image.shape[-2:]) != tuple(input_size):
            image = F.interpolate(
                image, size=tuple(input_size), mode="bilinear", antialias=True, align_corners=False
            )
        depth = task(image)["depth"].float().cpu()
        predictions = 1.0 / depth if kind == "disparity" else depth
        for name, pred, gt in zip(batch[keys.NAME], predictions, batch[keys.DEPTH], strict=True):
            evaluator.add(name, pred[0].numpy(), gt[0].numpy())
    return evaluator
