"""Monodepth2's depth network (Godard et al. 2019): ResNet encoder + multi-scale disparity decoder.

The encoder is a timm ResNet (``features_only``; five feature maps at strides 2 to 32). The decoder
climbs back from stride 32 to full resolution in five levels; each level is a 3x3 convolution,
x2 nearest upsampling, concatenation of the encoder's skip at that resolution and a second 3x3
convolution (reflection padding, ELU). Levels 0-3 (full, 1/2, 1/4 and 1/8 resolution) end in a
3x3 convolution and a sigmoid: the disparity in [0, 1], turned into depth by `disp_to_depth`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import InputError, check_shape
from monodepthkit.geometry.disparity import disp_to_depth
from monodepthkit.models.encoders import create_encoder
from monodepthkit.models.outputs import depth_key, disparity_key, key_scale
from monodepthkit.models.registry import register_model

# ResNet depths of torchvision/timm; ImageNet weights are torchvision's, as in Monodepth2.
RESNET_LAYERS = (18, 34, 50, 101, 152)
DECODER_CHANNELS = (16, 32, 64, 128, 256)
# Monodepth2 normalises every image with these scalars, whatever the encoder's ImageNet statistics.
IMAGE_MEAN = 0.45
IMAGE_STD = 0.225
# The encoder's coarsest stride; input sizes must be multiples of it for the skips to line up.
SIZE_MULTIPLE = 32


@register_model("monodepth2")
class Monodepth2(nn.Module):
    """Monodepth2 depth network predicting a sigmoid disparity and depth at up to four scales.

    Args:
        num_layers: ResNet depth of the encoder: 18 or 50 (Monodepth2's choices), or 34, 101, 152.
        pretrained: load torchvision's ImageNet weights through timm (``resnet18.tv_in1k``;
            needs internet or the Hugging Face cache, otherwise an InputError suggests ``weights``).
        weights: path of a local state dict of the ResNet (torchvision or timm layout); overrides
            ``pretrained``.
        min_depth: depth at disparity 1 (Monodepth2: 0.1).
        max_depth: depth at disparity 0 (Monodepth2: 100).
        scales: number of output scales in training mode, 1 to 4 (Monodepth2: 4).

    A `monodepthkit.models.outputs.FeatureSharingDepthNet`. Input ``image`` [B, 3, H, W] in
    [0, 1]. In training mode the output holds, for each scale
    ``s < scales``, ``"disp_s"`` (sigmoid disparity) and ``"depth_s"`` (depth in units of
    ``min_depth``) of size [B, 1, ceil(H / 2^s), ceil(W / 2^s)], the keys of scale 0 being plain
    ``"disp"`` and ``"depth"``. In eval mode only ``"disp"`` and ``"depth"`` at scale 0 are
    computed. Sizes that are not multiples of 32 are padded (edge replication) at the bottom and
    right, and the outputs cropped back; `encode` itself needs multiples of 32.
    """

    def __init__(
        self,
        num_layers: int = 18,
        pretrained: bool = False,
        weights: str | Path | None = None,
        min_depth: float = 0.1,
        max_depth: float = 100.0,
        scales: int = 4,
    ) -> None:
        super().__init__()
        if not 0 < min_depth < max_depth:
            raise InputError(
                f"monodepth2: need 0 < min_depth < max_depth, got min_depth={min_depth}, "
                f"max_depth={max_depth}"
            )
        if scales not in (1, 2, 3, 4):
            raise InputError(f"monodepth2: scales must be 1, 2, 3 or 4, got {scales}")
        self.num_layers = num_layers
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.num_scales = scales
        self.encoder = create_resnet_encoder(num_layers, pretrained=pretrained, weights=weights)
        self.decoder = DisparityDecoder(self.encoder_channels, num_scales=scales)

    @property
    def encoder_channels(self) -> list[int]:
        """Channels of the five encoder feature maps, fine to coarse (ResNet-18: 64 ... 512)."""
        return list(self.encoder.feature_info.channels())

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Predict disparity and depth: image [B, 3, H, W] in [0, 1] -> dict (see class doc)."""
        check_shape(image, "B 3 H W", "monodepth2: image")
        height, width = image.shape[-2:]
        pad_bottom = -height % SIZE_MULTIPLE
        pad_right = -width % SIZE_MULTIPLE
        if pad_bottom or pad_right:
            image = F.pad(image, (0, pad_right, 0, pad_bottom), mode="replicate")
        outputs = self.decode(self.encode(image))
        if pad_bottom or pad_right:
            outputs = {key: _crop(value, key, height, width) for key, value in outputs.items()}
        return outputs

    def encode(self, image: Tensor) -> list[Tensor]:
        """Encoder features of an image whose sides are multiples of 32.

        Args:
            image: [B, 3, H, W] in [0, 1].

        Returns:
            Five feature maps [B, C_i, H / 2^(i+1), W / 2^(i+1)], i = 0..4, with C_i =
            `encoder_channels` (after the stem's ReLU and after each of the four ResNet stages).
        """
        height, width = image.shape[-2:]
        if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
            raise InputError(
                f"monodepth2: encode needs height and width divisible by {SIZE_MULTIPLE}, got "
                f"{height}x{width}; call the model itself (it pads) or resize, e.g. to 192x640"
            )
        return self.encoder((image - IMAGE_MEAN) / IMAGE_STD)

    def decode(self, features: Sequence[Tensor]) -> dict[str, Tensor]:
        """Disparities and depths from `encode`'s features (all scales in training, else scale 0).

        Returns:
            ``{"disp": [B, 1, H, W], "depth": [B, 1, H, W]}`` plus ``"disp_s"`` / ``"depth_s"``
            [B, 1, H / 2^s, W / 2^s] for s = 1 .. scales - 1 in training mode.
        """
        disparities = self.decoder(features, all_scales=self.training)
        outputs: dict[str, Tensor] = {}
        for scale, disp in enumerate(disparities):
            _, depth = disp_to_depth(disp, self.min_depth, self.max_depth)
            outputs[disparity_key(scale)] = disp
            outputs[depth_key(scale)] = depth
        return outputs


