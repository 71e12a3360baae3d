"""Supervised depth losses: pure functions of tensors plus thin modules.

All losses take a prediction and a target of the same shape [B, 1, H, W] (metres) and a
boolean ``mask`` [B, 1, H, W] of pixels with ground truth; they average over masked pixels
of the whole batch and return a scalar. A batch with no valid pixel gives 0 (connected to
the graph, so backward still works).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from monodepthkit.errors import MdkError


def masked_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean absolute error over masked pixels, in the units of the inputs."""
    _check_shapes(pred, target, mask)
    return _masked_mean((pred - target).abs(), mask)


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over masked pixels, in squared units of the inputs."""
    _check_shapes(pred, target, mask)
    return _masked_mean((pred - target) ** 2, mask)


def _check_shapes(pred: Tensor, target: Tensor, mask: Tensor) -> None:
    if pred.shape != target.shape or mask.shape != pred.shape:
        raise ValueError(
            f"pred, target and mask must share a shape, got {tuple(pred.shape)}, "
            f"{tuple(target.shape)} and {tuple(mask.shape)}"
        )


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    count = mask.sum()
    if count == 0:
        return values.sum() * 0.0
    return values[mask].sum() / count


class MaskedL1Loss(nn.Module):
    """Module form of `masked_l1`."""

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return masked_l1(pred, target, mask)


class MaskedMSELoss(nn.Module):
    """Module form of `masked_mse`."""

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return masked_mse(pred, target, mask)


SUPERVISED_LOSSES: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "l1": masked_l1,
    "mse": masked_mse,
}


def get_supervised_loss(name: str) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """Look up a supervised loss function by name.

    Raises:
        MdkError: unknown name, listing the available ones.
    """
    if name not in SUPERVISED_LOSSES:
        raise MdkError(f"unknown loss '{name}'; available: {', '.join(sorted(SUPERVISED_LOSSES))}")
    return SUPERVISED_LOSSES[name]
