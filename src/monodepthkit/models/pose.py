"""Pose networks of Monodepth2: relative camera motion between two frames.

Every network maps a pair of images, given in temporal order, to an axis-angle rotation and a
translation, both [B, 3] and already multiplied by 0.01 (Monodepth2 keeps the initial motions
small this way). Three kinds:

- ``separate`` (Monodepth2's default): a ResNet of its own on the two frames stacked as 6
  channels, then a `PoseDecoder`. Its ImageNet initialisation repeats the RGB kernels of conv1 for
  both frames and halves them, so that two equal frames give the features of one image.
- ``shared``: a `PoseDecoder` on the depth encoder's coarsest features of both frames
  (``needs_depth_features``: the caller passes the depth network's `encode` output).
- ``posecnn``: the small 7-convolution network of Zhou et al., on the raw stacked frames. Its
  translation is not in the depth's units: Monodepth2 multiplies it by the mean inverse depth of
  the target before warping (``translation_times_mean_inverse_depth``; the task does it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from monodepthkit.errors import InputError
from monodepthkit.models.monodepth2 import IMAGE_MEAN, IMAGE_STD, create_resnet_encoder

POSE_KINDS = ("separate", "shared", "posecnn")
# Factor on the raw network output (Monodepth2).
POSE_SCALE = 0.01


def create_pose_network(
    kind: str = "separate",
    num_layers: int = 18,
    pretrained: bool = False,
    weights: str | Path | None = None,
    depth_encoder_channels: Sequence[int] | None = None,
) -> nn.Module:
    """Build a pose network.

    Args:
        kind: ``separate``, ``shared`` or ``posecnn`` (see the module doc).
        num_layers: ResNet depth of the ``separate`` encoder (18 or 50; also 34, 101, 152).
        pretrained: ImageNet (torchvision) weights for the ``separate`` encoder, via timm.
        weights: local state dict of a 3-channel ResNet for the ``separate`` encoder (conv1 is
            turned into 6 channels as with ``pretrained``); overrides ``pretrained``.
        depth_encoder_channels: channels of the depth encoder's feature maps (``shared`` only;
            the last one is used), e.g. ``depth_net.encoder_channels``.

    Returns:
        A module with ``needs_depth_features``, ``translation_times_mean_inverse_depth`` (True
        for ``posecnn``: see `PoseCNN`) and ``forward(image_a, image_b, features_a=None,
        features_b=None) -> (axis_angle [B, 3], translation [B, 3])``.

    Raises:
        InputError: unknown kind, missing ``depth_encoder_channels`` for ``shared``, weights given
            to a network without an encoder, or a bad weights file.
    """
    if kind == "separate":
        return SeparatePoseNet(num_layers, pretrained=pretrained, weights=weights)
    if kind not in POSE_KINDS:
        raise InputError(f"unknown pose network '{kind}'; choose one of {', '.join(POSE_KINDS)}")
    if pretrained or weights is not None:
        raise InputError(
            f"pose network '{kind}' has no encoder of its own: pretrained/weights apply only to "
            f"'separate'"
        )
    if kind == "posecnn":
        return PoseCNN()
    if not depth_encoder_channels:
        raise InputError(
            "pose network 'shared' needs depth_encoder_channels (the depth encoder's feature "
            "channels, e.g. depth_net.encoder_channels)"
        )
    return SharedPoseNet(depth_encoder_channels[-1])


class PoseDecoder(nn.Module):
    """Monodepth2's pose decoder: shared 1x1 squeeze per input, three convolutions, spatial mean.

    Args:
        in_channels: channels of each input feature map.
        num_inputs: number of feature maps concatenated after the squeeze (1 for ``separate``,
            2 for ``shared``).
        hidden_channels: channels after the squeeze and in the hidden convolutions (256).
    """

    def __init__(self, in_channels: int, num_inputs: int = 1, hidden_channels: int = 256) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, hidden_channels, kernel_size=1)
        self.conv1 = nn.Conv2d(num_inputs * hidden_channels, hidden_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_channels, hidden_channels, 3, padding=1)
        self.conv3 = nn.Conv2d(hidden_channels, 6, kernel_size=1)

    def forward(self, features: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """Feature maps [B, in_channels, h, w] -> (axis_angle [B, 3], translation [B, 3])."""
        x = torch.cat([torch.relu(self.squeeze(f)) for f in features], dim=1)
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return _split_motion(self.conv3(x))


class SeparatePoseNet(nn.Module):
    """ResNet encoder on two stacked frames (6 channels) + `PoseDecoder` (Monodepth2 default).

    Args:
        num_layers: ResNet depth.
        pretrained: ImageNet weights through timm (conv1 repeated for both frames and halved).
        weights: local state dict of a 3-channel ResNet, adapted the same way.
    """

    needs_depth_features = False
    translation_times_mean_inverse_depth = False

    def __init__(
        self, num_layers: int = 18, pretrained: bool = False, weights: str | Path | None = None
    ) -> None:
        super().__init__()
        self.encoder = create_resnet_encoder(num_layers, pretrained, weights, in_chans=6)
        self.decoder = PoseDecoder(self.encoder.feature_info.channels()[-1], num_inputs=1)

    def forward(
        self,
        image_a: Tensor,
        image_b: Tensor,
        features_a: Sequence[Tensor] | None = None,
        features_b: Sequence[Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Motion between two frames [B, 3, H, W] in [0, 1], earlier frame first.

        Returns:
            (axis_angle [B, 3] radians, translation [B, 3]), both scaled by 0.01.
        """
        pair = (torch.cat([image_a, image_b], dim=1) - IMAGE_MEAN) / IMAGE_STD
        return self.decoder([self.encoder(pair)[-1]])


