"""Adversarial training (report 1's pix2pix GAN): a depth generator against a PatchGAN critic.

Each training batch makes one generator step and, when the schedule says so, one discriminator
step (manual optimisation, two Adam optimisers with their own learning rates):

1. Generator: ``G = a1 * gradient + a2 * L1 + a3 * MSE + a4 * adversarial (+ a5 * patch L1)``
   on depth divided by ``loss_depth_scale`` (`monodepthkit.losses.adversarial`), with the
   discriminator frozen.
2. Discriminator: least squares, D(image, real depth) -> 1 and D(image, generated depth) -> 0,
   on the generated depth of step 1 (detached).

The discriminator never sees the pixels without ground truth: the generated depth is set to 0
where the real depth is 0, so that "no ground truth" (e.g. the sky) does not give fakes away.

The schedule is report 1's asymmetric training: a list of switches ``{step, d_lr_factor,
d_every}``. From ``step`` on, the discriminator's learning rate is ``d_lr * d_lr_factor`` and it
is updated on every ``d_every``-th batch, counted from the switch (the switch's own batch is
one). Before the first switch the factor is 1 and D is updated on every batch. Report 1's point
A halves D's learning rate and updates it once in five batches: ``{d_lr_factor: 0.5,
d_every: 5}``.

Steps count training batches (= generator steps): ``trainer.global_step`` counts only the
generator's optimiser, so ``max_steps``, validation intervals and checkpoint intervals mean the
same as for `SupervisedTask`. Checkpoints hold both networks, both optimisers (with D's current
learning rate) and the schedule; the schedule is a function of the step, so a resumed run
continues it where it stopped (a warning says when the resumed run's schedule differs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from monodepthkit.data import batch as keys
from monodepthkit.data.batch import validate_batch
from monodepthkit.errors import MdkError
from monodepthkit.losses.adversarial import (
    discriminator_least_squares_loss,
    generator_loss_terms,
)
from monodepthkit.losses.supervised import masked_l1, masked_mse, sum_terms
from monodepthkit.models import create_model
from monodepthkit.models.outputs import DEPTH
from monodepthkit.tasks.base import DepthTask


@dataclass(frozen=True)
class ScheduleSwitch:
    """One switch of the discriminator schedule.

    Attributes:
        step: training batch (generator step, 0-based) from which the switch applies.
        d_lr_factor: the discriminator's learning rate is ``d_lr * d_lr_factor`` (not cumulative).
        d_every: the discriminator is updated on one batch in ``d_every``, counted from ``step``.
    """

    step: int
    d_lr_factor: float = 1.0
    d_every: int = 1


_START = ScheduleSwitch(step=0)

# Checkpoint key of the discriminator schedule a run was trained with.
SCHEDULE_KEY = "adversarial_schedule"


def parse_schedule(schedule: Sequence[dict] | None) -> tuple[ScheduleSwitch, ...]:
    """Check a schedule given as dicts ``{step, d_lr_factor, d_every}`` (sorted by step).

    Raises:
        MdkError: an unknown key, a missing step, steps not strictly increasing, a negative step
            or factor, or ``d_every < 1``.
    """
    switches = []
    fields = {"step", "d_lr_factor", "d_every"}
    for index, entry in enumerate(schedule or []):
        where = f"schedule[{index}]"
        if not isinstance(entry, dict) or "step" not in entry or set(entry) - fields:
            raise MdkError(
                f"{where}: expected a dict with 'step' and optionally 'd_lr_factor', 'd_every', "
                f"got {entry!r}"
            )
        switch = ScheduleSwitch(
            step=int(entry["step"]),
            d_lr_factor=float(entry.get("d_lr_factor", 1.0)),
            d_every=int(entry.get("d_every", 1)),
        )
        if switch.step < 0 or switch.d_lr_factor < 0 or switch.d_every < 1:
            raise MdkError(
                f"{where}: need step >= 0, d_lr_factor >= 0 and d_every >= 1, got {entry!r}"
            )
        if switches and switch.step <= switches[-1].step:
            raise MdkError(
                f"{where}: steps must increase strictly, got {switch.step} after "
                f"{switches[-1].step}"
            )
        switches.append(switch)
    return tuple(switches)


def active_switch(switches: Sequence[ScheduleSwitch], step: int) -> ScheduleSwitch:
    """The switch in force at training batch ``step`` (factor 1, every batch before the first)."""
    current = _START
    for switch in switches:
        if switch.step > step:
            break
        current = switch
    return current


def discriminator_due(switches: Sequence[ScheduleSwitch], step: int) -> bool:
    """Whether the discriminator is updated at training batch ``step``."""
    switch = active_switch(switches, step)
    return (step - switch.step) % switch.d_every == 0


class AdversarialTask(DepthTask):
    """Generator (any registry depth model) + PatchGAN discriminator, trained adversarially.

    A `DepthTask` whose depth network ``net`` is the generator; `model_step` computes the
    generator's loss, which training (with the discriminator step) and validation share.

    Args:
        model: registry name of the generator (see `mdk models`), U-Net by default.
        model_kwargs: the generator's options, e.g. ``{"width": 64, "head": "sigmoid"}``.
        discriminator: registry name of the discriminator: a model called as
            ``D(image [B, 3, H, W], depth [B, 1, H, W] metres) -> logits [B, 1, h, w]``.
        discriminator_kwargs: its options, e.g. ``{"n_layers": 3, "depth_scale": 80.0}``.
        grad_weight: ``a1``, weight of report 1's Sobel gradient loss.
        l1_weight: ``a2``, weight of the L1 loss on depth / ``loss_depth_scale``.
        mse_weight: ``a3``, weight of the MSE on depth / ``loss_depth_scale``.
        adversarial_weight: ``a4``, weight of the cross-entropy of D(fake) against "real".
        patch_l1_weight: weight of the L1 between D(fake) and the real labels (0: off).
        loss_depth_scale: prediction and target are divided by it (metres) before the losses,
            e.g. 80 for report 1's [0, 1]-normalised depth; None: losses in metres.
        g_lr: the generator's Adam learning rate.
        d_lr: the discriminator's Adam learning rate before any schedule switch.
        betas: Adam's betas for both networks (pix2pix: 0.5, 0.999).
        weight_decay: Adam weight decay for both networks.
        schedule: discriminator switches ``[{step, d_lr_factor, d_every}, ...]`` (see the module
            docstring); None: D at ``d_lr`` on every batch.
        eval_protocol: protocol of the validation metrics (``none``, ``kitti``, ``nyu``).
        eval_min_depth: smallest ground truth evaluated, metres (None: the protocol's).
        eval_max_depth: largest ground truth evaluated, metres (None: the protocol's).

    Logged while training (per batch): ``train/loss`` (G), its weighted terms
    ``train/g_{grad,l1,mse,adversarial,patch_l1}``, the unweighted ``train/mae`` and
    ``train/mse`` (report 1's curves), and on discriminator batches ``train/d_loss``,
    ``train/d_real`` and ``train/d_fake`` (D's mean output on real and generated depth),
    ``train/d_lr``. Validation logs ``val/loss`` (G), ``val/mae``, ``val/mse`` and the metrics.
    """

    def __init__(
        self,
        model: str = "unet",
        model_kwargs: dict | None = None,
        discriminator: str = "patchgan",
        discriminator_kwargs: dict | None = None,
        grad_weight: float = 1.0,
        l1_weight: float = 1.0,
        mse_weight: float = 1.0,
        adversarial_weight: float = 1.0,
        patch_l1_weight: float = 0.0,
        loss_depth_scale: float | None = None,
        g_lr: float = 2e-4,
        d_lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        weight_decay: float = 0.0,
        schedule: list[dict] | None = None,
        eval_protocol: str = "none",
        eval_min_depth: float | None = None,
        eval_max_depth: float | None = None,
    ) -> None:
        super().__init__(eval_protocol, eval_min_depth, eval_max_depth)
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.net = create_model(model, **(model_kwargs or {}))
        self.discriminator = create_model(discriminator, **(discriminator_kwargs or {}))
        self.schedule = parse_schedule(schedule)
        self.loss_weights = {
            "grad_weight": grad_weight,
            "l1_weight": l1_weight,
            "mse_weight": mse_weight,
            "adversarial_weight": adversarial_weight,
            "patch_l1_weight": patch_l1_weight,
        }
        for name, value in self.loss_weights.items():
            if not value >= 0:
                raise MdkError(f"AdversarialTask: {name} must be >= 0, got {value}")

    def model_step(self, batch: dict) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """The generator's loss, its weighted terms and its outputs for one batch.

        Args:
            batch: the batch contract with ``image`` and ``depth``.

        Returns:
            ``(loss, terms, outputs)``: `generator_loss` of the generated ``outputs["depth"]``
            [B, 1, H, W] metres.
        """
        validate_batch(batch, required=(keys.IMAGE, keys.DEPTH), values=False)
        image = batch[keys.IMAGE]
        outputs = self(image)
        loss, terms = self.generator_loss(image, outputs[DEPTH], batch[keys.DEPTH])
        return loss, terms, outputs

    def generator_loss(
        self, image: Tensor, depth: Tensor, target: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Report 1's generator loss and its weighted terms.

        Args:
            image: [B, 3, H, W] in [0, 1].
            depth: generated depth [B, 1, H, W], metres.
            target: ground truth [B, 1, H, W], metres, 0 = none.

        Returns:
            ``(total, terms)``; the terms are named as in `generator_loss_terms`.
        """
        mask = target > 0
        fake_logits = self.discriminator(image, blank_missing(depth, mask))
        scale = self.hparams.loss_depth_scale or 1.0
        terms = generator_loss_terms(
            depth / scale, target / scale, mask, fake_logits, **self.loss_weights
        )
        return sum_terms(terms), terms

    def discriminator_loss(
        self, image: Tensor, depth: Tensor, target: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Least-squares loss of D and its mean outputs on real and generated depth.

        Args:
            image: [B, 3, H, W] in [0, 1].
            depth: generated depth [B, 1, H, W], metres (detach it to leave G untouched).
            target: ground truth [B, 1, H, W], metres, 0 = none.

        Returns:
            ``(loss, mean D(real), mean D(fake))``, scalars.
        """
        real_logits = self.discriminator(image, target)
        fake_logits = self.discriminator(image, blank_missing(depth, target > 0))
        loss = discriminator_least_squares_loss(real_logits, fake_logits)
        return loss, real_logits.detach().mean(), fake_logits.detach().mean()

    def training_step(self, batch: dict, batch_idx: int) -> None:
        step = self.global_step  # generator steps so far: this batch's index in the run
        g_optimizer, d_optimizer = self.optimizers()

        self.toggle_optimizer(g_optimizer)  # D's parameters get no gradient from G's loss
        g_loss, terms, outputs = self.model_step(batch)
        image, target, depth = batch[keys.IMAGE], batch[keys.DEPTH], outputs[DEPTH]
        size = image.shape[0]
        g_optimizer.zero_grad()
        self.manual_backward(g_loss)
        g_optimizer.step()
        self.untoggle_optimizer(g_optimizer)

        logs = {f"train/g_{name}": value.detach() for name, value in terms.items()}
        with torch.no_grad():
            errors = self.normalised_errors(depth, target)
        logs.update({f"train/{name}": value for name, value in errors.items()})

        if discriminator_due(self.schedule, step):
            d_lr = self.hparams.d_lr * active_switch(self.schedule, step).d_lr_factor
            for group in d_optimizer.param_groups:
                group["lr"] = d_lr
            self.toggle_optimizer(d_optimizer)
            d_loss, d_real, d_fake = self.discriminator_loss(image, depth.detach(), target)
            d_optimizer.zero_grad()
            self.manual_backward(d_loss)
            # Through the strategy rather than `d_optimizer.step()`: the same update (precision
            # plugin, hooks), but global_step keeps counting generator steps only.
            self.trainer.strategy.optimizer_step(d_optimizer.optimizer, closure=_no_closure)
            self.untoggle_optimizer(d_optimizer)
            self.log("train/d_loss", d_loss.detach(), prog_bar=True, batch_size=size)
            logs.update({"train/d_real": d_real, "train/d_fake": d_fake, "train/d_lr": d_lr})
        self.log("train/loss", g_loss.detach(), prog_bar=True, batch_size=size)
        self.log_dict(logs, batch_size=size)

    def evaluation_step(self, batch: dict) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """The generator's loss, `normalised_errors` and the generated depth (`DepthTask`)."""
        loss, _, outputs = self.model_step(batch)
        depth = outputs[DEPTH]
        return loss, self.normalised_errors(depth, batch[keys.DEPTH]), depth

    def normalised_errors(self, depth: Tensor, target: Tensor) -> dict[str, Tensor]:
        """Unweighted ``mae`` and ``mse`` of depth / ``loss_depth_scale`` (report 1's curves).

        Args:
            depth: generated depth [B, 1, H, W], metres.
            target: ground truth [B, 1, H, W], metres, 0 = none.
        """
        scale = self.hparams.loss_depth_scale or 1.0
        mask = target > 0
        return {
            "mae": masked_l1(depth / scale, target / scale, mask),
            "mse": masked_mse(depth / scale, target / scale, mask),
        }

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint[SCHEDULE_KEY] = [asdict(switch) for switch in self.schedule]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # The schedule is a function of the step, so a resumed run continues it exactly, but
        # only if it is the schedule the run started with.
        saved = checkpoint.get(SCHEDULE_KEY)
        if saved is not None and parse_schedule(saved) != self.schedule:
            rank_zero_warn(
                f"AdversarialTask: the checkpoint was trained with the discriminator schedule "
                f"{saved}, this run has {[asdict(switch) for switch in self.schedule]}: from "
                f"step {checkpoint.get('global_step')} on, the new one applies"
            )

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """Two Adam optimisers: ``[generator, discriminator]``."""
        betas = tuple(self.hparams.betas)
        decay = self.hparams.weight_decay
        return [
            torch.optim.Adam(
                self.net.parameters(), lr=self.hparams.g_lr, betas=betas, weight_decay=decay
            ),
            torch.optim.Adam(
                self.discriminator.parameters(),
                lr=self.hparams.d_lr,
                betas=betas,
                weight_decay=decay,
            ),
        ]


def blank_missing(depth: Tensor, mask: Tensor) -> Tensor:
    """Depth [B, 1, H, W] (metres) set to 0 where ``mask`` [B, 1, H, W] (ground truth) is False."""
    return torch.where(mask, depth, 0.0)


def _no_closure() -> None:
    """The losses were back-propagated before the step: nothing to recompute."""
