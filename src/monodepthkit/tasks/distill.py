"""Distillation: a small fast student trained on a frozen teacher's predictions, no ground truth.

The teacher is a large network (a foundation model of `monodepthkit.models.foundation`: Depth
Anything V2, DPT, ZoeDepth, GLPN) that labels the training images as they come; the student
(``monodepth2`` by default, the ResNet-18 network of report 5) learns to reproduce them and is
what the checkpoint holds, predicts with and exports. One training step:

1. The teacher, frozen (no gradient, always in eval mode), predicts on the batch's image (the
   un-jittered copy when the batch has one: clean pseudo-labels, while the student sees the
   augmented image).
2. The student predicts ``depth_s`` per scale (Monodepth2: four in training); each scale is
   upsampled to the image's size (as inverse depth), as in Monodepth2's full-resolution
   multi-scale, and compared with the teacher at full resolution; the loss is the mean over
   scales (``multi_scale: false``: scale 0 only).
3. The loss depends on what the teacher predicts:

   - a relative teacher (an affine-invariant disparity): a scale-and-shift-invariant loss
     between the student's inverse depth and the teacher's disparity, ``ssi`` (median and mean
     absolute deviation normalisation, MiDaS / Depth Anything; the default) or ``ssi_lsq``
     (least-squares alignment, MiDaS's MSE variant; `monodepthkit.losses.distillation`). The
     student is then relative too (``is_metric`` False: evaluated with median scaling).
   - a metric teacher (metres): a supervised loss on depth (`monodepthkit.losses.supervised`,
     default ``silog`` with lambda 0.5); the student learns metres (``is_metric`` True). An
     ``ssi`` loss may be chosen for a metric teacher as well (the student is then relative).

The teacher is not a submodule of the task: it is built on first use from ``teacher_model`` /
``teacher_model_kwargs`` (with ``teacher_seed`` for a randomly initialised one, without
touching the global random state), or read from ``teacher_checkpoint`` (any monodepthkit
checkpoint: a foundation model fine-tuned with ``mdk fit``, adapted self-supervised, or a
classic network), and kept outside ``state_dict`` and ``parameters()``. So the
optimiser, the checkpoint and ``task.train()`` never see it, a checkpoint holds only the
student (plus these arguments), and `load_task` / the Predictor / ``mdk predict`` / ``mdk
export`` rebuild the student alone, without the teacher's weights, the Hub or
``transformers``. Resuming a run rebuilds the same teacher from its arguments (the
``teacher_checkpoint`` file must then still be there).

Logged: ``train/loss`` (and the supervised loss's terms, when it has several); validation logs
``val/loss`` against the teacher and, when the batch has ground truth, the depth metrics
(median-scaled per image for a relative student).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.data import batch as keys
from monodepthkit.data.batch import validate_batch
from monodepthkit.errors import InputError, MdkError
from monodepthkit.losses import RELATIVE_LOSSES, SUPERVISED_LOSSES, build_supervised_loss
from monodepthkit.models import create_model
from monodepthkit.models.foundation import FAMILIES, variant_is_metric
from monodepthkit.models.outputs import (
    DEPTH,
    DISPARITY,
    depth_key,
    model_is_metric,
    output_scales,
)
from monodepthkit.tasks.base import DepthTask
from monodepthkit.tasks.loading import load_task

TEACHER_KINDS = ("auto", "relative", "metric")


class DistillationTask(DepthTask):
    """Student ``net`` trained on a frozen teacher's depth or disparity (module docstring).

    Args:
        model: registry name of the student (``monodepth2``; any depth network of `mdk models`).
        model_kwargs: its options, e.g. ``{"num_layers": 18, "pretrained": true}``.
        teacher_model: registry name of the teacher (a foundation family, e.g.
            ``depth_anything_v2``).
        teacher_model_kwargs: its options, e.g. ``{"variant": "small", "pretrained": true}``.
        teacher_kind: ``relative`` (affine-invariant disparity), ``metric`` (metres) or
            ``auto``: read from the foundation family's variant without building it (other
            teachers must say which).
        teacher_seed: seed of the teacher's random initialisation (``pretrained: false``), so
            that a resumed run or a benchmark rebuilds the same teacher.
        teacher_checkpoint: a monodepthkit checkpoint (``.ckpt`` of ``mdk fit``, ``mdk demo``,
            ``mdk import`` or ``benchmarks/selfsup_curve.py --checkpoints``) whose task is the
            teacher, in place of ``teacher_model`` / ``teacher_model_kwargs`` (ignored then);
            ``teacher_kind: auto`` reads its kind from the checkpoint's network. A
            self-supervised teacher's sigmoid disparity is affine in its inverse depth, which
            the ``ssi`` losses do not see.
        loss: ``ssi`` or ``ssi_lsq`` (scale-and-shift invariant, in disparity) or a supervised
            loss on depth (``silog``, ``l1``, ... for a metric teacher); None: ``ssi`` for a
            relative teacher, ``silog`` for a metric one.
        loss_kwargs: the loss's parameters, e.g. ``{"lam": 0.5}`` for ``silog``.
        multi_scale: average the loss over every scale the student returns in training (each
            upsampled to the image's size); False: scale 0 only.
        lr: Adam learning rate of the student.
        weight_decay: Adam weight decay.
        lr_milestones: epochs at which the learning rate is multiplied by ``lr_gamma``.
        lr_gamma: learning-rate decay factor.
        eval_protocol: protocol of the validation metrics (``none``, ``kitti``, ``nyu``).
        eval_min_depth: smallest ground truth evaluated, metres (None: the protocol's).
        eval_max_depth: largest ground truth evaluated, metres (None: the protocol's).
        eval_align: per-image alignment of the validation metrics (`monodepthkit.eval`'s
            modes); None = ``median`` for a relative student, else ``none``.

    Attributes:
        net: the student.
        teacher: the frozen teacher (built on first access; not in ``state_dict``).
        teacher_is_metric: whether the teacher predicts metres.

    Raises:
        MdkError: a bad option (kind, loss, alignment), named with its accepted values.
    """

    def __init__(
        self,
        model: str = "monodepth2",
        model_kwargs: dict | None = None,
        teacher_model: str = "depth_anything_v2",
        teacher_model_kwargs: dict | None = None,
        teacher_kind: str = "auto",
        teacher_seed: int = 0,
        teacher_checkpoint: str | None = None,
        loss: str | None = None,
        loss_kwargs: dict | None = None,
        multi_scale: bool = True,
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        lr_milestones: list[int] | None = None,
        lr_gamma: float = 0.1,
        eval_protocol: str = "none",
        eval_min_depth: float | None = None,
        eval_max_depth: float | None = None,
        eval_align: str | None = None,
    ) -> None:
        super().__init__(eval_protocol, eval_min_depth, eval_max_depth)
        self.save_hyperparameters()
        # A list hides the teacher from nn.Module: no state_dict entry, no parameters, no train().
        self._teacher: list[nn.Module] = []
        if teacher_checkpoint is not None:
            _check_teacher_kind(teacher_kind)
            if teacher_kind == "auto":
                teacher = self._build_teacher()
                self._teacher.append(teacher.eval().requires_grad_(False))
                teacher_kind = "metric" if model_is_metric(teacher) else "relative"
                # Saved resolved, so that rebuilding the student never reads the teacher file.
                self.hparams["teacher_kind"] = teacher_kind
            self.teacher_is_metric = teacher_kind == "metric"
        else:
            self.teacher_is_metric = _teacher_is_metric(
                teacher_model, teacher_model_kwargs or {}, teacher_kind
            )
        loss = loss or ("silog" if self.teacher_is_metric else "ssi")
        self.relative_loss = RELATIVE_LOSSES.get(loss)
        if self.relative_loss is None:
            if loss not in SUPERVISED_LOSSES:
                choices = [*RELATIVE_LOSSES, *sorted(SUPERVISED_LOSSES)]
                raise MdkError(
                    f"DistillationTask: unknown loss '{loss}'; expected one of {', '.join(choices)}"
                )
            if not self.teacher_is_metric:
                raise MdkError(
                    f"DistillationTask: loss '{loss}' compares depths in metres, but the teacher "
                    f"'{teacher_model}' is relative (an affine-invariant disparity); use loss: "
                    f"ssi (or ssi_lsq), or a metric teacher"
                )
            self.depth_loss = build_supervised_loss(loss, **(loss_kwargs or {}))
        elif loss_kwargs:
            raise MdkError(
                f"DistillationTask: loss '{loss}' takes no loss_kwargs, got {sorted(loss_kwargs)}"
            )
        self.loss_name = loss
        self.net = create_model(model, **(model_kwargs or {}))
        self.eval_align = self.choose_eval_align(eval_align)

    @property
    def is_metric(self) -> bool:
        """Whether the student learns metres: a metric teacher and a loss on depth."""
        return self.teacher_is_metric and self.relative_loss is None

    @property
    def predicts_disparity(self) -> bool:
        """What the student declares; when it is silent, True for a relative student (it learns
        a disparity) and False for a metric one."""
        return bool(getattr(getattr(self, "net", None), "predicts_disparity", not self.is_metric))

    @property
    def teacher(self) -> nn.Module:
        """The frozen teacher, built on first access (eval mode, no gradient)."""
        if not self._teacher:
            teacher = self._build_teacher()
            if model_is_metric(teacher) != self.teacher_is_metric:
                hp = self.hparams
                kinds = {True: "metric", False: "relative"}
                raise MdkError(
                    f"DistillationTask: teacher_kind says the teacher is "
                    f"{kinds[self.teacher_is_metric]} but "
                    f"'{hp.teacher_checkpoint or hp.teacher_model}' holds a "
                    f"{kinds[model_is_metric(teacher)]} model; fix teacher_kind (or use auto)"
                )
            self._teacher.append(teacher.eval().requires_grad_(False))
        return self._teacher[0]

    def _build_teacher(self) -> nn.Module:
        """The teacher of ``teacher_checkpoint``, or a new ``teacher_model``."""
        hp = self.hparams
        if hp.get("teacher_checkpoint") is not None:
            return load_task(hp.teacher_checkpoint)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(hp.teacher_seed)
            return create_model(hp.teacher_model, **(hp.teacher_model_kwargs or {}))

    def teacher_targets(self, image: Tensor) -> Tensor:
        """The teacher's pseudo-label of an image, without gradient.

        Args:
            image: [B, 3, H, W] in [0, 1].

        Returns:
            [B, 1, H, W]: depth in metres for a metric loss, else the teacher's disparity
            (affine-invariant for a relative teacher, 1/m for a metric one).
        """
        teacher = self.teacher
        parameter = next(teacher.parameters(), None)
        if parameter is not None and parameter.device != image.device:
            teacher.to(image.device)
        teacher.eval()
        with torch.no_grad():
            outputs = teacher(image)
        if self.relative_loss is None:
            return outputs[DEPTH].float()
        if DISPARITY in outputs:
            return outputs[DISPARITY].float()
        return 1.0 / outputs[DEPTH].float()

    def model_step(self, batch: dict) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """Loss of the student against the teacher, its terms and the student's outputs.

        Args:
            batch: the batch contract with ``image`` (and optionally ``unjittered_image``);
                nothing else is needed.

        Returns:
            ``(loss, terms, outputs)``: the mean over the used scales, the supervised loss's
            terms (metric teacher) and the student's outputs.
        """
        validate_batch(batch, required=(keys.IMAGE,), values=False)
        image = batch[keys.IMAGE]
        target = self.teacher_targets(batch.get(keys.unjittered_key(keys.IMAGE), image))
        valid = torch.isfinite(target)
        if self.relative_loss is None:
            valid = valid & (target > 0)
        outputs = self.net(image)
        scales = output_scales(outputs) if self.hparams.multi_scale else [0]
        if not scales:
            raise InputError(
                f"DistillationTask: the student '{self.hparams.model}' returned no depth "
                f"(keys {sorted(outputs)})"
            )
        losses, terms = [], {}
        for scale in scales:
            inverse = _upsampled_inverse_depth(outputs[depth_key(scale)], target.shape[-2:])
            if self.relative_loss is not None:
                losses.append(self.relative_loss(inverse, target, valid))
            else:
                scale_loss, scale_terms = self.depth_loss(1.0 / inverse, target, valid)
                losses.append(scale_loss)
                if scale == 0 and len(scale_terms) > 1:
                    terms = {name: value.detach() for name, value in scale_terms.items()}
        return torch.stack(losses).mean(), terms, outputs


def _upsampled_inverse_depth(depth: Tensor, size: tuple[int, int]) -> Tensor:
    """1 / depth [B, 1, h, w] resized to ``size`` (bilinear, as inverse depth)."""
    inverse = 1.0 / depth
    if tuple(inverse.shape[-2:]) != tuple(size):
        inverse = F.interpolate(inverse, size=tuple(size), mode="bilinear", align_corners=False)
    return inverse


def _check_teacher_kind(kind: str) -> None:
    if kind not in TEACHER_KINDS:
        raise MdkError(
            f"DistillationTask: teacher_kind must be one of {', '.join(TEACHER_KINDS)}, "
            f"got {kind!r}"
        )


def _teacher_is_metric(name: str, kwargs: dict, kind: str) -> bool:
    """Whether the teacher predicts metres, from ``teacher_kind`` or the family's variant."""
    _check_teacher_kind(kind)
    if kind != "auto":
        return kind == "metric"
    if name not in FAMILIES:
        raise MdkError(
            f"DistillationTask: teacher_kind auto knows the foundation families "
            f"({', '.join(FAMILIES)}), not '{name}'; set teacher_kind: relative or metric"
        )
    try:
        return variant_is_metric(name, kwargs.get("variant"))
    except InputError as exc:
        raise MdkError(f"DistillationTask: teacher_model_kwargs: {exc}") from None
