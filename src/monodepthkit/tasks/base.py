"""`DepthTask`: what every training task shares around its depth network ``net``."""

from __future__ import annotations

import lightning as L
from torch import Tensor, nn

from monodepthkit.data import batch as keys
from monodepthkit.errors import MdkError
from monodepthkit.eval import get_protocol
from monodepthkit.eval.modes import ALIGN_MODES
from monodepthkit.models.outputs import DEPTH, model_is_metric, model_predicts_disparity
from monodepthkit.tasks.loading import TASK_KEY, task_class_path
from monodepthkit.tasks.metrics import log_depth_metrics
from monodepthkit.tasks.optim import adam_with_step_decay

# State-dict prefixes written by earlier versions, renamed when a state dict is loaded: the
# self-supervised task called its depth network ``depth_net``.
LEGACY_PREFIXES = {"depth_net.": "net."}


class DepthTask(L.LightningModule):
    """Base of the tasks: a depth network, its loss and optimiser, validation and checkpoints.

    A task calls ``super().__init__`` with its protocol arguments and ``save_hyperparameters()``,
    builds its depth network as ``self.net`` (`monodepthkit.models.outputs`: image ->
    ``{"depth": ...}``) and implements `model_step`, the loss of one batch that training,
    validation and testing share. The base provides:

    - `forward`: the depth network's outputs for an image;
    - `training_step`: `model_step`, logging ``train/loss`` (progress bar) and, when the loss
      has several terms, each ``train/{term}``;
    - `validation_step` / `test_step`: `evaluation_step`, logging ``{stage}/loss``, its extra
      values and, on batches with ground truth, the protocol's depth metrics (`eval_align`);
    - `predict_step`: `forward` on the batch's image;
    - `configure_optimizers`: Adam with a step decay (`adam_with_step_decay`) from the
      hyper-parameters ``lr``, ``weight_decay``, ``lr_milestones`` and ``lr_gamma`` (and
      ``adam_implementation`` when the task has one; else torch's default kernels);
    - checkpoints that name the task's class (so `load_task` needs no config) and loading of
      state dicts written with the older names in `LEGACY_PREFIXES`.

    Args:
        eval_protocol: protocol of the validation metrics (``none``, ``kitti``, ``nyu``).
        eval_min_depth: smallest ground truth evaluated, metres (None: the protocol's).
        eval_max_depth: largest ground truth evaluated, metres (None: the protocol's).

    Attributes:
        net: the depth network.
        protocol: the validation metrics' `monodepthkit.eval.Protocol`.
        eval_align: per-image alignment of the validation metrics (``none``: metric depth).
        is_metric: the depth is in metres (`monodepthkit.models.outputs.DepthModel`).
        predicts_disparity: the depth comes from a disparity and is resized as one.
    """

    net: nn.Module

    @property
    def is_metric(self) -> bool:
        """What the network declares (`model_is_metric`; metric when it declares nothing)."""
        return model_is_metric(getattr(self, "net", None))

    @property
    def predicts_disparity(self) -> bool:
        """What the network declares (`model_predicts_disparity`; False when silent)."""
        return model_predicts_disparity(getattr(self, "net", None))

    def __init__(
        self,
        eval_protocol: str = "none",
        eval_min_depth: float | None = None,
        eval_max_depth: float | None = None,
    ) -> None:
        super().__init__()
        self.protocol = get_protocol(eval_protocol, eval_min_depth, eval_max_depth)
        self.eval_align = "none"
        self.register_load_state_dict_pre_hook(_rename_legacy_keys)

    def choose_eval_align(self, eval_align: str | None, choices=ALIGN_MODES) -> str:
        """The alignment of the validation metrics: ``eval_align`` checked against ``choices``
        or, for None, what `mdk eval` does by default: ``median`` for a relative model
        (`is_metric` False), ``none`` for a metric one. Call it once the network is built.

        Raises:
            MdkError: ``eval_align`` not in ``choices``, naming the task.
        """
        if eval_align is None:
            return "none" if self.is_metric else "median"
        if eval_align not in choices:
            raise MdkError(
                f"{type(self).__name__}: eval_align must be one of {', '.join(choices)}, "
                f"got {eval_align!r} (or null: median for a relative model, else none)"
            )
        return eval_align

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Predict depth: image [B, 3, H, W] in [0, 1] -> ``{"depth": [B, 1, H, W]}`` metres."""
        return self.net(image)

    def model_step(self, batch: dict) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """Loss, its named terms and the depth network's outputs for one batch.

        Args:
            batch: the batch contract (`monodepthkit.data.batch`) with what the task needs.

        Returns:
            ``(loss, terms, outputs)``: the scalar loss, the terms logged with it and the
            network's outputs (`monodepthkit.models.outputs`), ``depth`` [B, 1, h, w] at least.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement model_step")

    def evaluation_step(self, batch: dict) -> tuple[Tensor | None, dict[str, Tensor], Tensor]:
        """What a validation or test batch logs.

        Returns:
            ``(loss, values, depth)``: the loss (None when the batch cannot give one), further
            scalars to log under the stage and the predicted depth [B, 1, h, w] scored
            against the batch's ground truth. The base returns `model_step`'s loss and depth.
        """
        loss, _, outputs = self.model_step(batch)
        return loss, {}, outputs[DEPTH]

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss, terms, _ = self.model_step(batch)
        size = batch[keys.IMAGE].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        if len(terms) > 1:
            self.log_dict(
                {f"train/{name}": value for name, value in terms.items()}, batch_size=size
            )
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: dict, batch_idx: int) -> dict[str, Tensor]:
        return self(batch[keys.IMAGE])

    def configure_optimizers(self):
        hp = self.hparams
        return adam_with_step_decay(
            _parameter_groups(self, hp.lr),
            hp.lr,
            hp.weight_decay,
            hp.lr_milestones,
            hp.lr_gamma,
            implementation=hp.get("adam_implementation"),
        )

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[TASK_KEY] = task_class_path(self)

    def _evaluate(self, batch: dict, stage: str) -> None:
        loss, values, depth = self.evaluation_step(batch)
        size = batch[keys.IMAGE].shape[0]
        if loss is not None:
            self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=size, sync_dist=True)
        if values:
            self.log_dict(
                {f"{stage}/{name}": value for name, value in values.items()},
                batch_size=size,
                sync_dist=True,
            )
        if keys.DEPTH in batch:
            log_depth_metrics(
                self, stage, depth, batch[keys.DEPTH], self.protocol, align=self.eval_align
            )


