"""Geometric transforms that keep images, depth, intrinsics and poses consistent."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import Tensor

from monodepthkit.data.batch import (
    IMAGE,
    INTRINSICS,
    NAME,
    SPEED,
    UNJITTERED_PREFIX,
    is_image_key,
    unjittered_key,
)
from monodepthkit.errors import MdkError
from monodepthkit.geometry.camera import crop_intrinsics, flip_intrinsics, scale_intrinsics


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an [H, W, C] image to ``size`` (height, width): area when shrinking, else bilinear."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    shrinking = height < image.shape[0] and width < image.shape[1]
    return cv2.resize(
        image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )


def resize_depth(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an [H, W] depth map with nearest neighbour, so 0 (no ground truth) never blends in."""
    height, width = size
    if depth.shape == (height, width):
        return depth
    return cv2.resize(depth, (width, height), interpolation=cv2.INTER_NEAREST)


# Mirroring the x axis: flipped-image transforms are F @ T @ F.
_FLIP_X = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=torch.float64))


def hflip_sample(sample: dict) -> dict:
    """Mirror a sample left-right, consistently for every key of the batch contract.

    Images and depth maps [C, H, W] are flipped along W; ``K`` gets cx' = W - 1 - cx (and a
    negated skew); rigid transforms T become F T F with F = diag(-1, 1, 1, 1), which also flips
    the sign of a stereo baseline.
    """
    width = sample[IMAGE].shape[-1]
    out = {}
    for key, value in sample.items():
        if _is_per_sample_value(key):
            out[key] = value
        elif key == INTRINSICS:
            out[key] = flip_intrinsics(value, width)
        elif key.startswith("T_"):
            flip = _FLIP_X.to(value.dtype)
            out[key] = flip @ value @ flip
        else:  # images and depth maps
            out[key] = torch.flip(value, dims=[-1])
    return out


