"""U-Net (Ronneberger et al. 2015) for dense depth regression."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import InputError
from monodepthkit.models.heads import build_head
from monodepthkit.models.registry import register_model

# Input normalisation shared with Monodepth2: images in [0, 1] become roughly zero-mean.
_MEAN, _STD = 0.45, 0.225


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by batch norm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class UpBlock(nn.Module):
    """x2 upsampling, concatenation of the skip, `ConvBlock`.

    ``"transpose"`` is Ronneberger's up-convolution: a 2x2 transposed convolution with stride 2
    that maps ``in_channels`` to ``out_channels`` (half of them in the classic layout), so the
    concatenation has ``out_channels + skip_channels``. ``"bilinear"`` interpolates and keeps
    ``in_channels``.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        if mode == "transpose":
            self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
            in_channels = out_channels
        self.conv = ConvBlock(in_channels + skip_channels, out_channels)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        if self.mode == "transpose":
            x = self.up(x)
            if x.shape[-2:] != skip.shape[-2:]:
                x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
        else:
            # Upsampling to the skip's size (not a fixed x2) handles odd input sizes.
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


@register_model("unet")
class UNet(nn.Module):
    """U-Net with a configurable width and depth, predicting metric depth.

    ``width=64, depth=4, upsample="transpose", max_channels=1024`` is Ronneberger et al.'s
    layout: 64-128-256-512 channels down, a 1024-channel bottleneck, 2x2 up-convolutions that
    halve the channels, each followed by two 3x3 convolutions on the concatenated skip. It differs
    from the 2015 paper in two ways: padded convolutions (the output has the input's size, no
    cropping of the skips) and batch norm after each convolution.

    Args:
        width: channels of the first level; each level doubles them up to ``max_channels``.
        depth: number of down-sampling steps (the bottleneck is at 1/2^depth resolution).
        upsample: ``"bilinear"`` (interpolation) or ``"transpose"`` (learned transposed conv).
        head: output head name (see `models.heads.HEADS`).
        min_depth: smallest predictable depth in metres.
        max_depth: largest predictable depth in metres.
        max_channels: channel cap of the deepest levels.

    Input ``image`` [B, 3, H, W] in [0, 1], any H and W >= 2^depth; output
    ``{"depth": [B, 1, H, W]}`` in metres.
    """

    def __init__(
        self,
        width: int = 32,
        depth: int = 4,
        upsample: str = "bilinear",
        head: str = "log",
        min_depth: float = 0.1,
        max_depth: float = 100.0,
        max_channels: int = 512,
    ) -> None:
        super().__init__()
        if upsample not in ("bilinear", "transpose"):
            raise InputError(f"upsample must be 'bilinear' or 'transpose', got '{upsample}'")
        if depth < 1 or width < 1:
            raise InputError(f"width and depth must be >= 1, got width={width}, depth={depth}")
        channels = [min(width * 2**level, max_channels) for level in range(depth + 1)]
        self.encoder = nn.ModuleList(
            [ConvBlock(3, channels[0])]
            + [ConvBlock(channels[i], channels[i + 1]) for i in range(depth)]
        )
        self.decoder = nn.ModuleList(
            [
                UpBlock(channels[i + 1], channels[i], channels[i], upsample)
                for i in reversed(range(depth))
            ]
        )
        self.output = nn.Conv2d(channels[0], 1, kernel_size=1)
        self.head = build_head(head, min_depth, max_depth)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        x = (image - _MEAN) / _STD
        skips = []
        for level, block in enumerate(self.encoder):
            if level > 0:
                x = F.max_pool2d(x, kernel_size=2)
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for block in self.decoder:
            x = block(x, skips.pop())
        return {"depth": self.head(self.output(x))}