def _rename_legacy_keys(
    module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict, *args
) -> None:
    """``load_state_dict`` pre-hook: rename the keys of `LEGACY_PREFIXES` in place."""
    metadata = getattr(state_dict, "_metadata", None)
    for old, new in LEGACY_PREFIXES.items():
        old, new = prefix + old, prefix + new
        for key in [key for key in state_dict if key.startswith(old)]:
            state_dict[new + key[len(old) :]] = state_dict.pop(key)
        # Module versions (e.g. BatchNorm's) are stored by module name, without the dot.
        for key in [key for key in metadata or {} if f"{key}.".startswith(old)]:
            metadata[new[:-1] + key[len(old) - 1 :]] = metadata.pop(key)


def _parameter_groups(task: DepthTask, lr: float) -> list[dict]:
    """Adam groups: the network's own (``net.parameter_groups()``, each with an ``lr_scale``)
    at ``lr * lr_scale``, every other trainable parameter of the task at ``lr``."""
    groups_of_net = getattr(getattr(task, "net", None), "parameter_groups", None)
    if groups_of_net is None:
        return [{"params": [p for p in task.parameters() if p.requires_grad]}]
    groups = [
        {"params": group["params"], "lr": lr * float(group.get("lr_scale", 1.0))}
        for group in groups_of_net()
        if group["params"]
    ]
    grouped = {id(p) for group in groups for p in group["params"]}
    rest = [p for p in task.parameters() if p.requires_grad and id(p) not in grouped]
    return [*groups, {"params": rest}] if rest else groups
