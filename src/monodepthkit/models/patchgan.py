"""Conditional PatchGAN discriminator (Isola et al. 2017, pix2pix), report 1's discriminator.

The discriminator sees the RGB image and a depth map side by side and returns one logit per
overlapping patch: a grid saying, patch by patch, whether the depth map looks like real ground
truth for that image. With the default three strided layers each logit sees a 70x70 pixel patch.

Inputs are normalised inside the network, so callers pass the batch contract's units:

- the image [B, 3, H, W] in [0, 1] becomes ``2 * image - 1`` (in [-1, 1], as pix2pix);
- depth [B, 1, H, W] in metres becomes ``2 * depth / depth_scale - 1``: [0, depth_scale] metres
  maps linearly onto [-1, 1] (report 1's [0, 1]-normalised depth, shifted). Depth beyond
  ``depth_scale`` is not clipped. A pixel without ground truth (depth 0) reads as -1, the same
  as 0 m; the training task therefore blanks the generated depth wherever the real one is 0, so
  that missing ground truth does not tell real from fake.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from monodepthkit.errors import InputError, check_shape
from monodepthkit.models.registry import register_model

NORMS = ("batch", "instance", "none")
_KERNEL = 4  # pix2pix's 4x4 convolutions, padding 1


def patchgan_layers(n_layers: int) -> list[tuple[int, int]]:
    """(kernel, stride) of the convolutions of a PatchGAN with ``n_layers`` strided layers.

    ``n_layers`` 4x4 convolutions of stride 2, then two 4x4 convolutions of stride 1 (the last
    one outputs the logits).
    """
    if n_layers < 1:
        raise InputError(f"n_layers must be >= 1, got {n_layers}")
    return [(_KERNEL, 2)] * n_layers + [(_KERNEL, 1), (_KERNEL, 1)]


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Side in input pixels of the patch seen by one output unit of a chain of convolutions.

    Args:
        layers: (kernel, stride) of each convolution (or pooling), input to output.

    Returns:
        The receptive field side, pixels: ``r = 1``, then ``r = (r - 1) * stride + kernel`` from
        the output layer back to the input.
    """
    size = 1
    for kernel, stride in reversed(layers):
        size = (size - 1) * stride + kernel
    return size


def patchgan_receptive_field(n_layers: int = 3) -> int:
    """Receptive field of a PatchGAN in pixels: 16, 34, 70, 142, 286 for 1-5 strided layers."""
    return receptive_field(patchgan_layers(n_layers))


@register_model("patchgan")
class PatchGAN(nn.Module):
    """Conditional PatchGAN: (image, depth) -> a grid of patch logits.

    Args:
        n_layers: number of stride-2 convolutions; sets the receptive field (3: 70x70 pixels).
        receptive_field: the patch side in pixels instead of ``n_layers`` (16, 34, 70, 142,
            286, ... see `patchgan_receptive_field`); None: from ``n_layers`` (default 70).
        width: channels of the first convolution; each strided layer doubles them.
        max_channels: channel cap (pix2pix: 8 x width).
        norm: ``"batch"`` (pix2pix), ``"instance"`` or ``"none"``; never on the first layer.
        depth_scale: depth in metres mapped to +1 (see the module docstring).

    Input ``image`` [B, 3, H, W] in [0, 1] and ``depth`` [B, 1, H, W] in metres; output logits
    [B, 1, h, w] (unbounded; h = H / 2^n_layers - 2 for H divisible by 2^n_layers, e.g. 14x50
    for 128x416 with 3 layers). H and W must be at least 3 * 2^n_layers pixels (24 for 3
    layers) for a non-empty grid.
    """

    def __init__(
        self,
        n_layers: int | None = None,
        receptive_field: int | None = None,
        width: int = 64,
        max_channels: int = 512,
        norm: str = "batch",
        depth_scale: float = 80.0,
    ) -> None:
        super().__init__()
        n_layers = _resolve_layers(n_layers, receptive_field)
        if norm not in NORMS:
            raise InputError(f"norm must be one of {', '.join(NORMS)}, got '{norm}'")
        if width < 1 or max_channels < 1:
            raise InputError(f"width and max_channels must be >= 1, got {width}, {max_channels}")
        if not depth_scale > 0:
            raise InputError(f"depth_scale must be a positive depth in metres, got {depth_scale}")
        self.n_layers = n_layers
        self.depth_scale = float(depth_scale)
        channels = [min(width * 2**index, max_channels) for index in range(n_layers + 1)]
        blocks: list[nn.Module] = []
        in_channels = 4  # RGB + depth
        for index, (kernel, stride) in enumerate(patchgan_layers(n_layers)[:-1]):
            out_channels = channels[index]
            normalised = index > 0 and norm != "none"
            blocks.append(
                nn.Conv2d(in_channels, out_channels, kernel, stride, padding=1, bias=not normalised)
            )
            if normalised:
                blocks.append(_norm_layer(norm, out_channels))
            blocks.append(nn.LeakyReLU(0.2, inplace=True))
            in_channels = out_channels
        blocks.append(nn.Conv2d(in_channels, 1, _KERNEL, stride=1, padding=1))
        self.layers = nn.Sequential(*blocks)
        self.apply(_init_weights)

    @property
    def receptive_field(self) -> int:
        """Side of the patch seen by each output logit, pixels (from the built convolutions)."""
        convs = [m for m in self.layers if isinstance(m, nn.Conv2d)]
        return receptive_field([(conv.kernel_size[0], conv.stride[0]) for conv in convs])

    def forward(self, image: Tensor, depth: Tensor) -> Tensor:
        check_shape(image, "B 3 H W", "PatchGAN: image")
        if depth.shape != (image.shape[0], 1, *image.shape[2:]):
            raise InputError(
                f"depth must be (B, 1, H, W) matching the image {tuple(image.shape)}, "
                f"got {tuple(depth.shape)}"
            )
        x = torch.cat([2.0 * image - 1.0, 2.0 * depth / self.depth_scale - 1.0], dim=1)
        return self.layers(x)

    def extra_repr(self) -> str:
        return f"n_layers={self.n_layers}, depth_scale={self.depth_scale}"


def _resolve_layers(n_layers: int | None, field: int | None) -> int:
    """``n_layers`` from the arguments; the receptive field wins when only it is given."""
    if field is None:
        return 3 if n_layers is None else n_layers
    options = {patchgan_receptive_field(n): n for n in range(1, 8)}
    if field not in options:
        raise InputError(
            f"a PatchGAN's receptive field is one of {', '.join(map(str, options))} pixels, "
            f"got {field}"
        )
    if n_layers is not None and n_layers != options[field]:
        raise InputError(
            f"n_layers={n_layers} gives a {patchgan_receptive_field(n_layers)}-pixel receptive "
            f"field, not {field}; pass only one of the two"
        )
    return options[field]


def _norm_layer(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    return nn.InstanceNorm2d(channels, affine=False)


def _init_weights(module: nn.Module) -> None:
    """pix2pix's initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02)."""
    if isinstance(module, nn.Conv2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
