"""The optimiser of the single-optimiser tasks: Adam with a step decay of the learning rate."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch


def adam_with_step_decay(
    parameters: Iterable[torch.nn.Parameter],
    lr: float,
    weight_decay: float = 0.0,
    milestones: Sequence[int] | None = None,
    gamma: float = 0.1,
):
    """Adam, and a MultiStepLR scheduler (per epoch) when ``milestones`` are given.

    Args:
        parameters: the parameters to optimise.
        lr: learning rate.
        weight_decay: Adam weight decay.
        milestones: epochs at which the learning rate is multiplied by ``gamma``.
        gamma: learning-rate decay factor.

    Returns:
        What Lightning's ``configure_optimizers`` returns: the optimiser, or a dict with the
        optimiser and its scheduler.
    """
    optimizer = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    if not milestones:
        return optimizer
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(milestones), gamma=gamma
    )
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
