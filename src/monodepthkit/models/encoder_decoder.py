"""Pretrained encoder + upsampling decoder with skips (report 2; DenseDepth-style)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import InputError
from monodepthkit.models.decoders import SkipDecoder
from monodepthkit.models.encoders import create_encoder
from monodepthkit.models.heads import build_head
from monodepthkit.models.registry import register_model


@register_model("encoder_decoder")
class EncoderDecoder(nn.Module):
    """Any timm backbone as encoder, a `SkipDecoder`, and an output head, predicting metric depth.

    Args:
        backbone: timm model name (e.g. ``densenet169``, ``resnet50``, ``efficientnet_b0``,
            ``legacy_xception``; ``xception`` is an alias of ``legacy_xception``, the Keras
            Xception of report 2).
        pretrained: load timm's ImageNet weights for the encoder (needs internet or the Hugging
            Face cache; offline it raises an InputError that suggests ``weights``).
        weights: path of a local state dict of the backbone (.pth/.pt/.safetensors, timm or
            torchvision layout); overrides ``pretrained``.
        decoder_width: decoder channels as a fraction of the coarsest encoder channels
            (DenseDepth: 0.5); each upsampling step halves them.
        head: output head name (see `models.heads.HEADS`).
        min_depth: smallest predictable depth in metres.
        max_depth: largest predictable depth in metres.
        upsample_output: False: no bilinear upsampling of the decoder's output to the image
            size: DenseDepth's own half-resolution prediction (report 4 trains it against
            half-resolution ground truth).

    Input ``image`` [B, 3, H, W] in [0, 1], normalised inside with the backbone's mean and std;
    any H and W >= 32. The decoder ends at the encoder's finest resolution (1/2 for most
    backbones) and the logits are upsampled bilinearly to H x W, so the output is
    ``{"depth": [B, 1, H, W]}`` in metres.
    """

    def __init__(
        self,
        backbone: str = "densenet169",
        pretrained: bool = False,
        weights: str | Path | None = None,
        decoder_width: float = 0.5,
        head: str = "log",
        min_depth: float = 0.1,
        max_depth: float = 100.0,
        upsample_output: bool = True,
    ) -> None:
        super().__init__()
        self.upsample_output = upsample_output
        if decoder_width <= 0:
            raise InputError(f"encoder_decoder: decoder_width must be > 0, got {decoder_width}")
        self.encoder = create_encoder(backbone, pretrained=pretrained, weights=weights)
        config = self.encoder.pretrained_cfg
        # Not saved in checkpoints: they follow from the backbone name.
        self.register_buffer("mean", _channel_vector(config["mean"]), persistent=False)
        self.register_buffer("std", _channel_vector(config["std"]), persistent=False)
        self.decoder = SkipDecoder(self.encoder.feature_info.channels(), width=decoder_width)
        self.head = build_head(head, min_depth, max_depth)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Predict depth: image [B, 3, H, W] in [0, 1] -> ``{"depth": [B, 1, H, W]}`` metres.

        With ``upsample_output=False`` the depth keeps the decoder's resolution (the backbone's
        first feature map, H/2 x W/2 for DenseNet and most timm backbones).
        """
        features = self.encoder((image - self.mean) / self.std)
        logits = self.decoder(features)
        if self.upsample_output:
            logits = F.interpolate(
                logits, size=image.shape[-2:], mode="bilinear", align_corners=False
            )
        return {"depth": self.head(logits)}


def _channel_vector(values) -> Tensor:
    return torch.tensor([float(v) for v in values]).view(1, -1, 1, 1)