class SharedPoseNet(nn.Module):
    """`PoseDecoder` on the coarsest depth-encoder features of both frames.

    Args:
        in_channels: channels of the depth encoder's last feature map (ResNet-18: 512).
    """

    needs_depth_features = True
    translation_times_mean_inverse_depth = False

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.decoder = PoseDecoder(in_channels, num_inputs=2)

    def forward(
        self,
        image_a: Tensor,
        image_b: Tensor,
        features_a: Sequence[Tensor] | None = None,
        features_b: Sequence[Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Motion between two frames from their depth-encoder features (lists, coarsest last).

        Returns:
            (axis_angle [B, 3] radians, translation [B, 3]), both scaled by 0.01.
        """
        if features_a is None or features_b is None:
            raise InputError(
                "pose network 'shared' needs features_a and features_b (depth_net.encode of "
                "both frames)"
            )
        return self.decoder([features_a[-1], features_b[-1]])


class PoseCNN(nn.Module):
    """Seven stride-2 convolutions with ReLU, a 1x1 convolution to 6 values, spatial mean.

    Takes the two frames stacked as 6 channels in [0, 1], unnormalised (as Monodepth2's PoseCNN).

    ``translation_times_mean_inverse_depth``: the translation it returns is relative to the
    scene's depth; the transform used for warping takes ``translation * mean(1 / depth)`` over
    the target's pixels, per scale (Monodepth2's ``generate_images_pred``, after Wang et al.
    2018, arXiv:1712.00175). Without it the depth network must shrink the depth to match the
    tiny initial translations, and from random weights at ``min_depth`` 0.1 every disparity
    saturates at 1 within a few dozen steps.
    """

    needs_depth_features = False
    translation_times_mean_inverse_depth = True

    # (out_channels, kernel size) of the seven stride-2 convolutions.
    LAYERS = ((16, 7), (32, 5), (64, 3), (128, 3), (256, 3), (256, 3), (256, 3))

    def __init__(self) -> None:
        super().__init__()
        convs = []
        in_channels = 6
        for out_channels, kernel in self.LAYERS:
            convs.append(
                nn.Conv2d(in_channels, out_channels, kernel, stride=2, padding=kernel // 2)
            )
            in_channels = out_channels
        self.convs = nn.ModuleList(convs)
        self.head = nn.Conv2d(in_channels, 6, kernel_size=1)

    def forward(
        self,
        image_a: Tensor,
        image_b: Tensor,
        features_a: Sequence[Tensor] | None = None,
        features_b: Sequence[Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Motion between two frames [B, 3, H, W] in [0, 1], earlier frame first.

        Returns:
            (axis_angle [B, 3] radians, translation [B, 3]), both scaled by 0.01.
        """
        x = torch.cat([image_a, image_b], dim=1)
        for conv in self.convs:
            x = torch.relu(conv(x))
        return _split_motion(self.head(x))


def _split_motion(raw: Tensor) -> tuple[Tensor, Tensor]:
    # raw [B, 6, h, w]: the spatial mean gives one motion per pair; axis-angle first.
    motion = POSE_SCALE * raw.mean(dim=(2, 3))
    return motion[:, :3], motion[:, 3:]
