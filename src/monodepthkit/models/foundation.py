"""Foundation depth models of Hugging Face ``transformers`` under the model-output contract.

Four families of ``AutoModelForDepthEstimation`` are registered, each wrapping the library's
own architecture (nothing is re-implemented here):

- ``depth_anything_v2``: variants ``small`` / ``base`` / ``large`` (relative;
  ``depth-anything/Depth-Anything-V2-{Small,Base,Large}-hf``) and ``metric_indoor_{size}``
  (20 m) / ``metric_outdoor_{size}`` (80 m); DINOv2 encoder; ImageNet mean/std; multiple 14,
  native short side 518.
- ``dpt``: variant ``large`` (``Intel/dpt-large``, MiDaS v3.0; relative); mean/std 0.5;
  multiple 16, square inputs only (384x384).
- ``zoedepth``: variants ``nyu`` / ``kitti`` (``Intel/zoedepth-{nyu,kitti}``; metric, 10 m /
  80 m); BEiT-L encoder; mean/std 0.5; multiple 32, native short side 384.
- ``glpn``: variants ``nyu`` / ``kitti`` (``vinvino02/glpn-{nyu,kitti}``; metric, 10 m /
  80 m); MiT-b4 encoder; no normalisation; multiple 32.

Every family also has a ``tiny`` variant (hidden size 32, 4 layers, no published weights) for
tests and for the synthetic twins (``metric_indoor_tiny`` / ``metric_outdoor_tiny`` for Depth
Anything's metric head). ZoeDepth's two-domain ``Intel/zoedepth-nyu-kitti`` is not offered: its
router picks one domain per batch with ``.item()``, which neither batches nor traces.

The wrapper does the family's preprocessing itself, so that it takes what every model of the
registry takes: an image [B, 3, H, W] in [0, 1]. It normalises with the family's mean and std,
resizes to the size the network runs at (the input rounded to the family's multiple, or the
short side at ``resolution``; DPT's ViT only takes squares), and resizes the prediction back to
[H, W] (a disparity as a disparity). Output (`monodepthkit.models.outputs`): ``depth`` and
``disp`` [B, 1, H, W]; for a relative model ``disp`` is the network's affine-invariant inverse
depth and ``depth = 1 / disp`` (floored at 1e-3 of the image's largest disparity), up to an
unknown scale (``is_metric`` False, evaluated with median or scale-and-shift alignment in
disparity); for a metric model ``depth`` is in metres and ``disp = 1 / depth`` in 1/m.

For self-supervised training (`monodepthkit.tasks.SelfSupervisedTask`) the warp needs a
positive, bounded depth, which an affine-invariant disparity is not (its shift is unknown, and
the ReLU heads output zeros). ``depth_range: [min_depth, max_depth]`` (relative variants only)
maps it to Monodepth2's bounded disparity, keeping the network's ordering (a larger disparity
stays nearer)::

    disp = sigmoid(exp(log_scale) * (raw - centre) / spread + shift)     in (0, 1)
    depth = 1 / (1 / max_depth + (1 / min_depth - 1 / max_depth) * disp)

``raw`` is the head's output before its final ReLU (the ReLU is replaced by the identity): the
ReLU clamps the farthest pixels (sky) to exact zeros, where no gradient flows, so they could
never be adapted, and the sigmoid bounds the output instead. ``log_scale`` and ``shift`` are
learnt (both start at 0); ``centre`` and ``spread`` are buffers. With published weights they are
set once, from the first training batch (a data-dependent initialisation, as ActNorm's), so
that its 2nd and 98th percentiles of the raw disparity map to logits -3 and +3 (``disp`` 0.047
and 0.953): a pretrained network's output range is not known in advance, and a fixed mapping
could put it in the sigmoid's flat tails, where no gradient flows. With random weights they
stay 0 and 1 (the raw output is the logit, as in Monodepth2's sigmoid head, starting near
``disp`` 0.5): the raw output of a random network is tiny and grows tenfold in its first Adam
steps, so a mapping calibrated on the first batch saturates the sigmoid within a few steps and
training stalls at a constant depth (measured on Depth Anything V2 small). The buffers are saved
with the weights. ``disp`` is then the sigmoid disparity in [0, 1] (as Monodepth2's) and
``depth`` lies in [min_depth, max_depth], in the units of the range (relative in monocular
training). Metric variants need no mapping: their ``depth`` is already in metres and bounded by
their heads.

Random weights (``pretrained: false``): the DPT neck and head of Depth Anything V2 and DPT are
initialised as the families' original code does, with PyTorch's defaults (`_torch_default_init`;
``transformers`` draws them from N(0, 0.02), which leaves a random network's output near 1e-5
and its decoder untrainable in the few hundred steps of an offline proof).

Export (`monodepthkit.inference.export`): a traced Depth Anything V2 or DPT graph runs at the
example's size only. The wrapper's own resize computes the network size from Python ints, and
``transformers`` sizes the patch grid the same way (``int()`` in Depth Anything's head, a
square reshape in DPT's reassemble stage), so the tracer records that size as a constant while
the final resize to the input stays dynamic: at another size the file ran the network at the
example's resolution and was 2-98 % off PyTorch, with the right output shape. The families say
so (``traces_dynamic_size`` False) and are exported at a fixed size, where they match PyTorch
to float rounding. ZoeDepth and GLPN keep dynamic image sizes (checked at a second size);
ZoeDepth's graph is fixed at batch 1 (its reassemble stage splits the stacked stages with the
traced batch size), a ``transformers`` limit not worked around here.

``pretrained: true`` loads the published weights with ``from_pretrained`` (a Hub id, or a local
folder of the same layout through ``checkpoint``); offline a model is built from its config with
random weights (``pretrained: false``). ``transformers`` is an optional dependency
(``pip install monodepthkit[foundation]``), imported when a model is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import InputError, check_shape
from monodepthkit.geometry.disparity import disp_to_depth
from monodepthkit.models.outputs import DEPTH, DISPARITY
from monodepthkit.models.registry import register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# A relative disparity is floored at this fraction of the image's largest one before it is
# inverted: the ReLU heads of DPT and Depth Anything output exact zeros (sky, random weights).
MIN_DISPARITY_RATIO = 1e-3
# Smallest metric depth returned (metres): Depth Anything's metric head is a sigmoid, 0 at -inf.
MIN_METRIC_DEPTH = 1e-3
# `depth_range`'s calibration: these percentiles of the raw disparity map to -/+ this logit; the
# spread is at least the minimum (a constant output, e.g. a dead ReLU head, has none); at most
# this many values (torch.quantile's limit is 2^24).
CALIBRATION_QUANTILES = (0.02, 0.98)
CALIBRATION_LOGIT = 3.0
MIN_CALIBRATION_SPREAD = 1e-6
CALIBRATION_SAMPLES = 1 << 22
TINY = "tiny"


@dataclass(frozen=True)
class Family:
    """The facts of one ``transformers`` depth family.

    Attributes:
        name: registry name.
        checkpoints: variant -> Hub id of its published weights.
        metric_depth: variant -> maximum depth in metres of a metric variant (absent: relative).
        mean: per-channel mean the family normalises [0, 1] images with (None: no normalisation).
        std: per-channel standard deviation (with ``mean``).
        multiple: the network's input sides must be multiples of this (pixels).
        native_resolution: short side (pixels) of the family's own image processor.
        square: the network only takes square inputs (DPT's ViT).
        encoder: attribute of the ``transformers`` model holding its image encoder.
        config: builds the ``transformers`` config of a variant offline.
        offline_variants: variants without published weights (test sizes).
        traces_dynamic_size: a traced (ONNX, TorchScript) graph of the family takes other image
            sizes than the example's. False where ``transformers`` sizes the patch grid with
            Python ints (``int()`` in Depth Anything's head, constant reshapes in DPT's
            reassemble stage), which the tracer records as constants; export then writes a
            fixed-size file.
        torch_init: submodules of the ``transformers`` model whose random initialisation is
            PyTorch's default, as in the family's original code (plain ``nn.Conv2d`` /
            ``nn.Linear`` layers there; ``transformers`` draws them from N(0, 0.02)).
        final_layers: dotted paths of the last convolution of a relative variant's head and of
            the ReLU after it (None: the family has no relative head). ``depth_range`` replaces
            the ReLU by the identity; with random weights and the ReLU kept, the convolution's
            bias starts at 1 (`_torch_default_init`).
    """

    name: str
    checkpoints: dict[str, str]
    metric_depth: dict[str, float]
    mean: tuple[float, float, float] | None
    std: tuple[float, float, float] | None
    multiple: int
    native_resolution: int
    square: bool
    encoder: str
    config: Callable[[str], object] = field(repr=False)
    offline_variants: tuple[str, ...] = (TINY,)
    traces_dynamic_size: bool = True
    torch_init: tuple[str, ...] = ()
    final_layers: tuple[str, str] | None = None

    @property
    def variants(self) -> list[str]:
        """Every variant: the published ones and the offline test sizes (``tiny``)."""
        return [*self.checkpoints, *self.offline_variants]


def load_transformers():
    """Import ``transformers``, or raise an InputError that says how to install it."""
    try:
        import transformers
    except ImportError:
        raise InputError(
            "foundation depth models need the transformers library: "
            "pip install 'monodepthkit[foundation]' (or pip install transformers)"
        ) from None
    return transformers


class FoundationDepthModel(nn.Module):
    """A ``transformers`` depth model that takes [0, 1] images and returns our output contract.

    Args:
        family: the `Family` (one of `FAMILIES`).
        variant: one of ``family.variants``.
        pretrained: load the published weights of ``variant`` (or of ``checkpoint``).
        checkpoint: Hub id or local folder (``save_pretrained`` layout) to load instead of the
            variant's published weights; implies ``pretrained``. Its config must match the
            variant's kind (relative or metric).
        resolution: short side in pixels the network runs at (rounded to the family's
            multiple), e.g. ``family.native_resolution``; None: the input's own size rounded
            to the multiple (what the other registered models do).
        max_depth: maximum depth in metres of a metric variant's head (None: the variant's).
        freeze_encoder: keep the image encoder's weights fixed (``requires_grad`` False).
        encoder_lr_scale: learning-rate multiplier of the encoder's parameters, read by the
            training tasks through `parameter_groups` (e.g. 0.1: the encoder learns 10x slower
            than the decoder, as Depth Anything fine-tunes).
        depth_range: ``(min_depth, max_depth)`` of a relative variant: map its disparity to
            Monodepth2's bounded sigmoid disparity and depth (module docstring), for
            self-supervised training. None: the raw affine-invariant disparity.

    Attributes:
        is_metric: ``depth`` is in metres (a metric variant) or relative.
        predicts_disparity: the prediction is a disparity (relative variants), resized as one.
        affine_invariant: ``disp`` is the raw affine-invariant disparity (a relative variant
            without ``depth_range``), so ``depth`` is not a depth up to scale only.
        depth_range: ``(min_depth, max_depth)`` or None.
        num_scales: 1 (one output scale: ``depth`` and ``disp``).
        traces_dynamic_size: ``family.traces_dynamic_size``, read by the exporters
            (`monodepthkit.inference.runners.traces_dynamic_size`).
        hub_id: the weights' Hub id or folder, None for ``tiny``.
        model: the ``transformers`` model.
    """

    def __init__(
        self,
        family: Family,
        variant: str,
        pretrained: bool = False,
        checkpoint: str | Path | None = None,
        resolution: int | None = None,
        max_depth: float | None = None,
        freeze_encoder: bool = False,
        encoder_lr_scale: float = 1.0,
        depth_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        if variant not in family.variants:
            raise InputError(
                f"{family.name}: unknown variant '{variant}'; expected one of "
                f"{', '.join(family.variants)}"
            )
        if resolution is not None and resolution < family.multiple:
            raise InputError(
                f"{family.name}: resolution must be >= {family.multiple} pixels, got {resolution}"
            )
        if encoder_lr_scale < 0:
            raise InputError(
                f"{family.name}: encoder_lr_scale must be >= 0, got {encoder_lr_scale}"
            )
        self.family = family
        self.variant = variant
        self.resolution = resolution
        self.encoder_lr_scale = float(encoder_lr_scale)
        self.is_metric = variant in family.metric_depth
        self.predicts_disparity = not self.is_metric
        self.num_scales = 1
        self.traces_dynamic_size = family.traces_dynamic_size
        if max_depth is not None and not self.is_metric:
            raise InputError(
                f"{family.name}: max_depth is for metric variants "
                f"({', '.join(family.metric_depth)}), not '{variant}'"
            )
        self.depth_range = _check_depth_range(family, variant, self.is_metric, depth_range)
        self.affine_invariant = not self.is_metric and self.depth_range is None
        self.hub_id = str(checkpoint) if checkpoint is not None else family.checkpoints.get(variant)
        if pretrained or checkpoint is not None:
            self.model = _from_pretrained(family, variant, self.hub_id, max_depth)
        else:
            config = family.config(variant)
            if max_depth is not None:
                _set_max_depth(config, family, float(max_depth))
            self.model = load_transformers().AutoModelForDepthEstimation.from_config(config)
            _torch_default_init(self.model, family.torch_init)
            if family.final_layers is not None and not self.is_metric and depth_range is None:
                with torch.no_grad():  # open the final ReLU (`_torch_default_init`)
                    self.model.get_submodule(family.final_layers[0]).bias.fill_(1.0)
        if family.mean is not None:
            self.register_buffer("mean", torch.tensor(family.mean).view(1, 3, 1, 1), False)
            self.register_buffer("std", torch.tensor(family.std).view(1, 3, 1, 1), False)
        if freeze_encoder:
            self.encoder.requires_grad_(False)
        if self.depth_range is not None:
            _drop_final_relu(self.model, family)
            self.log_scale = nn.Parameter(torch.zeros(()))
            self.shift = nn.Parameter(torch.zeros(()))
            self.register_buffer("raw_centre", torch.zeros(()))
            self.register_buffer("raw_spread", torch.ones(()))
            # Random weights need no calibration: their raw output is the logit (module docstring).
            random = not pretrained and checkpoint is None
            self.register_buffer("calibrated", torch.tensor(random))
            self._calibration_known = random

    @property
    def encoder(self) -> nn.Module:
        """The image encoder of the ``transformers`` model (DINOv2, ViT, BEiT, MiT)."""
        return getattr(self.model, self.family.encoder)

    def parameter_groups(self) -> list[dict]:
        """Optimiser groups: the encoder's parameters and the others, with ``lr_scale`` each.

        Returns:
            ``[{"params": [...], "lr_scale": encoder_lr_scale}, {"params": [...],
            "lr_scale": 1.0}]``, trainable parameters only (a frozen encoder gives an empty
            first group).
        """
        encoder = {id(p) for p in self.encoder.parameters()}
        trainable = [p for p in self.parameters() if p.requires_grad]
        return [
            {
                "params": [p for p in trainable if id(p) in encoder],
                "lr_scale": self.encoder_lr_scale,
            },
            {"params": [p for p in trainable if id(p) not in encoder], "lr_scale": 1.0},
        ]

    def network_size(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) in pixels the network runs at for an input of ``height x width``."""
        multiple = self.family.multiple
        if self.resolution is not None:
            scale = self.resolution / min(height, width)
            height, width = height * scale, width * scale
        if self.family.square:
            side = max(_round_to(min(height, width), multiple), multiple)
            return side, side
        return max(_round_to(height, multiple), multiple), max(_round_to(width, multiple), multiple)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Depth and disparity of an image.

        Args:
            image: [B, 3, H, W] RGB in [0, 1].

        Returns:
            ``{"depth": [B, 1, H, W], "disp": [B, 1, H, W]}``: metres and 1/m for a metric
            variant; for a relative one the network's disparity and its inverse (unknown scale),
            or with ``depth_range`` the bounded sigmoid disparity in [0, 1] and its depth in
            [min_depth, max_depth].
        """
        check_shape(image, "B 3 H W", f"{self.family.name}: image")
        height, width = image.shape[-2:]
        pixels = image
        if self.family.mean is not None:
            pixels = (pixels - self.mean) / self.std
        size = self.network_size(int(height), int(width))
        if size != (height, width):
            pixels = F.interpolate(pixels, size=size, mode="bilinear", align_corners=False)
        prediction = self.model(pixel_values=pixels).predicted_depth.unsqueeze(1)
        if prediction.shape[-2:] != (height, width):
            prediction = F.interpolate(
                prediction, size=(height, width), mode="bilinear", align_corners=False
            )
        if self.is_metric:
            depth = prediction.clamp_min(MIN_METRIC_DEPTH)
            return {DEPTH: depth, DISPARITY: 1.0 / depth}
        if self.depth_range is not None:
            return self._bounded(prediction)
        floor = prediction.detach().amax(dim=(-2, -1), keepdim=True) * MIN_DISPARITY_RATIO
        depth = 1.0 / torch.maximum(prediction, floor.clamp_min(torch.finfo(floor.dtype).tiny))
        return {DEPTH: depth, DISPARITY: prediction}

    def _bounded(self, raw: Tensor) -> dict[str, Tensor]:
        """Sigmoid disparity and depth of ``depth_range`` from the raw disparity [B, 1, H, W]."""
        if self.training and not self._calibration_known:
            # Read the buffer once (a host synchronisation), not at every step.
            self._calibration_known = bool(self.calibrated)
            if not self._calibration_known:
                self.calibrate(raw.detach())
        logits = self.log_scale.exp() * (raw - self.raw_centre) / self.raw_spread + self.shift
        disp = torch.sigmoid(logits)
        _, depth = disp_to_depth(disp, *self.depth_range)
        return {DEPTH: depth, DISPARITY: disp}

    @torch.no_grad()
    def calibrate(self, raw: Tensor) -> None:
        """Set ``raw_centre`` and ``raw_spread`` so that ``raw``'s 2nd / 98th percentiles map
        to logits -3 / +3.

        Called on the first training batch of a model with ``depth_range``; call it yourself
        with the raw disparities of a few images to choose them otherwise.

        Args:
            raw: [B, 1, H, W] (any shape) raw disparities of the network.
        """
        values = raw.detach().float().flatten()
        if values.numel() > CALIBRATION_SAMPLES:  # torch.quantile's input limit
            values = values[:: values.numel() // CALIBRATION_SAMPLES + 1]
        low, high = torch.quantile(values, values.new_tensor(CALIBRATION_QUANTILES))
        centre = (low + high) / 2
        spread = ((high - low) / (2 * CALIBRATION_LOGIT)).clamp_min(MIN_CALIBRATION_SPREAD)
        self.raw_centre.copy_(centre)
        self.raw_spread.copy_(spread)
        self.calibrated.fill_(True)
        self._calibration_known = True


def _torch_default_init(model: nn.Module, prefixes: tuple[str, ...]) -> None:
    """Re-draw the convolutions and linear layers under ``prefixes`` with PyTorch's defaults.

    ``transformers`` initialises every convolution from N(0, 0.02) with zero bias. Through the
    DPT neck and head of Depth Anything and DPT (about ten convolutions) that shrinks the signal
    some threefold per layer, so a random network outputs about 1e-5 (DPT 1e-10) whatever the
    image, and its decoder barely trains. The original code builds these layers from plain
    ``nn.Conv2d`` / ``nn.ConvTranspose2d`` / ``nn.Linear`` modules, i.e. PyTorch's default
    initialisation, which this restores. Only random weights are touched; the encoder keeps
    ``transformers``' ViT initialisation (trunc-normal 0.02, as DINOv2's own code).

    The caller then sets the bias of a relative head's last convolution to 1, when its final
    ReLU stays: PyTorch's default draws that bias from +-0.18, which outweighs the rest of the
    convolution's output, so the random bias alone decided whether the whole output was zero
    (a dead head with no gradient: seeds 1 and 2 of Depth Anything V2 small and tiny did).
    """
    for name, module in model.named_modules():
        if name.startswith(prefixes) and isinstance(
            module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
        ):
            module.reset_parameters()


def _drop_final_relu(model: nn.Module, family: Family) -> None:
    """Replace the head's last ReLU (``family.final_layers``) by the identity, for
    ``depth_range``."""
    if family.final_layers is None:
        return
    parent_path, _, name = family.final_layers[1].rpartition(".")
    parent = model.get_submodule(parent_path)
    if not isinstance(getattr(parent, name), nn.ReLU):
        raise InputError(
            f"{family.name}: expected a ReLU at {family.final_layers[1]} of the transformers "
            f"model, found {type(getattr(parent, name)).__name__} (a transformers version change?)"
        )
    setattr(parent, name, nn.Identity())


def variant_is_metric(name: str, variant: str | None = None) -> bool:
    """Whether a foundation family's variant predicts metric depth, without building it.

    Args:
        name: registry name of a family (``depth_anything_v2``, ``dpt``, ``zoedepth``, ``glpn``).
        variant: one of its variants; None: the registry's default variant.

    Raises:
        InputError: an unknown family or variant.
    """
    if name not in FAMILIES:
        raise InputError(
            f"'{name}' is not a foundation family; expected one of {', '.join(FAMILIES)}"
        )
    family = FAMILIES[name]
    variant = DEFAULT_VARIANTS[name] if variant is None else variant
    if variant not in family.variants:
        raise InputError(
            f"{name}: unknown variant '{variant}'; expected one of {', '.join(family.variants)}"
        )
    return variant in family.metric_depth


def _check_depth_range(
    family: Family, variant: str, is_metric: bool, depth_range: tuple[float, float] | None
) -> tuple[float, float] | None:
    if depth_range is None:
        return None
    if is_metric:
        raise InputError(
            f"{family.name}: depth_range is for relative variants; '{variant}' is metric "
            "(its depth is already bounded metres: drop depth_range, or set max_depth)"
        )
    try:
        low, high = (float(value) for value in depth_range)
    except (TypeError, ValueError):
        raise InputError(
            f"{family.name}: depth_range must be [min_depth, max_depth], got {depth_range!r}"
        ) from None
    if not 0 < low < high:
        raise InputError(
            f"{family.name}: depth_range needs 0 < min_depth < max_depth, got {depth_range!r} "
            "(Monodepth2 uses [0.1, 100])"
        )
    return low, high


def _from_pretrained(
    family: Family, variant: str, source: str | None, max_depth: float | None
) -> nn.Module:
    """``from_pretrained`` of ``source`` (Hub id or folder), or one clear InputError line."""
    if source is None:
        raise InputError(
            f"{family.name}: variant '{variant}' has no published weights; set pretrained: "
            f"false, or checkpoint: a Hub id or folder, or one of {', '.join(family.checkpoints)}"
        )
    transformers = load_transformers()
    try:
        loaded_config = transformers.AutoConfig.from_pretrained(source)
        if max_depth is not None:
            _set_max_depth(loaded_config, family, float(max_depth))
        return transformers.AutoModelForDepthEstimation.from_pretrained(
            source, config=loaded_config
        )
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{family.name}: cannot load the weights '{source}' ({reason[:160]}); offline, "
            f"set pretrained: false for random weights, or download them once with "
            f"`hf download {source}` (or pass checkpoint: a local folder)"
        ) from None


def _round_to(value: float, multiple: int) -> int:
    return math.floor(value / multiple + 0.5) * multiple


def _set_max_depth(config, family: Family, max_depth: float) -> None:
    if not max_depth > 0:
        raise InputError(f"{family.name}: max_depth must be > 0 metres, got {max_depth}")
    if family.name == "zoedepth":
        config.bin_configurations = [
            {**conf, "max_depth": max_depth} for conf in config.bin_configurations
        ]
    else:
        # transformers types Depth Anything's and GLPN's max_depth as an int (whole metres).
        if max_depth != int(max_depth):
            raise InputError(f"{family.name}: max_depth must be whole metres, got {max_depth}")
        config.max_depth = int(max_depth)


# --- the families' configs (the published checkpoints' architectures) -------------------------

# Depth Anything V2 (Yang et al. 2024): DINOv2 ViT-S/B/L and a DPT head; out_indices count the
# stem as stage 0 (the paper's intermediate layers [2, 5, 8, 11] and [4, 11, 17, 23]).
_DA_SIZES = {
    "small": dict(
        hidden=384, layers=12, heads=6, out=[3, 6, 9, 12], neck=[48, 96, 192, 384], fusion=64
    ),
    "base": dict(
        hidden=768, layers=12, heads=12, out=[3, 6, 9, 12], neck=[96, 192, 384, 768], fusion=128
    ),
    "large": dict(
        hidden=1024,
        layers=24,
        heads=16,
        out=[5, 12, 18, 24],
        neck=[256, 512, 1024, 1024],
        fusion=256,
    ),
    TINY: dict(hidden=32, layers=4, heads=2, out=[1, 2, 3, 4], neck=[8, 16, 32, 32], fusion=16),
}
_DA_METRIC = {"metric_indoor": 20.0, "metric_outdoor": 80.0}


def _depth_anything_config(variant: str):
    transformers = load_transformers()
    kind, _, size = variant.rpartition("_")
    spec = _DA_SIZES[size]
    backbone = transformers.Dinov2Config(
        hidden_size=spec["hidden"],
        num_hidden_layers=spec["layers"],
        num_attention_heads=spec["heads"],
        intermediate_size=4 * spec["hidden"],
        image_size=518,
        patch_size=14,
        out_indices=spec["out"],
        reshape_hidden_states=False,
        apply_layernorm=True,
    )
    metric = dict(depth_estimation_type="metric", max_depth=int(_DA_METRIC[kind])) if kind else {}
    return transformers.DepthAnythingConfig(
        backbone_config=backbone,
        patch_size=14,
        reassemble_hidden_size=spec["hidden"],
        neck_hidden_sizes=spec["neck"],
        fusion_hidden_size=spec["fusion"],
        head_hidden_size=max(spec["fusion"] // 2, 8),
        **metric,
    )


def _dpt_config(variant: str):
    transformers = load_transformers()
    if variant == TINY:
        return transformers.DPTConfig(
            hidden_size=32,
            num_hidden_layers=4,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=64,
            patch_size=16,
            backbone_out_indices=[0, 1, 2, 3],
            neck_hidden_sizes=[8, 16, 32, 32],
            fusion_hidden_size=16,
            head_hidden_size=8,
        )
    # Intel/dpt-large: ViT-L/16 at 384 (transformers' defaults are ViT-B).
    return transformers.DPTConfig(
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
        image_size=384,
        patch_size=16,
        backbone_out_indices=[5, 11, 17, 23],
        neck_hidden_sizes=[256, 512, 1024, 1024],
        fusion_hidden_size=256,
    )


def _zoedepth_config(variant: str):
    transformers = load_transformers()
    max_depth = {"nyu": 10.0, "kitti": 80.0, TINY: 10.0}[variant]
    if variant == TINY:
        backbone = transformers.BeitConfig(
            hidden_size=32,
            num_hidden_layers=4,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=64,
            patch_size=16,
            out_indices=[1, 2, 3, 4],
            use_relative_position_bias=True,
            reshape_hidden_states=False,
            drop_path_rate=0.0,
        )
        return transformers.ZoeDepthConfig(
            backbone_config=backbone,
            neck_hidden_sizes=[8, 16, 32, 32],
            fusion_hidden_size=16,
            bottleneck_features=16,
            num_relative_features=8,
            bin_embedding_dim=16,
            num_attractors=[4, 2, 2, 1],
            bin_configurations=[{"n_bins": 8, "min_depth": 1e-3, "max_depth": max_depth}],
            patch_transformer_hidden_size=16,
            patch_transformer_intermediate_size=32,
            patch_transformer_num_attention_heads=2,
            num_patch_transformer_layers=1,
        )
    # Intel/zoedepth-{nyu,kitti}: BEiT-L/16 at 384 (transformers' default backbone), 64 bins.
    return transformers.ZoeDepthConfig(
        neck_hidden_sizes=[256, 512, 1024, 1024],
        bin_configurations=[{"n_bins": 64, "min_depth": 1e-3, "max_depth": max_depth}],
    )


def _glpn_config(variant: str):
    transformers = load_transformers()
    if variant == TINY:
        return transformers.GLPNConfig(
            depths=[1, 1, 1, 1],
            hidden_sizes=[8, 16, 24, 32],
            num_attention_heads=[1, 1, 1, 2],
            decoder_hidden_size=16,
            max_depth=10,
            drop_path_rate=0.0,
        )
    # vinvino02/glpn-{nyu,kitti}: MiT-b4 encoder (transformers' defaults are b0), 10 m / 80 m.
    return transformers.GLPNConfig(
        depths=[3, 8, 27, 3],
        hidden_sizes=[64, 128, 320, 512],
        num_attention_heads=[1, 2, 5, 8],
        decoder_hidden_size=64,
        max_depth={"nyu": 10, "kitti": 80}[variant],
    )


def _depth_anything_checkpoints() -> dict[str, str]:
    ids = {size: f"depth-anything/Depth-Anything-V2-{size.title()}-hf" for size in _DA_SIZES}
    for kind in _DA_METRIC:
        room = kind.split("_")[1].title()
        for size in ("small", "base", "large"):
            ids[f"{kind}_{size}"] = (
                f"depth-anything/Depth-Anything-V2-Metric-{room}-{size.title()}-hf"
            )
    del ids[TINY]
    return ids


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            name="depth_anything_v2",
            checkpoints=_depth_anything_checkpoints(),
            metric_depth={
                f"{kind}_{size}": depth
                for kind, depth in _DA_METRIC.items()
                for size in ("small", "base", "large", TINY)
            },
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            multiple=14,
            native_resolution=518,
            square=False,
            encoder="backbone",
            config=_depth_anything_config,
            offline_variants=(TINY, *(f"{kind}_{TINY}" for kind in _DA_METRIC)),
            traces_dynamic_size=False,
            torch_init=("neck", "head"),
            final_layers=("head.conv3", "head.activation2"),
        ),
        Family(
            name="dpt",
            checkpoints={"large": "Intel/dpt-large"},
            metric_depth={},
            mean=(0.5, 0.5, 0.5),
            std=(0.5, 0.5, 0.5),
            multiple=16,
            native_resolution=384,
            square=True,
            encoder="dpt",
            config=_dpt_config,
            traces_dynamic_size=False,
            torch_init=("neck", "head"),
            final_layers=("head.head.4", "head.head.5"),
        ),
        Family(
            name="zoedepth",
            checkpoints={"nyu": "Intel/zoedepth-nyu", "kitti": "Intel/zoedepth-kitti"},
            metric_depth={"nyu": 10.0, "kitti": 80.0, TINY: 10.0},
            mean=(0.5, 0.5, 0.5),
            std=(0.5, 0.5, 0.5),
            multiple=32,
            native_resolution=384,
            square=False,
            encoder="backbone",
            config=_zoedepth_config,
        ),
        Family(
            name="glpn",
            checkpoints={"nyu": "vinvino02/glpn-nyu", "kitti": "vinvino02/glpn-kitti"},
            metric_depth={"nyu": 10.0, "kitti": 80.0, TINY: 10.0},
            mean=None,
            std=None,
            multiple=32,
            native_resolution=480,
            square=False,
            encoder="glpn",
            config=_glpn_config,
        ),
    )
}


def _factory(family: Family, default_variant: str) -> Callable[..., FoundationDepthModel]:
    def build(variant: str = default_variant, **options) -> FoundationDepthModel:
        return FoundationDepthModel(family, variant, **options)

    build.__name__ = family.name
    build.__doc__ = (
        f"Build a {family.name} model (`FoundationDepthModel`); variants: "
        f"{', '.join(family.variants)}."
    )
    return build


DEFAULT_VARIANTS = {"depth_anything_v2": "small", "dpt": "large", "zoedepth": "nyu", "glpn": "nyu"}
"""The variant each family's registry factory builds when none is given."""

for _name, _default in DEFAULT_VARIANTS.items():
    _family = FAMILIES[_name]
    register_model(_family.name, input_multiple=_family.multiple)(_factory(_family, _default))
