"""The model-output contract: every key a depth network returns, and the interfaces around it.

What `monodepthkit.data.batch` is for batches, this module is for model outputs. A depth model
maps an image [B, 3, H, W] in [0, 1] to a plain dict with string keys:

- ``depth``: float [B, 1, H, W], z-depth in metres for a metric model, in an unknown global
  scale for a relative one (see ``is_metric`` below). A model built to predict at a lower
  resolution (``upsample_output: false``) returns [B, 1, h, w] instead.
- ``disp``: float [B, 1, H, W], the disparity the depth is derived from, for the networks that
  predict one: Monodepth2's sigmoid disparity in [0, 1] (``depth = 1 / (a disp + b)``, see
  `monodepthkit.geometry.disp_to_depth`), PackNet's inverse depth in 1/metres.
- ``depth_s`` / ``disp_s`` for scales s = 1, 2, ...: the same at [B, 1, ceil(H / 2^s),
  ceil(W / 2^s)], returned by multi-scale networks in training mode only (`depth_key`,
  `disparity_key`). Scale 0 has no suffix, so that inference reads ``depth`` whatever the model.

A multi-scale depth network (`MultiScaleDepthNet`: ``monodepth2``, ``packnet``) is what
self-supervised training needs: it declares ``num_scales`` and returns ``depth`` and ``disp``
for every scale it computes (a network may skip scales; `output_scales` lists those present).
Sharing its encoder with the pose network (`FeatureSharingDepthNet`) also needs ``encode`` /
``decode`` and ``encoder_channels``. `check_multiscale_depth_net` and `validate_outputs` check
both at the boundary.

The model that evaluation and the Predictor receive (a task, or any ``nn.Module`` with this
output) may declare two facts about its ``depth`` (`DepthModel`); a model that declares neither
is metric and is resized as depth:

- ``is_metric``: whether ``depth`` is in metres; False for self-supervised mono models, whose
  depth is relative (evaluation median-scales it, the Predictor returns a disparity).
- ``predicts_disparity``: whether ``depth`` comes from a predicted disparity, so that resizing
  it to another resolution is done on the disparity and inverted afterwards (Monodepth2's
  evaluation).

A network whose depth is bounded by its output head (``unet``, ``conv_autoencoder``,
``encoder_decoder``, ``packnet``) may expose it as ``head`` with ``min_depth`` / ``max_depth``
in metres (`BoundedDepthNet`); supervised training reads them through `output_head_range` to
clip or mask ground truth to what the network can predict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from torch import Tensor, nn

from monodepthkit.errors import InputError

DEPTH = "depth"
DISPARITY = "disp"

_SCALED_KEY = re.compile(rf"^({DEPTH}|{DISPARITY})(?:_([1-9]\d*))?$")


def depth_key(scale: int) -> str:
    """Key of the depth at ``scale``: ``"depth"`` at scale 0, ``"depth_2"`` at scale 2."""
    return _scaled(DEPTH, scale)


def disparity_key(scale: int) -> str:
    """Key of the disparity at ``scale``: ``"disp"`` at scale 0, ``"disp_2"`` at scale 2."""
    return _scaled(DISPARITY, scale)


def key_scale(key: str) -> int:
    """Scale of an output key (``"disp_3"`` -> 3, ``"depth"`` -> 0).

    Raises:
        InputError: ``key`` is not a depth or disparity key of this contract.
    """
    match = _SCALED_KEY.match(key)
    if match is None:
        raise InputError(f"model output key '{key}': expected depth, disp, depth_<s> or disp_<s>")
    return int(match.group(2) or 0)


def output_scales(outputs: Mapping[str, Tensor]) -> list[int]:
    """The scales that ``outputs`` hold a depth for, ascending (e.g. [0, 1, 2, 3] in training)."""
    matches = (_SCALED_KEY.match(key) for key in outputs)
    return sorted(int(m.group(2) or 0) for m in matches if m is not None and m.group(1) == DEPTH)


def per_scale(outputs: Mapping[str, Tensor], name: str) -> list[Tensor]:
    """``outputs[name at s]`` for s in `output_scales`, finest first (``name``: DEPTH/DISPARITY)."""
    return [outputs[_scaled(name, scale)] for scale in output_scales(outputs)]


class DepthModel(Protocol):
    """What evaluation and the Predictor read from a depth model (see the module docstring).

    Attributes:
        is_metric: ``depth`` is in metres (False: relative, up to an unknown scale).
        predicts_disparity: ``depth`` is derived from a predicted disparity and is resized as one.
    """

    is_metric: bool
    predicts_disparity: bool

    def __call__(self, image: Tensor) -> dict[str, Tensor]:
        """Image [B, 3, H, W] in [0, 1] -> outputs with at least ``depth`` [B, 1, H, W]."""
        ...


def model_is_metric(model: nn.Module) -> bool:
    """``model.is_metric``, True for a model that does not declare it (`DepthModel`)."""
    return bool(getattr(model, "is_metric", True))


def model_predicts_disparity(model: nn.Module) -> bool:
    """``model.predicts_disparity``, False for a model that does not declare it (`DepthModel`)."""
    return bool(getattr(model, "predicts_disparity", False))


class BoundedHead(Protocol):
    """An output head that bounds depth to [min_depth, max_depth] metres (max may be inf)."""

    min_depth: float
    max_depth: float


class BoundedDepthNet(Protocol):
    """A depth network whose output head bounds its depth (see the module docstring).

    Attributes:
        head: the output head, with ``min_depth`` / ``max_depth`` in metres.
    """

    head: BoundedHead


def output_head_range(net: nn.Module) -> tuple[float, float] | None:
    """(min, max) depth in metres of ``net.head`` (`BoundedDepthNet`); None without such a head.

    A ``head`` without ``min_depth`` and ``max_depth`` (e.g. a pose network's convolution) does
    not count: the network's depth is then unbounded as far as training knows.
    """
    head = getattr(net, "head", None)
    if head is None or not (hasattr(head, "min_depth") and hasattr(head, "max_depth")):
        return None
    return float(head.min_depth), float(head.max_depth)


class MultiScaleDepthNet(Protocol):
    """A depth network for self-supervised training (Monodepth2, PackNet).

    Attributes:
        num_scales: scales s = 0 .. num_scales - 1 that training mode may return.

    Called on an image [B, 3, H, W] in [0, 1], it returns ``depth`` and ``disp`` at scale 0 and,
    in training mode, ``depth_s`` / ``disp_s`` at the other scales it computes.
    """

    num_scales: int

    def __call__(self, image: Tensor) -> dict[str, Tensor]: ...


class FeatureSharingDepthNet(MultiScaleDepthNet, Protocol):
    """A `MultiScaleDepthNet` whose encoder the ``shared`` pose network reuses.

    Attributes:
        encoder_channels: channels of the encoder's feature maps, fine to coarse.
    """

    encoder_channels: list[int]

    def encode(self, image: Tensor) -> list[Tensor]:
        """Image [B, 3, H, W] in [0, 1] -> feature maps [B, C_i, h_i, w_i], fine to coarse."""
        ...

    def decode(self, features: Sequence[Tensor]) -> dict[str, Tensor]:
        """`encode`'s features -> the outputs the network itself returns for that image."""
        ...


def check_multiscale_depth_net(net: nn.Module, name: str, share_features: bool = False) -> None:
    """Check that ``net`` is a `MultiScaleDepthNet` (a `FeatureSharingDepthNet` if asked).

    Args:
        net: the depth network.
        name: its registry name, for the message.
        share_features: also require ``encode``, ``decode`` and ``encoder_channels``.

    Raises:
        InputError: an attribute is missing; the message names the models that have them.
    """
    needed = ["num_scales"]
    if share_features:
        needed += ["encode", "decode", "encoder_channels"]
    missing = [attribute for attribute in needed if not hasattr(net, attribute)]
    if missing:
        interface = "FeatureSharingDepthNet" if share_features else "MultiScaleDepthNet"
        raise InputError(
            f"depth model '{name}' lacks {', '.join(missing)}: self-supervised training needs a "
            f"monodepthkit.models.outputs.{interface} (monodepth2; packnet, but for the shared "
            "pose network, which needs encode/decode)"
        )


def validate_outputs(outputs: Mapping[str, Tensor], name: str = "model") -> None:
    """Check multi-scale outputs: a ``depth`` and ``disp`` [B, 1, h, w] of equal shape per scale.

    Shapes only: no values are read, so it costs no host synchronisation.

    Raises:
        InputError: a missing key or a wrong shape, named.
    """
    if DEPTH not in outputs:
        raise InputError(f"{name} outputs lack '{DEPTH}'; got keys {sorted(outputs)}")
    for scale in output_scales(outputs):
        depth, disp = depth_key(scale), disparity_key(scale)
        if disp not in outputs:
            raise InputError(f"{name} outputs have '{depth}' but no '{disp}'")
        shape = tuple(outputs[depth].shape)
        if len(shape) != 4 or shape[1] != 1 or tuple(outputs[disp].shape) != shape:
            raise InputError(
                f"{name} outputs '{depth}' {shape} and '{disp}' {tuple(outputs[disp].shape)}: "
                "expected both [B, 1, h, w]"
            )


def _scaled(name: str, scale: int) -> str:
    return name if scale == 0 else f"{name}_{scale}"
