"""Convolutional autoencoder of report 2 (Fig. 2): no skip connections.

The figure names the layer types (convolution, batch normalisation, max pooling, upsampling) and
their order; the extracted report gives no layer counts or channel numbers, so ``width`` and
``depth`` set them (defaults: 4 levels of 32, 64, 128, 256 channels).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import InputError
from monodepthkit.models.heads import build_head
from monodepthkit.models.registry import register_model

# Input normalisation shared with the U-Net: images in [0, 1] become roughly zero-mean.
_MEAN, _STD = 0.45, 0.225


class ConvReluBatchNorm(nn.Sequential):
    """3x3 convolution with ReLU, then batch norm: the figure's "Convolutional, BatchNormalization"
    pair (Keras ``Conv2D(activation="relu")`` followed by ``BatchNormalization``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(out_channels),
        )


@register_model("conv_autoencoder")
class ConvAutoencoder(nn.Module):
    """Encoder (conv + BN + max-pool per level) and decoder (conv + BN + x2 upsampling per level)
    without skip connections, predicting metric depth.

    Args:
        width: channels of the first level; each level doubles them up to ``max_channels``.
        depth: number of max-pool (and upsampling) steps; the code is at 1/2^depth resolution.
        upsample: ``"nearest"`` (Keras ``UpSampling2D``'s default) or ``"bilinear"``.
        head: output head name (see `models.heads.HEADS`).
        min_depth: smallest predictable depth in metres.
        max_depth: largest predictable depth in metres.
        max_channels: channel cap of the deepest levels.

    Input ``image`` [B, 3, H, W] in [0, 1], any H and W >= 2^depth; output
    ``{"depth": [B, 1, H, W]}`` in metres. Each upsampling step goes back to the size its level had
    before pooling, so odd sizes come back exactly.
    """

    def __init__(
        self,
        width: int = 32,
        depth: int = 4,
        upsample: str = "nearest",
        head: str = "log",
        min_depth: float = 0.1,
        max_depth: float = 100.0,
        max_channels: int = 512,
    ) -> None:
        super().__init__()
        if upsample not in ("nearest", "bilinear"):
            raise InputError(
                f"conv_autoencoder: upsample must be 'nearest' or 'bilinear', got '{upsample}'"
            )
        if depth < 1 or width < 1:
            raise InputError(
                f"conv_autoencoder: width and depth must be >= 1, got width={width}, depth={depth}"
            )
        self.upsample = upsample
        channels = [min(width * 2**level, max_channels) for level in range(depth)]
        self.encoder = nn.ModuleList(
            ConvReluBatchNorm(in_ch, out_ch)
            for in_ch, out_ch in zip([3, *channels[:-1]], channels, strict=True)
        )
        # The decoder mirrors the encoder: level l maps to channels[l] and upsamples to level l's
        # input size.
        decoder_in = [channels[-1], *reversed(channels[1:])]
        self.decoder = nn.ModuleList(
            ConvReluBatchNorm(in_ch, out_ch)
            for in_ch, out_ch in zip(decoder_in, reversed(channels), strict=True)
        )
        self.output = nn.Conv2d(channels[0], 1, kernel_size=3, padding=1)
        self.head = build_head(head, min_depth, max_depth)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Predict depth: image [B, 3, H, W] in [0, 1] -> ``{"depth": [B, 1, H, W]}`` metres."""
        x = (image - _MEAN) / _STD
        sizes = []
        for block in self.encoder:
            sizes.append(x.shape[-2:])
            x = F.max_pool2d(block(x), kernel_size=2)
        for block in self.decoder:
            x = F.interpolate(block(x), size=sizes.pop(), mode=self.upsample)
        return {"depth": self.head(self.output(x))}
