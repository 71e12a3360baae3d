"""PackNet01 (Guizilini et al., CVPR 2020): a depth network that packs instead of striding.

The encoder never pools or strides. Each of its five downsampling steps *packs*: a lossless
space-to-depth fold (every 2x2 block of pixels becomes 4x the channels), a 3D convolution that
treats the folded channels as a depth axis, and a 2D convolution back to the stage's width.
The decoder mirrors it with *unpacking*: a 2D convolution, a 3D convolution, then depth-to-space.
Residual blocks (GroupNorm, ELU, dropout on the shortcut) sit between the packing steps, and an
inverse-depth sigmoid head predicts at four scales, each coarser prediction being upsampled and
fed to the next finer decoder stage.

Report 4's variants are options of the same network:

| option | values | meaning |
|---|---|---|
| ``version`` | ``A`` (paper) | encoder skips concatenated to the unpacked features |
| | ``B`` | skips added (the decoder is half as wide) |
| | ``C`` | no skips: version B's layout with the skips removed (a plain network) |
| ``activation`` | ``sigmoid`` (paper) / ``leaky_relu`` | output activation of the heads |
| ``inverse_depth`` | True (paper) / False | the heads predict inverse depth or depth |
| ``output_scale`` | 0 (paper) .. 3 | the decoder stops at this scale; its prediction is upsampled |
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import InputError
from monodepthkit.models.outputs import DEPTH, DISPARITY, depth_key, disparity_key
from monodepthkit.models.registry import register_model

VERSIONS = ("A", "B", "C")
ACTIVATIONS = ("sigmoid", "leaky_relu")
# The packing steps (5) make the network's input size a multiple of 2^5.
SIZE_MULTIPLE = 32
# Channels of GroupNorm groups, as in the paper's code: 16 groups per normalisation.
NORM_GROUPS = 16


class ConvBlock(nn.Module):
    """Zero-padded ``k x k`` convolution, GroupNorm (16 groups), ELU.

    [B, C, H, W] -> [B, C', H, W].
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.norm = nn.GroupNorm(NORM_GROUPS, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(self.norm(self.conv(x)))


class ResidualUnit(nn.Module):
    """Two 3x3 `ConvBlock` s plus a 1x1 shortcut, summed, normalised and activated.

    Dropout (spatial, whole channels) acts on the shortcut branch, as in the paper's code.
    """

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv_a = ConvBlock(in_channels, out_channels, 3)
        self.conv_b = ConvBlock(out_channels, out_channels, 3)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.norm = nn.GroupNorm(NORM_GROUPS, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        residual = self.conv_b(self.conv_a(x))
        return F.elu(self.norm(residual + self.dropout(self.shortcut(x))))


def residual_stage(
    in_channels: int, out_channels: int, num_units: int, dropout: float = 0.0
) -> nn.Sequential:
    """``num_units`` `ResidualUnit` s, the first changing ``in_channels`` to ``out_channels``."""
    units = [ResidualUnit(in_channels, out_channels, dropout)]
    units += [ResidualUnit(out_channels, out_channels, dropout) for _ in range(num_units - 1)]
    return nn.Sequential(*units)


class Packing(nn.Module):
    """Packing: [B, C, H, W] -> [B, C, H/2, W/2] without discarding any pixel.

    Space-to-depth folds each 2x2 block into channels ([B, 4C, H/2, W/2]); a 3x3x3 convolution
    over (folded channels, H, W) expands them into ``features_3d`` feature volumes; a 2D
    `ConvBlock` maps the ``4 C features_3d`` stacked channels back to C.

    Args:
        channels: C, input and output channels.
        kernel_size: kernel of the final 2D convolution.
        features_3d: number of 3D convolution filters (the paper's D = 8).
    """

    def __init__(self, channels: int, kernel_size: int, features_3d: int = 8) -> None:
        super().__init__()
        self.conv3d = nn.Conv3d(1, features_3d, kernel_size=3, padding=1)
        self.conv = ConvBlock(4 * channels * features_3d, channels, kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        folded = F.pixel_unshuffle(x, 2)  # [B, 4C, H/2, W/2]
        volume = self.conv3d(folded.unsqueeze(1))  # [B, D, 4C, H/2, W/2]
        return self.conv(volume.flatten(1, 2))


class Unpacking(nn.Module):
    """Unpacking: [B, C_in, H, W] -> [B, C_out, 2H, 2W], the decoder's mirror of `Packing`.

    A 2D `ConvBlock` makes ``4 C_out / D`` channels, a 3x3x3 convolution expands them into
    ``D = features_3d`` volumes (``4 C_out`` channels in all), and depth-to-space unfolds every
    4 channels into a 2x2 block of pixels.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, features_3d: int = 8
    ) -> None:
        super().__init__()
        if (4 * out_channels) % (features_3d * NORM_GROUPS):
            raise InputError(
                f"packnet: unpacking to {out_channels} channels needs 4 * channels divisible by "
                f"features_3d * {NORM_GROUPS} = {features_3d * NORM_GROUPS} (GroupNorm groups); "
                "use wider channels or fewer features_3d"
            )
        self.conv = ConvBlock(in_channels, 4 * out_channels // features_3d, kernel_size)
        self.conv3d = nn.Conv3d(1, features_3d, kernel_size=3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        volume = self.conv3d(self.conv(x).unsqueeze(1))  # [B, D, 4 C_out / D, H, W]
        return F.pixel_shuffle(volume.flatten(1, 2), 2)


class PackNetOutput(nn.Module):
    """The heads' output activation: logits [B, 1, h, w] -> (head value, disparity, depth).

    With ``a`` the activation (sigmoid, or leaky ReLU with slope 0.01):

    - inverse depth (paper): disparity ``a(x) / min_depth`` in 1/metres, fed to the decoder;
      depth ``1 / max(disparity, 1 / max_depth)``. With the sigmoid, depth lies in
      (min_depth, max_depth].
    - direct depth: depth ``max(max_depth * a(x), min_depth)`` metres, fed to the decoder;
      disparity ``1 / depth``. With the sigmoid, depth lies in [min_depth, max_depth).

    The clamps keep depth finite and positive whatever the activation (no gradient flows
    through a clamped pixel). Has no parameters.

    Attributes:
        min_depth: smallest depth in metres (the leaky ReLU inverse-depth head can go below it).
        max_depth: largest depth in metres.
    """

    def __init__(
        self, min_depth: float, max_depth: float, activation: str, inverse_depth: bool
    ) -> None:
        super().__init__()
        self.min_depth, self.max_depth = float(min_depth), float(max_depth)
        self.activation, self.inverse_depth = activation, inverse_depth

    def forward(self, logits: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if self.activation == "sigmoid":
            activated = torch.sigmoid(logits)
        else:
            activated = F.leaky_relu(logits, 0.01)
        if self.inverse_depth:
            disp = activated / self.min_depth
            return disp, disp, 1.0 / disp.clamp_min(1.0 / self.max_depth)
        depth = (self.max_depth * activated).clamp_min(self.min_depth)
        return depth, 1.0 / depth, depth

    def extra_repr(self) -> str:
        return (
            f"activation={self.activation}, inverse_depth={self.inverse_depth}, "
            f"min_depth={self.min_depth}, max_depth={self.max_depth}"
        )


@register_model("packnet")
class PackNet(nn.Module):
    """PackNet01 of the paper, with report 4's variants.

    Args:
        version: ``A`` skips concatenated (paper), ``B`` added, ``C`` removed (see module doc).
        dropout: dropout probability of the residual shortcuts (paper code default 0).
        activation: ``sigmoid`` (paper) or ``leaky_relu`` output activation.
        inverse_depth: True: the heads predict inverse depth (paper); False: depth.
        min_depth: metres; the paper's inverse-depth head is ``sigmoid / min_depth`` (0.5).
        max_depth: metres; depth is capped here (see `PackNetOutput`).
        output_scale: finest decoder scale built, 0 (full resolution, paper) to 3; report 4
            uses 1 (its ground truth has half the image resolution): the stages finer than it are
            not built and its prediction is upsampled bilinearly to the image size.
        upsample_output: False: that upsampling is not done either, so ``depth``/``disp`` have
            the ``output_scale`` resolution [B, 1, ceil(H/2^s), ceil(W/2^s)] (report 4: "we do
            not upsample, but rather use the unpacking operations and stop when the right output
            resolution is found"); `SupervisedTask` then compares it with ground truth resized
            to that resolution, and the Predictor resizes it to the image.
        features_3d: filters of the 3D convolutions (paper: 8).
        channels: widths of the stem and of the five encoder stages, multiples of 16 (GroupNorm
            groups). PackNet01 (paper): ``(64, 64, 64, 128, 256, 512)``; the code's
            PackNetSlim01: ``(32, 32, 64, 128, 256, 512)`` with ``features_3d=4``.
        pad: when H or W is not a multiple of 32, replicate-pad the image on the bottom/right to
            the next multiple and crop the outputs back; False raises InputError instead.

    Attributes:
        min_depth, max_depth: the depth range (metres) of the output.
        num_scales: 4.

    Input: image [B, 3, H, W] in [0, 1] (no normalisation, as the paper's code).
    Output (a `monodepthkit.models.outputs.MultiScaleDepthNet`; no ``encode``/``decode``, so
    no ``shared`` pose network): in training mode ``disp``/``depth`` at scale 0 and
    ``disp_s``/``depth_s`` for s = 1..3, each [B, 1, ceil(H/2^s), ceil(W/2^s)]; in eval mode only
    ``disp`` and ``depth`` [B, 1, H, W]. ``disp`` is inverse depth (1/metres), ``depth`` metres.
    Scales finer than ``output_scale`` hold that scale's prediction upsampled.
    """

    num_scales = 4

    def __init__(
        self,
        version: str = "A",
        dropout: float = 0.0,
        activation: str = "sigmoid",
        inverse_depth: bool = True,
        min_depth: float = 0.5,
        max_depth: float = 100.0,
        output_scale: int = 0,
        upsample_output: bool = True,
        features_3d: int = 8,
        channels: tuple[int, ...] | list[int] = (64, 64, 64, 128, 256, 512),
        pad: bool = True,
    ) -> None:
        super().__init__()
        _check_options(version, dropout, activation, min_depth, max_depth, output_scale, channels)
        self.version, self.output_scale, self.pad = version, int(output_scale), pad
        self.upsample_output = bool(upsample_output)
        self.head = PackNetOutput(min_depth, max_depth, activation, inverse_depth)
        self.min_depth, self.max_depth = self.head.min_depth, self.head.max_depth

        # enc[0]: the stem's channels; enc[l]: those of encoder stage l and of its packing.
        enc = dict(enumerate(int(c) for c in channels))
        self.stem = ConvBlock(3, enc[0], 5)
        self.conv1 = ConvBlock(enc[0], enc[1], 7)
        pack_kernels = {1: 5, 2: 3, 3: 3, 4: 3, 5: 3}
        for level in range(1, 6):
            setattr(self, f"pack{level}", Packing(enc[level], pack_kernels[level], features_3d))
        for level, units in zip(range(2, 6), (2, 2, 3, 3), strict=True):
            stage = residual_stage(enc[level - 1], enc[level], units, dropout)
            setattr(self, f"res{level}", stage)

        # Decoder level l (5..1) unpacks to the resolution of the skip pack(l-1)/stem output,
        # which has enc[l-1] channels. A concatenates it; B and C unpack straight to that width.
        # Level l sits at scale l-1; levels 3..1 also take the upsampled coarser prediction.
        self.levels = [level for level in range(5, 0, -1) if level - 1 >= self.output_scale]
        for level in self.levels:
            in_channels = enc[min(level + 1, 5)]  # pack5's output, else fuse(l+1)'s
            if version == "A":
                unpacked, fused = enc[level], enc[level] + enc[level - 1]
            else:
                unpacked = fused = enc[level - 1]
            fused += 1 if level <= 3 else 0
            setattr(self, f"unpack{level}", Unpacking(in_channels, unpacked, 3, features_3d))
            setattr(self, f"fuse{level}", ConvBlock(fused, enc[level], 3))
        # heads[s] predicts at scale s from the level s + 1 features.
        self.heads = nn.ModuleList(
            nn.Conv2d(enc[scale + 1], 1, 3, padding=1) for scale in range(self.num_scales)
        )
        for scale in range(self.output_scale):  # never built: only keeps heads[s] = scale s
            self.heads[scale] = nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        """Xavier-uniform convolution weights and zero biases (the paper's code)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv3d)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Predict inverse depth and depth, see the class docstring for the keys and shapes."""
        height, width = image.shape[-2:]
        image = self._pad(image)
        skips = {0: self.stem(image)}
        x = self.conv1(skips[0])
        for level in range(1, 6):
            x = getattr(self, f"pack{level}")(x)
            skips[level] = x
            if level < 5:
                x = getattr(self, f"res{level + 1}")(x)

        predictions: dict[int, tuple[Tensor, Tensor, Tensor]] = {}
        for level in self.levels:
            x = getattr(self, f"unpack{level}")(x)
            skip = skips[level - 1]
            if self.version == "A":
                x = torch.cat((x, skip), 1)
            elif self.version == "B":
                x = x + skip
            if level <= 3:  # the coarser prediction, upsampled (nearest) to this scale
                coarser = predictions[level][0]
                x = torch.cat((x, F.interpolate(coarser, scale_factor=2.0, mode="nearest")), 1)
            x = getattr(self, f"fuse{level}")(x)
            if level <= 4:
                predictions[level - 1] = self.head(self.heads[level - 1](x))
        return self._outputs(predictions, height, width)

    def _pad(self, image: Tensor) -> Tensor:
        height, width = image.shape[-2:]
        pad_h, pad_w = -height % SIZE_MULTIPLE, -width % SIZE_MULTIPLE
        if not pad_h and not pad_w:
            return image
        if not self.pad:
            raise InputError(
                f"packnet: image size {height}x{width} is not a multiple of {SIZE_MULTIPLE}; "
                "resize or crop the images, or build the model with pad=True"
            )
        return F.pad(image, (0, pad_w, 0, pad_h), mode="replicate")

    def _outputs(
        self, predictions: dict[int, tuple[Tensor, Tensor, Tensor]], height: int, width: int
    ) -> dict[str, Tensor]:
        outputs = {}
        for scale in range(self.num_scales if self.training else 1):
            size = (math.ceil(height / 2**scale), math.ceil(width / 2**scale))
            disp_name, depth_name = disparity_key(scale), depth_key(scale)
            if scale < self.output_scale and not self.upsample_output:
                if scale == 0:  # the full-resolution keys hold the coarsest-built prediction
                    _, disp, depth = predictions[self.output_scale]
                    outputs[DISPARITY], outputs[DEPTH] = disp, depth
                continue
            if scale >= self.output_scale:
                _, disp, depth = predictions[scale]
                outputs[disp_name] = disp[..., : size[0], : size[1]]
                outputs[depth_name] = depth[..., : size[0], : size[1]]
                continue
            # Finer than the decoder goes: upsample the coarsest-built prediction's own kind
            # (disparity for inverse-depth heads, depth otherwise) and derive the other.
            value, disp, depth = predictions[self.output_scale]
            full = F.interpolate(
                value,
                scale_factor=2.0 ** (self.output_scale - scale),
                mode="bilinear",
                align_corners=False,
            )[..., : size[0], : size[1]]
            if self.head.inverse_depth:
                outputs[disp_name] = full
                outputs[depth_name] = 1.0 / full.clamp_min(1.0 / self.max_depth)
            else:
                outputs[disp_name] = 1.0 / full
                outputs[depth_name] = full
        return outputs


def _check_options(
    version: str,
    dropout: float,
    activation: str,
    min_depth: float,
    max_depth: float,
    output_scale: int,
    channels: tuple[int, ...] | list[int],
) -> None:
    if version not in VERSIONS:
        raise InputError(f"packnet: version must be one of {', '.join(VERSIONS)}, got {version!r}")
    if activation not in ACTIVATIONS:
        raise InputError(
            f"packnet: activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}"
        )
    if not 0.0 <= dropout < 1.0:
        raise InputError(f"packnet: dropout must be in [0, 1), got {dropout}")
    if not 0.0 < min_depth < max_depth < math.inf:
        raise InputError(
            f"packnet: need 0 < min_depth < max_depth < inf (metres), "
            f"got min_depth={min_depth}, max_depth={max_depth}"
        )
    if output_scale not in range(PackNet.num_scales):
        raise InputError(f"packnet: output_scale must be 0, 1, 2 or 3, got {output_scale}")
    if len(channels) != 6 or any(int(c) <= 0 or int(c) % NORM_GROUPS for c in channels):
        raise InputError(
            f"packnet: channels must be 6 positive multiples of {NORM_GROUPS} (stem, stages "
            f"1-5; GroupNorm groups), got {list(channels)}"
        )
