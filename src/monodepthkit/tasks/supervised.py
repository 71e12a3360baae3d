"""Supervised training: a depth network regressed onto ground-truth depth."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from monodepthkit.data import batch as keys
from monodepthkit.data.batch import validate_batch
from monodepthkit.errors import MdkError
from monodepthkit.losses import build_supervised_loss
from monodepthkit.models import create_model
from monodepthkit.models.outputs import DEPTH, output_head_range
from monodepthkit.tasks.base import DepthTask
from monodepthkit.tasks.metrics import LOGGED_METRICS

__all__ = ["LOGGED_METRICS", "TARGET_RANGES", "SupervisedTask"]

TARGET_RANGES = ("keep", "clip", "mask")


class SupervisedTask(DepthTask):
    """Model + supervised loss + optimiser: a `DepthTask` regressing depth onto ground truth.

    Args:
        model: registry name of the architecture (see `mdk models`).
        model_kwargs: the architecture's options, e.g. ``{"width": 32, "head": "log"}``.
        loss: supervised loss name (see `monodepthkit.losses.SUPERVISED_LOSSES`), computed on
            pixels with ground truth.
        loss_kwargs: the loss's parameters, e.g. ``{"lam": 0.5}`` for ``silog``.
        loss_depth_scale: when set, prediction and target are divided by it (metres) before the
            loss, e.g. 80 for report 1's MSE on [0, 1]-normalised depth; None: loss in metres.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        lr_milestones: epochs at which the learning rate is multiplied by ``lr_gamma``.
        lr_gamma: learning-rate decay factor.
        eval_protocol: protocol of the validation metrics (``none``, ``kitti``, ``nyu``).
        eval_min_depth: smallest ground truth evaluated, metres (None: the protocol's).
        eval_max_depth: largest ground truth evaluated, metres (None: the protocol's).
        target_range: what the loss does with ground truth outside the output head's
            [min_depth, max_depth]: ``keep`` it (default), ``clip`` it to the range (report 2:
            "the depth maps have a lower bound of 0.5 meters and an upper bound of 4 meters")
            or ``mask`` it out of the loss. Validation metrics always use the raw ground truth.
        eval_align: per-image alignment of the validation metrics (`monodepthkit.eval`'s
            modes); None = what ``mdk eval`` uses by default: ``median`` for a relative
            network (``is_metric`` False, e.g. a relative foundation model, whose
            affine-invariant depth scores nothing unaligned), else ``none``. A relative
            foundation model's papers align with ``scale_shift_disp``.

    The checkpoint stores these arguments, so `load_from_checkpoint` needs no config file.
    """

    def __init__(
        self,
        model: str = "unet",
        model_kwargs: dict | None = None,
        loss: str = "l1",
        loss_kwargs: dict | None = None,
        loss_depth_scale: float | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        lr_milestones: list[int] | None = None,
        lr_gamma: float = 0.1,
        eval_protocol: str = "none",
        eval_min_depth: float | None = None,
        eval_max_depth: float | None = None,
        target_range: str = "keep",
        eval_align: str | None = None,
    ) -> None:
        super().__init__(eval_protocol, eval_min_depth, eval_max_depth)
        self.save_hyperparameters()
        self.net = create_model(model, **(model_kwargs or {}))
        if target_range not in TARGET_RANGES:
            raise MdkError(
                f"target_range '{target_range}': expected one of {', '.join(TARGET_RANGES)}"
            )
        if target_range != "keep" and output_head_range(self.net) is None:
            raise MdkError(
                f"target_range '{target_range}' needs a model with a bounded output head; "
                f"'{model}' has none (use target_range: keep)"
            )
        self.loss_fn = build_supervised_loss(loss, **(loss_kwargs or {}))
        self.eval_align = self.choose_eval_align(eval_align)
        self._range_checked = False

    def model_step(self, batch: dict) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """Loss, its named terms and the network's outputs (``depth`` [B, 1, h, w]) of one batch.

        The prediction has the image's size [H, W] unless the model predicts at a lower
        resolution; the loss is then computed there, on ground truth resized to [h, w].
        """
        validate_batch(batch, required=(keys.IMAGE, keys.DEPTH), values=False)
        target = batch[keys.DEPTH]
        valid = target > 0
        if self.hparams.target_range != "keep":
            low, high = output_head_range(self.net)
            if self.hparams.target_range == "clip":
                target = torch.where(valid, target.clamp(low, high), target)
            else:
                valid = valid & (target >= low) & (target <= high)
        outputs = self(batch[keys.IMAGE])
        depth = outputs[DEPTH]
        if depth.shape[-2:] != target.shape[-2:]:
            # A model that predicts at a lower resolution (``upsample_output: false``, report 4)
            # trains against ground truth resized to it, nearest neighbour so that no value is
            # invented and missing pixels stay missing.
            target = F.interpolate(target, size=depth.shape[-2:], mode="nearest")
            valid = F.interpolate(valid.float(), size=depth.shape[-2:], mode="nearest") > 0
        scale = self.hparams.loss_depth_scale or 1.0
        loss, terms = self.loss_fn(depth / scale, target / scale, valid)
        return loss, terms, outputs

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        if not self._range_checked and self.hparams.target_range == "keep":
            self._check_target_range(batch[keys.DEPTH])
        return super().training_step(batch, batch_idx)

    def _check_target_range(self, target: Tensor) -> None:
        """Warn once when ground truth lies outside what the output head can predict."""
        self._range_checked = True
        head_range = output_head_range(self.net)
        valid = target[target > 0]
        if head_range is None or valid.numel() == 0:
            return
        low, high = float(valid.min()), float(valid.max())
        head_min, head_max = head_range
        if low < head_min or high > head_max:
            rank_zero_warn(
                f"training depth spans [{low:.3g}, {high:.3g}] m but the '{self.hparams.model}' "
                f"head predicts only [{head_min:g}, {head_max:g}] m; set "
                "model_kwargs.min_depth / max_depth to cover the data, or target_range: clip "
                "(or mask) to train on the head's range"
            )