class DisparityDecoder(nn.Module):
    """Monodepth2's decoder: five upsampling levels with skips, a sigmoid disparity per scale.

    Args:
        encoder_channels: channels of the five encoder feature maps, fine to coarse.
        num_scales: number of disparity outputs (scales 0 .. num_scales - 1).
        decoder_channels: channels of decoder levels 0 (full resolution) to 4.
    """

    def __init__(
        self,
        encoder_channels: Sequence[int],
        num_scales: int = 4,
        decoder_channels: Sequence[int] = DECODER_CHANNELS,
    ) -> None:
        super().__init__()
        levels = len(decoder_channels)
        if len(encoder_channels) != levels:
            raise InputError(
                f"need {levels} encoder feature maps, got channels {list(encoder_channels)}"
            )
        if not 1 <= num_scales <= levels - 1:
            raise InputError(f"num_scales must be in 1..{levels - 1}, got {num_scales}")
        # Index i of each list is decoder level i (level 0 = full resolution).
        self.up_convs = nn.ModuleList()
        self.merge_convs = nn.ModuleList()
        for level in range(levels):
            in_channels = (
                encoder_channels[-1] if level == levels - 1 else decoder_channels[level + 1]
            )
            skip_channels = encoder_channels[level - 1] if level > 0 else 0
            self.up_convs.append(ConvELU(in_channels, decoder_channels[level]))
            self.merge_convs.append(
                ConvELU(decoder_channels[level] + skip_channels, decoder_channels[level])
            )
        self.disp_convs = nn.ModuleList(
            ReflectConv3x3(decoder_channels[scale], 1) for scale in range(num_scales)
        )

    def forward(self, features: Sequence[Tensor], all_scales: bool = True) -> list[Tensor]:
        """Features fine to coarse (five maps) -> sigmoid disparities, finest first.

        Args:
            features: [B, C_i, H / 2^(i+1), W / 2^(i+1)], i = 0..4.
            all_scales: compute every scale's disparity; False gives only scale 0.

        Returns:
            List of [B, 1, H / 2^s, W / 2^s] disparities in [0, 1], s = 0 .. (num_scales - 1 or 0).
        """
        levels = len(self.up_convs)
        disparities: dict[int, Tensor] = {}
        x = features[-1]
        for level in range(levels - 1, -1, -1):
            x = F.interpolate(self.up_convs[level](x), scale_factor=2.0, mode="nearest")
            if level > 0:
                x = torch.cat([x, features[level - 1]], dim=1)
            x = self.merge_convs[level](x)
            if level < len(self.disp_convs) and (all_scales or level == 0):
                disparities[level] = torch.sigmoid(self.disp_convs[level](x))
        return [disparities[scale] for scale in sorted(disparities)]


class ReflectConv3x3(nn.Module):
    """3x3 convolution after one pixel of reflection padding (size preserving)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (1, 1, 1, 1), mode="reflect"))


class ConvELU(ReflectConv3x3):
    """`ReflectConv3x3` followed by an ELU."""

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(super().forward(x))


def create_resnet_encoder(
    num_layers: int,
    pretrained: bool = False,
    weights: str | Path | None = None,
    in_chans: int = 3,
) -> nn.Module:
    """`create_encoder` for the torchvision ResNet of Monodepth2's encoders, initialised as theirs.

    Args:
        num_layers: ResNet depth (`RESNET_LAYERS`).
        pretrained: torchvision's ImageNet weights through timm (``resnetN.tv_in1k``).
        weights: local state dict of a 3-channel ResNet (torchvision or timm keys); overrides
            ``pretrained``.
        in_chans: input channels; for more than 3 (stacked frames), timm repeats the pretrained
            RGB kernels of conv1 and scales them by 3 / in_chans (Monodepth2's pose encoder:
            two copies, halved).

    Returns:
        timm ``features_only`` module: [B, in_chans, H, W] -> five maps at strides 2 to 32.

    Raises:
        InputError: bad ``num_layers``, weights file or failed download (offline).
    """
    # torchvision's initialisation: timm would zero the last batch norm of each residual block,
    # which leaves a randomly initialised encoder without gradients in its blocks at step 0.
    return create_encoder(
        resnet_backbone_name(num_layers),
        pretrained=pretrained,
        weights=weights,
        in_chans=in_chans,
        zero_init_last=False,
    )


def resnet_backbone_name(num_layers: int) -> str:
    """timm name of the torchvision-weights ResNet with ``num_layers`` layers (Monodepth2's)."""
    if num_layers not in RESNET_LAYERS:
        raise InputError(
            f"monodepth2: num_layers must be one of {', '.join(map(str, RESNET_LAYERS))}, "
            f"got {num_layers}"
        )
    return f"resnet{num_layers}.tv_in1k"


def _crop(value: Tensor, key: str, height: int, width: int) -> Tensor:
    factor = 2 ** key_scale(key)
    return value[..., : -(-height // factor), : -(-width // factor)]
