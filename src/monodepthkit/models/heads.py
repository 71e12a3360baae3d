"""Output heads: map a network's raw output to metric depth.

Every head maps unbounded logits [B, 1, H, W] to positive depth in metres [B, 1, H, W], and
exposes the range of depths it can produce as float attributes ``min_depth`` and ``max_depth``
(metres; ``max_depth`` is ``inf`` for an unbounded head). A task can compare its training depths
with that range through `head_range`.

| name | depth in metres | range | from |
|---|---|---|---|
| ``sigmoid`` | ``max * sigmoid(x)`` | (0, max) | report 1 (output = depth / max) |
| ``sigmoid_range`` | ``min + (max - min) * sigmoid(x)`` | (min, max) | |
| ``tanh_range`` | ``min + (max - min) * (tanh(x) + 1) / 2`` | (min, max) | report 2 |
| ``inverse_sigmoid`` | ``1 / (1/max + (1/min - 1/max) * sigmoid(x))`` | (min, max) | reports 4-5 |
| ``log`` | ``exp(log min + (log max - log min) * sigmoid(x))`` | (min, max) | log-depth head |
| ``softplus`` | ``min + softplus(x)`` | (min, inf) | unbounded above |
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import InputError


class DepthHead(nn.Module):
    """Base class of the output heads: logits [B, 1, H, W] -> depth [B, 1, H, W] in metres.

    Attributes:
        min_depth: smallest depth the head can output, metres.
        max_depth: largest depth the head can output, metres (``inf`` if unbounded).
    """

    # Whether the formula needs ``min_depth > 0`` (a logarithm or a division by it).
    needs_positive_min: bool = True

    def __init__(self, min_depth: float, max_depth: float) -> None:
        super().__init__()
        self.min_depth, self.max_depth = float(min_depth), float(max_depth)

    def extra_repr(self) -> str:
        return f"min_depth={self.min_depth}, max_depth={self.max_depth}"


class SigmoidHead(DepthHead):
    """Report 1's sigmoid output: ``depth = max_depth * sigmoid(x)`` metres.

    The network's normalised output ``sigmoid(x)`` in [0, 1] is ``depth / max_depth`` (the report
    trains on depth maps divided by their maximum). The head's range is (0, max_depth): the
    ``min_depth`` argument is not used and the attribute ``min_depth`` is 0. In float32 the output
    underflows to exactly 0 for logits below about -88 (evaluation clamps predictions anyway).
    """

    needs_positive_min = False

    def __init__(self, min_depth: float, max_depth: float) -> None:
        super().__init__(0.0, max_depth)

    def forward(self, logits: Tensor) -> Tensor:
        return self.max_depth * torch.sigmoid(logits)


class SigmoidRangeHead(DepthHead):
    """Depth linear in a sigmoid: ``min + (max - min) * sigmoid(x)`` metres."""

    def forward(self, logits: Tensor) -> Tensor:
        return self.min_depth + (self.max_depth - self.min_depth) * torch.sigmoid(logits)


class TanhRangeHead(DepthHead):
    """Depth linear in a tanh: ``min + (max - min) * (tanh(x) + 1) / 2`` metres.

    For 0.5-4 m this is report 2's ``1.75 * tanh(x) + 2.25``.
    """

    def forward(self, logits: Tensor) -> Tensor:
        half_span = 0.5 * (self.max_depth - self.min_depth)
        return self.min_depth + half_span + half_span * torch.tanh(logits)


class InverseSigmoidHead(DepthHead):
    """Monodepth2's ``disp_to_depth``: disparity ``1/max + (1/min - 1/max) * sigmoid(x)``,
    depth its inverse, so depth lies in [min, max] metres."""

    def __init__(self, min_depth: float, max_depth: float) -> None:
        super().__init__(min_depth, max_depth)
        self.min_disp, self.max_disp = 1.0 / max_depth, 1.0 / min_depth

    def forward(self, logits: Tensor) -> Tensor:
        return 1.0 / (self.min_disp + (self.max_disp - self.min_disp) * torch.sigmoid(logits))


class LogSigmoidHead(DepthHead):
    """The log-depth head: depth uniform in log space,
    ``exp(log min + (log max - log min) * sigmoid(x))`` metres.

    Equal logit steps give equal relative depth steps, which suits ranges spanning two orders of
    magnitude (1-80 m driving scenes).
    """

    def __init__(self, min_depth: float, max_depth: float) -> None:
        super().__init__(min_depth, max_depth)
        self.log_min, self.log_max = math.log(min_depth), math.log(max_depth)

    def forward(self, logits: Tensor) -> Tensor:
        return torch.exp(self.log_min + (self.log_max - self.log_min) * torch.sigmoid(logits))


class SoftplusHead(DepthHead):
    """Unbounded depth: ``min_depth + softplus(x)`` metres.

    The offset keeps depth strictly positive even where softplus underflows to 0. The head has no
    upper bound: the ``max_depth`` argument is only checked (> min_depth) and the attribute
    ``max_depth`` is ``inf``.
    """

    def __init__(self, min_depth: float, max_depth: float) -> None:
        super().__init__(min_depth, math.inf)

    def forward(self, logits: Tensor) -> Tensor:
        return self.min_depth + F.softplus(logits)


HEADS: dict[str, type[DepthHead]] = {
    "sigmoid": SigmoidHead,
    "sigmoid_range": SigmoidRangeHead,
    "tanh_range": TanhRangeHead,
    "inverse_sigmoid": InverseSigmoidHead,
    "log": LogSigmoidHead,
    "softplus": SoftplusHead,
}


def build_head(name: str, min_depth: float, max_depth: float) -> DepthHead:
    """Build an output head by name.

    Args:
        name: one of `HEADS`.
        min_depth: smallest predictable depth in metres (> 0; unused by ``sigmoid``).
        max_depth: largest predictable depth in metres (> min_depth, finite).

    Raises:
        InputError: unknown name or an invalid range.
    """
    if name not in HEADS:
        raise InputError(f"unknown head '{name}'; available: {', '.join(sorted(HEADS))}")
    head_class = HEADS[name]
    if head_class.needs_positive_min:
        valid, rule = 0 < min_depth < max_depth < math.inf, "0 < min_depth < max_depth < inf"
    else:
        valid = min_depth < max_depth and 0 < max_depth < math.inf
        rule = "min_depth < max_depth and 0 < max_depth < inf"
    if not valid:
        raise InputError(
            f"head '{name}': need {rule} (metres), "
            f"found min_depth={min_depth} and max_depth={max_depth}"
        )
    return head_class(min_depth, max_depth)


def head_range(head: nn.Module) -> tuple[float, float]:
    """The (min, max) depth in metres that an output head can produce (max may be ``inf``)."""
    return head.min_depth, head.max_depth