def to_image_tensor(image: np.ndarray) -> Tensor:
    """[H, W, 3] uint8 -> [3, H, W] float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)


def to_depth_tensor(depth: np.ndarray) -> Tensor:
    """[H, W] metres -> [1, H, W] float32 metres."""
    return torch.from_numpy(np.ascontiguousarray(depth, dtype=np.float32)).unsqueeze(0)


# --- training augmentation -------------------------------------------------------------------
#
# Every function below takes one sample (tensors without the batch dimension, keys of the batch
# contract) and returns a new sample; random draws come from ``generator`` or, when it is None,
# from torch's global RNG, which DataLoader seeds per worker (so `seed_everything` makes a run
# reproducible).

# Non-identity orderings of the RGB channels, for `channel_swap`.
_CHANNEL_PERMUTATIONS = tuple(itertools.permutations(range(3)))[1:]


@dataclass
class AugmentOptions:
    """Training augmentation of a sample (see `augment_sample`); the defaults only flip.

    The colour ranges default to Monodepth2's: report 5 ("Preprocessing") gives a 50% chance of
    flips and "brightness, contrast, saturation, and hue jiter with respective ranges of +-0.2,
    +-0.2, and +-0.1" (three numbers for four properties; saturation +-0.2 is Monodepth2's own
    value), applied to the three consecutive images alike. ``channel_swap`` is report 4's
    pre-processing ("we randomly swap around channels"; it gives no probability: the report-4
    configs set 0.25, DenseDepth's, whose augmentation the report's course framework uses; off
    by default). Reports 1-3 mention no augmentation.

    Attributes:
        flip: mirror the sample left-right with probability 0.5 (`hflip_sample`).
        color_jitter: probability of jittering a sample's colours (Monodepth2 uses 0.5; 0 = off).
        brightness: brightness factor drawn uniformly from [max(0, 1 - b), 1 + b].
        contrast: contrast factor drawn uniformly from [max(0, 1 - c), 1 + c].
        saturation: saturation factor drawn uniformly from [max(0, 1 - s), 1 + s].
        hue: hue shift drawn uniformly from [-h, h], in turns of the colour wheel (h <= 0.5).
        crop_scale: (min, max) zoom factor, both >= 1: the sample is enlarged by a random factor
            in this range and cropped back to its size at a random offset (`scale_crop_sample`);
            None = off.
        channel_swap: probability of permuting the RGB channels (a random non-identity order).
        keep_unjittered: also return every image as it was before the photometric steps
            (colour jitter, channel swap), under ``unjittered_`` + its key (`data.batch`), on
            every sample whether or not it was jittered: self-supervised losses compare those
            while the networks see the jittered images (Monodepth2).
    """

    flip: bool = True
    color_jitter: float = 0.0
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.1
    crop_scale: tuple[float, float] | None = None
    channel_swap: float = 0.0
    keep_unjittered: bool = False

    def __post_init__(self) -> None:
        for name in ("color_jitter", "channel_swap"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise MdkError(f"augment.{name}: expected a probability in [0, 1], found {value}")
        for name in ("brightness", "contrast", "saturation"):
            if getattr(self, name) < 0.0:
                raise MdkError(
                    f"augment.{name}: expected a range >= 0, found {getattr(self, name)}"
                )
        if not 0.0 <= self.hue <= 0.5:
            raise MdkError(f"augment.hue: expected a range in [0, 0.5], found {self.hue}")
        if self.crop_scale is not None:
            if len(self.crop_scale) != 2:
                raise MdkError(
                    f"augment.crop_scale: expected [min, max], found {list(self.crop_scale)}"
                )
            low, high = (float(s) for s in self.crop_scale)
            if not 1.0 <= low <= high:
                raise MdkError(
                    f"augment.crop_scale: expected 1 <= min <= max (a zoom in, so the crop "
                    f"stays inside the image), found [{low}, {high}]"
                )
            self.crop_scale = (low, high)

    @property
    def enabled(self) -> bool:
        """Whether any augmentation is switched on."""
        return (
            self.flip
            or self.color_jitter > 0
            or self.crop_scale is not None
            or self.channel_swap > 0
        )


def augment_sample(
    sample: dict, options: AugmentOptions, generator: torch.Generator | None = None
) -> dict:
    """Apply the augmentations of ``options`` to one sample, consistently across its keys.

    Order: random scale and crop, horizontal flip, colour jitter, channel swap. Geometric steps
    move images, depth maps and intrinsics together; photometric steps use the same random
    parameters for every image of the sample (target, context frames, stereo partner). With
    ``options.keep_unjittered`` the images after the geometric steps are also kept under
    ``unjittered_`` + their key (`monodepthkit.data.batch.unjittered_key`).

    Args:
        sample: a sample of the batch contract (tensors without the batch dimension).
        options: what to apply.
        generator: source of the random draws; None uses torch's global RNG.

    Returns:
        A new sample with the same keys and shapes (plus the ``unjittered_`` copies).
    """
    if options.crop_scale is not None:
        sample = random_scale_crop_sample(sample, options.crop_scale, generator)
    if options.flip and _chance(0.5, generator):
        sample = hflip_sample(sample)
    if options.keep_unjittered:
        sample = {**sample, **{unjittered_key(key): sample[key] for key in _image_keys(sample)}}
    if options.color_jitter > 0 and _chance(options.color_jitter, generator):
        sample = color_jitter_sample(
            sample,
            options.brightness,
            options.contrast,
            options.saturation,
            options.hue,
            generator,
        )
    if options.channel_swap > 0 and _chance(options.channel_swap, generator):
        index = int(torch.randint(len(_CHANNEL_PERMUTATIONS), (), generator=generator))
        sample = permute_channels_sample(sample, _CHANNEL_PERMUTATIONS[index])
    return sample


def random_scale_crop_sample(
    sample: dict, scale_range: tuple[float, float], generator: torch.Generator | None = None
) -> dict:
    """Zoom a sample in by a random factor in ``scale_range`` and crop it back to its size.

    The factor s is uniform in [min, max] (both >= 1); the enlarged size is round(s * H) x
    round(s * W) and the crop offset is uniform over every position that stays inside it.

    Args:
        sample: a sample of the batch contract; ``image`` is [3, H, W].
        scale_range: (min, max) zoom factors, 1 <= min <= max.
        generator: source of the random draws; None uses torch's global RNG.

    Returns:
        See `scale_crop_sample`.
    """
    low, high = scale_range
    height, width = sample[IMAGE].shape[-2:]
    scale = low + (high - low) * float(torch.rand((), generator=generator))
    scaled = (max(height, round(scale * height)), max(width, round(scale * width)))
    top = int(torch.randint(scaled[0] - height + 1, (), generator=generator))
    left = int(torch.randint(scaled[1] - width + 1, (), generator=generator))
    return scale_crop_sample(sample, scaled, (top, left))


def scale_crop_sample(sample: dict, scaled_size: tuple[int, int], offset: tuple[int, int]) -> dict:
    """Resize a sample to ``scaled_size``, then crop its original (H, W) at ``offset``.

    Images are resized bilinearly (align_corners=False, the pixel-centre convention) and depth
    maps by nearest neighbour ("nearest-exact", the same convention), so 0 = no ground truth is
    never blended with valid depth. Depth values are unchanged: depth is metric z, and the
    zoomed image shows the same scene through a longer focal length, which is why ``K`` must
    change with it: it is scaled and cropped with `monodepthkit.geometry.camera`'s convention.
    Poses ``T_*``, ``speed`` and ``name`` are unchanged. Note that a network which does not see
    ``K`` learns from zoomed samples that the same apparent size can mean different depths.

    Args:
        sample: a sample of the batch contract; ``image`` is [3, H, W].
        scaled_size: (height, width) in pixels to resize to, each >= the sample's.
        offset: (top, left) in pixels of the crop in the resized sample.

    Returns:
        A new sample with every key at its original shape.

    Raises:
        MdkError: a size smaller than the sample, a crop outside it, or a key it cannot move.
    """
    height, width = sample[IMAGE].shape[-2:]
    scaled_height, scaled_width = scaled_size
    top, left = offset
    if scaled_height < height or scaled_width < width:
        raise MdkError(
            f"scale_crop_sample: scaled size {tuple(scaled_size)} is smaller than the sample's "
            f"{(height, width)}; only zooming in is supported"
        )
    if not (0 <= top <= scaled_height - height and 0 <= left <= scaled_width - width):
        raise MdkError(
            f"scale_crop_sample: crop offset {tuple(offset)} puts the {(height, width)} window "
            f"outside the scaled size {tuple(scaled_size)}"
        )
    rows, cols = slice(top, top + height), slice(left, left + width)
    out = {}
    for key, value in sample.items():
        if _is_per_sample_value(key) or key.startswith("T_"):
            out[key] = value
        elif key == INTRINSICS:
            K = scale_intrinsics(value.detach().cpu().numpy(), (height, width), scaled_size)
            out[key] = torch.from_numpy(crop_intrinsics(K, top, left)).to(value)
        elif key.startswith(("image", UNJITTERED_PREFIX)):
            out[key] = _resize(value, scaled_size, "bilinear")[..., rows, cols]
        elif key.startswith("depth"):
            out[key] = _resize(value, scaled_size, "nearest-exact")[..., rows, cols]
        else:
            raise MdkError(
                f"scale_crop_sample: no rule to transform key '{key}' (the contract is in "
                "data/batch.py; add the key there and here)"
            )
    return out


def color_jitter_sample(
    sample: dict,
    brightness: float,
    contrast: float,
    saturation: float,
    hue: float,
    generator: torch.Generator | None = None,
) -> dict:
    """Jitter the colours of every image of a sample with the same random parameters.

    As torchvision's ``ColorJitter`` (which Monodepth2 uses): brightness, contrast and
    saturation factors uniform in [max(0, 1 - r), 1 + r], a hue shift uniform in [-h, h], applied
    in a random order with `torchvision.transforms.v2.functional`. A range of 0 leaves its
    property untouched, so all-zero ranges return the images unchanged.

    Args:
        sample: a sample of the batch contract; images [3, H, W] float in [0, 1].
        brightness: brightness range (>= 0).
        contrast: contrast range (>= 0).
        saturation: saturation range (>= 0).
        hue: hue range in turns of the colour wheel, in [0, 0.5].
        generator: source of the random draws; None uses torch's global RNG.

    Returns:
        A new sample whose images stay in [0, 1]; other keys are shared with ``sample``.
    """
    draws = torch.rand(4, generator=generator).tolist()
    order = torch.randperm(4, generator=generator).tolist()
    factors = [
        _uniform(max(0.0, 1.0 - r), 1.0 + r, u)
        for r, u in zip((brightness, contrast, saturation), draws, strict=False)
    ]
    steps = [
        (TF.adjust_brightness, factors[0], 1.0),
        (TF.adjust_contrast, factors[1], 1.0),
        (TF.adjust_saturation, factors[2], 1.0),
        (TF.adjust_hue, _uniform(-hue, hue, draws[3]), 0.0),
    ]
    keys = _image_keys(sample)
    images = torch.stack([sample[key] for key in keys])
    for index in order:
        adjust, factor, identity = steps[index]
        if factor != identity:
            images = adjust(images, factor)
    images = images.clamp(0.0, 1.0)
    return {**sample, **dict(zip(keys, images.unbind(0), strict=True))}


def permute_channels_sample(sample: dict, permutation: tuple[int, ...] | list[int]) -> dict:
    """Reorder the RGB channels of every image: output channel i is input channel permutation[i].

    Args:
        sample: a sample of the batch contract; images [3, H, W].
        permutation: an ordering of (0, 1, 2), e.g. (2, 1, 0) turns RGB into BGR.

    Returns:
        A new sample; keys other than images are shared with ``sample``.
    """
    if sorted(permutation) != [0, 1, 2]:
        raise MdkError(
            f"permute_channels_sample: expected an ordering of (0, 1, 2), found "
            f"{tuple(permutation)}"
        )
    index = torch.tensor(list(permutation))
    return {**sample, **{key: sample[key][index] for key in _image_keys(sample)}}


def _image_keys(sample: dict) -> list[str]:
    """Keys of the images the networks see (not their ``unjittered_`` copies)."""
    return [key for key in sample if is_image_key(key)]


def _is_per_sample_value(key: str) -> bool:
    """Keys that geometric transforms leave unchanged: name, speed, time steps ``dt_*``."""
    return key in (NAME, SPEED) or key.startswith("dt_")


def _resize(value: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    if tuple(value.shape[-2:]) == tuple(size):
        return value
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    return F.interpolate(value[None], size=tuple(size), mode=mode, **kwargs)[0]


def _chance(probability: float, generator: torch.Generator | None) -> bool:
    return float(torch.rand((), generator=generator)) < probability


def _uniform(low: float, high: float, unit: float) -> float:
    return low + (high - low) * unit


__all__ = [
    "AugmentOptions",
    "augment_sample",
    "color_jitter_sample",
    "hflip_sample",
    "permute_channels_sample",
    "random_scale_crop_sample",
    "resize_depth",
    "resize_image",
    "scale_crop_sample",
    "to_depth_tensor",
    "to_image_tensor",
]
