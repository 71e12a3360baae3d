"""Depth decoders that turn an encoder's multi-scale features into a one-channel map."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import InputError


class SkipUpBlock(nn.Module):
    """DenseDepth's up-projection: bilinear upsampling to the skip's size (x2 for even sizes),
    concatenation of the skip, then two 3x3 convolutions with LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels + skip_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(0.2),
        )

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.convs(torch.cat([x, skip], dim=1))


class SkipDecoder(nn.Module):
    """Upsampling decoder with skip connections (Alhashim & Wonka 2018, "DenseDepth").

    The coarsest feature map goes through a 1x1 convolution to ``width * channels[-1]`` channels;
    each finer feature map is then merged by a `SkipUpBlock` that halves the channels; a final 3x3
    convolution gives one channel at the finest feature resolution.

    Args:
        encoder_channels: channels of the encoder's feature maps, fine to coarse.
        width: decoder channels after the 1x1 convolution, as a fraction of the coarsest
            feature's channels (DenseDepth: 0.5).
    """

    def __init__(self, encoder_channels: Sequence[int], width: float = 0.5) -> None:
        super().__init__()
        if width <= 0:
            raise InputError(f"decoder width must be > 0, got {width}")
        *skip_channels, deepest = encoder_channels
        channels = max(1, round(deepest * width))
        self.bottleneck = nn.Conv2d(deepest, channels, kernel_size=1)
        blocks = []
        for skip in reversed(skip_channels):
            blocks.append(SkipUpBlock(channels, skip, max(1, channels // 2)))
            channels = max(1, channels // 2)
        self.blocks = nn.ModuleList(blocks)
        self.output = nn.Conv2d(channels, 1, kernel_size=3, padding=1)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        """Features fine to coarse [B, C_i, H_i, W_i] -> logits [B, 1, H_0, W_0]."""
        *skips, x = features
        x = self.bottleneck(x)
        for block, skip in zip(self.blocks, reversed(skips), strict=True):
            x = block(x, skip)
        return self.output(x)
