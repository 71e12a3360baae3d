"""Adversarial losses of report 1's pix2pix GAN: pure functions of tensors plus thin modules.

The discriminator returns a grid of patch outputs ``logits`` of any shape, e.g. (B, 1, h, w)
(see `monodepthkit.models.patchgan`). "Real" labels are 1 and "fake" labels 0 on every patch.

- Discriminator (report 1, eq. 7): least squares on the raw outputs,
  ``mean (D(real) - 1)^2 + mean D(fake)^2``.
- Generator (eq. 6, last term): cross-entropy of the generated depth's patches against "real",
  the outputs read as logits: ``mean -log sigmoid(D(fake))``.
- Optional (report 1, section 5.3, component 3; not in eq. 6): L1 between the generated
  depth's patch outputs and the real labels, ``mean |D(fake) - 1|``.

`generator_loss_terms` assembles report 1's whole generator loss
``a1 * gradient + a2 * L1 + a3 * MSE + a4 * adversarial (+ a5 * patch L1)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import InputError
from monodepthkit.losses.supervised import masked_l1, masked_mse, sobel_gradient_loss, sum_terms

REAL_LABEL = 1.0
FAKE_LABEL = 0.0


def discriminator_least_squares_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Report 1's discriminator loss: ``mean (D(real) - 1)^2 + mean (D(fake) - 0)^2``.

    Args:
        real_logits: patch outputs on ground-truth depth, any shape, e.g. (B, 1, h, w).
        fake_logits: patch outputs on generated depth, same shape.

    Returns:
        Scalar >= 0, unitless; 0 when every real patch outputs 1 and every fake patch 0.
    """
    _check_logits(real_logits, "real_logits")
    _check_logits(fake_logits, "fake_logits")
    if real_logits.shape != fake_logits.shape:
        raise InputError(
            f"real_logits and fake_logits must share a shape, got {tuple(real_logits.shape)} "
            f"and {tuple(fake_logits.shape)}"
        )
    return (real_logits - REAL_LABEL).square().mean() + (fake_logits - FAKE_LABEL).square().mean()


def generator_adversarial_loss(fake_logits: Tensor) -> Tensor:
    """Cross-entropy of the generated depth's patch logits against "real": mean ``-log S(x)``.

    Args:
        fake_logits: patch outputs on generated depth, any shape, e.g. (B, 1, h, w).

    Returns:
        Scalar > 0 in nats (log 2 ~ 0.693 at logit 0).
    """
    _check_logits(fake_logits, "fake_logits")
    return F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, REAL_LABEL))


def patch_l1_loss(fake_logits: Tensor) -> Tensor:
    """L1 between the generated depth's patch outputs and the real labels: ``mean |x - 1|``.

    Args:
        fake_logits: patch outputs on generated depth, any shape, e.g. (B, 1, h, w).

    Returns:
        Scalar >= 0, unitless.
    """
    _check_logits(fake_logits, "fake_logits")
    return (fake_logits - REAL_LABEL).abs().mean()


def generator_loss_terms(
    pred: Tensor,
    target: Tensor,
    mask: Tensor,
    fake_logits: Tensor,
    *,
    grad_weight: float = 1.0,
    l1_weight: float = 1.0,
    mse_weight: float = 1.0,
    adversarial_weight: float = 1.0,
    patch_l1_weight: float = 0.0,
) -> dict[str, Tensor]:
    """The weighted terms of report 1's generator loss (eq. 6 plus the optional patch L1).

    Report 1 gives no values for the weights ``a1``-``a4``; the defaults are all 1 (the report
    config chooses its own, see ``configs/report1/gan.yaml``).

    Args:
        pred: generated depth (B, 1, H, W), e.g. normalised to [0, 1].
        target: ground-truth depth (B, 1, H, W), same units.
        mask: boolean (B, 1, H, W), True where ``target`` is valid.
        fake_logits: the discriminator's patch outputs on ``pred``, e.g. (B, 1, h, w).
        grad_weight: ``a1``, weight of `sobel_gradient_loss` (unitless).
        l1_weight: ``a2``, weight of `masked_l1` (units of the depths).
        mse_weight: ``a3``, weight of `masked_mse` (squared units).
        adversarial_weight: ``a4``, weight of `generator_adversarial_loss` (nats).
        patch_l1_weight: weight of `patch_l1_loss`; 0 leaves it out (as eq. 6 does).

    Returns:
        ``{"grad", "l1", "mse", "adversarial", "patch_l1"}`` (the last only with a positive
        weight), each a weighted scalar; their sum is the generator loss.
    """
    weights = {
        "grad_weight": grad_weight,
        "l1_weight": l1_weight,
        "mse_weight": mse_weight,
        "adversarial_weight": adversarial_weight,
        "patch_l1_weight": patch_l1_weight,
    }
    for name, value in weights.items():
        if not value >= 0:
            raise InputError(f"{name} must be >= 0, got {value}")
    terms = {
        "grad": grad_weight * sobel_gradient_loss(pred, target, mask),
        "l1": l1_weight * masked_l1(pred, target, mask),
        "mse": mse_weight * masked_mse(pred, target, mask),
        "adversarial": adversarial_weight * generator_adversarial_loss(fake_logits),
    }
    if patch_l1_weight > 0:
        terms["patch_l1"] = patch_l1_weight * patch_l1_loss(fake_logits)
    return terms


# ---------------------------------------------------------------------------------------------
# Modules: thin wrappers


class DiscriminatorLeastSquaresLoss(nn.Module):
    """Module form of `discriminator_least_squares_loss`."""

    def forward(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return discriminator_least_squares_loss(real_logits, fake_logits)


class GeneratorAdversarialLoss(nn.Module):
    """Module form of `generator_adversarial_loss`."""

    def forward(self, fake_logits: Tensor) -> Tensor:
        return generator_adversarial_loss(fake_logits)


class PatchL1Loss(nn.Module):
    """Module form of `patch_l1_loss`."""

    def forward(self, fake_logits: Tensor) -> Tensor:
        return patch_l1_loss(fake_logits)


class GeneratorLoss(nn.Module):
    """Module form of `generator_loss_terms`: returns ``(total, terms)``."""

    def __init__(
        self,
        grad_weight: float = 1.0,
        l1_weight: float = 1.0,
        mse_weight: float = 1.0,
        adversarial_weight: float = 1.0,
        patch_l1_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.weights = {
            "grad_weight": grad_weight,
            "l1_weight": l1_weight,
            "mse_weight": mse_weight,
            "adversarial_weight": adversarial_weight,
            "patch_l1_weight": patch_l1_weight,
        }

    def forward(
        self, pred: Tensor, target: Tensor, mask: Tensor, fake_logits: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        terms = generator_loss_terms(pred, target, mask, fake_logits, **self.weights)
        return sum_terms(terms), terms

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.weights.items())


def _check_logits(logits: Tensor, name: str) -> None:
    if not logits.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor, got {logits.dtype}")
    if logits.numel() == 0:
        raise InputError(
            f"{name} is empty (shape {tuple(logits.shape)}): the image is too small for the "
            "discriminator's strides"
        )
