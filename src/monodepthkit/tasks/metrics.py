"""Validation and test metrics shared by every task: per-image protocol metrics, then averaged."""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor

from monodepthkit.eval import Protocol, evaluate_image

# The metrics logged during validation and testing (all nine go to `mdk eval`).
LOGGED_METRICS = ("abs_rel", "rmse", "d1")


def batch_depth_metrics(
    depth: Tensor,
    target: Tensor,
    protocol: Protocol,
    align: str = "none",
    scale: float = 1.0,
) -> list[dict[str, float]]:
    """Evaluate each image of a batch under ``protocol`` (`monodepthkit.eval.evaluate_image`).

    Args:
        depth: [B, 1, h, w] predicted depth in metres (or relative depth with ``align``); any
            size, resized to the ground truth's.
        target: [B, 1, H, W] ground-truth depth in metres, 0 = none.
        protocol: the evaluation protocol (caps and crop).
        align: per-image alignment (``"none"`` for metric models, ``"median"`` for relative).
        scale: fixed factor applied to the prediction before alignment.

    Returns:
        One dict of the nine metrics per image that has valid ground truth (images without
        any are left out).
    """
    rows = [
        evaluate_image(
            pred[0].detach().float().cpu().numpy(),
            gt[0].detach().float().cpu().numpy(),
            protocol,
            align=align,
            scale=scale,
        )
        for pred, gt in zip(depth, target, strict=True)
    ]
    return [row for row in rows if row]


def log_depth_metrics(
    module: L.LightningModule,
    stage: str,
    depth: Tensor,
    target: Tensor,
    protocol: Protocol,
    align: str = "none",
    names: tuple[str, ...] = LOGGED_METRICS,
) -> list[dict[str, float]]:
    """Log ``{stage}/{metric}`` means of a batch (`batch_depth_metrics`) on ``module``.

    Each value is weighted by the number of evaluated images, so the epoch mean is the mean
    over images; ``abs_rel`` goes to the progress bar. Nothing is logged for a batch without
    valid ground truth.

    Args:
        module: the LightningModule that logs.
        stage: ``"val"`` or ``"test"``.
        depth: [B, 1, h, w] predicted depth.
        target: [B, 1, H, W] ground truth in metres, 0 = none.
        protocol: the evaluation protocol.
        align: per-image alignment, e.g. ``"median"`` for self-supervised mono models.
        names: metrics to log.

    Returns:
        The per-image metric rows.
    """
    rows = batch_depth_metrics(depth, target, protocol, align=align)
    if not rows:
        return rows
    for name in names:
        value = torch.tensor(sum(row[name] for row in rows) / len(rows))
        module.log(
            f"{stage}/{name}",
            value,
            prog_bar=name == "abs_rel",
            batch_size=len(rows),
            sync_dist=True,
        )
    return rows
