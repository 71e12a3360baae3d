"""Output heads: map a network's raw output to metric depth.

Every head maps unbounded logits [B, 1, H, W] to positive depth in metres [B, 1, H, W].
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from monodepthkit.errors import MdkError


class SigmoidRangeHead(nn.Module):
    """Depth linear in a sigmoid: ``min + (max - min) * sigmoid(x)`` metres."""

    def __init__(self, min_depth: float, max_depth: float) -> None:
        super().__init__()
        self.min_depth, self.max_depth = min_depth, max_depth

    def forward(self, logits: Tensor) -> Tensor:
        return self.min_depth + (self.max_depth - self.min_depth) * torch.sigmoid(logits)


class InverseSigmoidHead(nn.Module):
    """Monodepth2's ``disp_to_depth``: disparity ``1/max + (1/min - 1/max) * sigmoid(x)``,
    depth its inverse, so depth lies in [min, max] metres."""

    def __init__(self, min_depth: float, max_depth: float) -> None:
        super().__init__()
        self.min_disp, self.max_disp = 1.0 / max_depth, 1.0 / min_depth

    def forward(self, logits: Tensor) -> Tensor:
        return 1.0 / (self.min_disp + (self.max_disp - self.min_disp) * torch.sigmoid(logits))


class LogSigmoidHead(nn.Module):
    """Depth uniform in log space: ``exp(log min + (log max - log min) * sigmoid(x))`` metres.

    Equal logit steps give equal relative depth steps, which suits ranges spanning two orders of
    magnitude (1-80 m driving scenes).
    """

    def __init__(self, min_depth: float, max_depth: float) -> None:
        super().__init__()
        self.log_min, self.log_max = math.log(min_depth), math.log(max_depth)

    def forward(self, logits: Tensor) -> Tensor:
        return torch.exp(self.log_min + (self.log_max - self.log_min) * torch.sigmoid(logits))


HEADS = {
    "sigmoid_range": SigmoidRangeHead,
    "inverse_sigmoid": InverseSigmoidHead,
    "log": LogSigmoidHead,
}


def build_head(name: str, min_depth: float, max_depth: float) -> nn.Module:
    """Build an output head by name.

    Args:
        name: one of `HEADS`.
        min_depth: smallest predictable depth in metres (> 0).
        max_depth: largest predictable depth in metres (> min_depth).

    Raises:
        MdkError: unknown name or an invalid range.
    """
    if name not in HEADS:
        raise MdkError(f"unknown head '{name}'; available: {', '.join(sorted(HEADS))}")
    if not 0 < min_depth < max_depth:
        raise MdkError(
            f"head '{name}': need 0 < min_depth < max_depth, found {min_depth} and {max_depth}"
        )
    return HEADS[name](min_depth, max_depth)
