"""The optimiser of the single-optimiser tasks: Adam with a step decay of the learning rate."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from monodepthkit.errors import MdkError

ADAM_IMPLEMENTATIONS = ("auto", "fused", "foreach", "for-loop")
# Devices whose parameters torch's fused Adam kernel takes.
_FUSED_DEVICES = ("cpu", "cuda")


def adam_with_step_decay(
    parameters: Iterable[torch.nn.Parameter] | Iterable[dict],
    lr: float,
    weight_decay: float = 0.0,
    milestones: Sequence[int] | None = None,
    gamma: float = 0.1,
    implementation: str | None = None,
):
    """Adam, and a MultiStepLR scheduler (per epoch) when ``milestones`` are given.

    Args:
        parameters: the parameters to optimise, or parameter groups.
        lr: learning rate.
        weight_decay: Adam weight decay.
        milestones: epochs at which the learning rate is multiplied by ``gamma``.
        gamma: learning-rate decay factor.
        implementation: Adam's kernels (`adam_kwargs`): ``fused`` (one kernel per parameter;
            on the CPU a third of the for-loop's time), ``foreach``, ``for-loop``, ``auto``
            (``fused`` where torch has it for the parameters' device, else torch's choice)
            or None (torch's choice: the for-loop on the CPU, foreach on CUDA). The same
            update up to float rounding.

    Returns:
        What Lightning's ``configure_optimizers`` returns: the optimiser, or a dict with the
        optimiser and its scheduler.
    """
    parameters = list(parameters)
    kwargs = adam_kwargs(implementation, parameters)
    optimizer = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay, **kwargs)
    if not milestones:
        return optimizer
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(milestones), gamma=gamma
    )
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


def adam_kwargs(
    implementation: str | None, parameters: Sequence[torch.nn.Parameter] | Sequence[dict] = ()
) -> dict[str, bool]:
    """``torch.optim.Adam`` keyword arguments that pick its implementation.

    Args:
        implementation: ``auto``, ``fused``, ``foreach``, ``for-loop`` or None (torch's
            default); see `adam_with_step_decay`.
        parameters: the parameters (or groups) ``auto`` looks at: fused when all of them are
            on a device in ``cpu``, ``cuda``.

    Returns:
        ``{"fused": True}``, ``{"foreach": True}``, ``{"foreach": False}`` or ``{}``.

    Raises:
        MdkError: an unknown implementation.
    """
    if implementation is None:
        return {}
    if implementation not in ADAM_IMPLEMENTATIONS:
        raise MdkError(
            f"adam_implementation must be one of {', '.join(ADAM_IMPLEMENTATIONS)} or null "
            f"(torch's default), got {implementation!r}"
        )
    if implementation == "auto":
        tensors = [
            p for item in parameters for p in (item["params"] if isinstance(item, dict) else [item])
        ]
        devices = {p.device.type for p in tensors}
        fusable = bool(devices) and devices <= set(_FUSED_DEVICES)
        fusable = fusable and all(p.is_floating_point() for p in tensors)
        return {"fused": True} if fusable else {}
    if implementation == "fused":
        return {"fused": True}
    return {"foreach": implementation == "foreach"}


def match_state_layout(optimizer: torch.optim.Optimizer) -> None:
    """Store each parameter's optimiser state in the parameter's memory layout, in place.

    A state restored from a checkpoint keeps the layout it was saved in (e.g. NCHW from a GPU
    run), while a task may have changed its parameters' layout (channels-last on the CPU).
    Fused Adam then computes wrong updates (torch 2.14 on the CPU: its kernel pairs the
    elements by memory position); the for-loop and foreach updates are right but slower.

    Args:
        optimizer: its ``state`` tensors shaped like their parameter are copied into that
            parameter's strides (values unchanged); others (``step``) are left alone.
    """
    for param, state in optimizer.state.items():
        for key, value in state.items():
            if (
                isinstance(value, torch.Tensor)
                and value.shape == param.shape
                and value.stride() != param.stride()
            ):
                state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)
