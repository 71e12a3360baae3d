"""The batch contract: every key a dataset may put in a sample, in one place.

A sample (one item of a dataset) and a batch (samples collated by the DataLoader) are plain
dicts with string keys. Shapes below are for a batch; a sample has the same shapes without the
leading B.

- ``image``: float [B, 3, H, W], the target RGB image in [0, 1].
- ``depth``: float [B, 1, H, W], ground-truth z-depth in metres, 0 = no ground truth.
- ``K``: float [B, 3, 3], intrinsics in pixels of this batch's resolution.
- ``image_-1``, ``image_+1`` (any ``image_{offset:+d}``): float [B, 3, H, W], context frames
  of the same camera at that frame offset.
- ``T_-1``, ``T_+1`` (any ``T_{offset:+d}``): float [B, 4, 4], ground-truth T_context_target,
  mapping target-camera points to the context camera (when poses are known).
- ``image_stereo``: float [B, 3, H, W], the stereo partner of ``image``.
- ``T_stereo``: float [B, 4, 4], T_stereo_target (maps target-camera points to the partner).
- ``depth_stereo``: float [B, 1, H, W], ground-truth depth of the stereo partner, when known.
- ``speed``: float [B], camera speed in m/s at the target frame, when known.
- ``dt_-1``, ``dt_+1`` (any ``dt_{offset:+d}``): float [B], time of the context frame at that
  offset minus the target's, in seconds (negative for earlier frames), when timestamps are
  known; with ``speed`` it gives the distance travelled (velocity supervision).
- ``unjittered_image``, ``unjittered_image_-1``, ``unjittered_image_stereo`` (``unjittered_``
  + any image key): the images before photometric augmentation (colour jitter, channel swap),
  after the geometric one (flip, crop), present on training samples when
  ``AugmentOptions.keep_unjittered`` is set. Networks see the jittered ``image*``; the
  photometric losses of self-supervision compare these (Monodepth2's ``color`` vs
  ``color_aug``).
- ``name``: list[str] of length B, "SEQUENCE/FRAME" identifiers that name output files.

Context offsets are written with an explicit sign (``image_+1``) so keys stay unambiguous.
`validate_batch` checks a sample or batch and tells exactly which key is wrong. The values
(images in [0, 1], depth finite and >= 0) are checked once, where a sample is built
(`monodepthkit.data.sample.build_sample`); a training step checks only keys, shapes and dtypes
(``values=False``), because a value check reads the tensors back to the host, one sync per step
on a GPU.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import torch

from monodepthkit.errors import MdkError

IMAGE = "image"
DEPTH = "depth"
INTRINSICS = "K"
NAME = "name"
STEREO_IMAGE = "image_stereo"
STEREO_TRANSFORM = "T_stereo"
STEREO_DEPTH = "depth_stereo"
SPEED = "speed"
UNJITTERED_PREFIX = "unjittered_"

_CONTEXT_IMAGE = re.compile(r"^image_[+-]\d+$")
_CONTEXT_TRANSFORM = re.compile(r"^T_[+-]\d+$")
_TIME_STEP = re.compile(r"^dt_[+-]\d+$")
_KNOWN = {IMAGE, DEPTH, INTRINSICS, NAME, STEREO_IMAGE, STEREO_TRANSFORM, STEREO_DEPTH, SPEED}


def context_image_key(offset: int) -> str:
    """Key of the context frame at ``offset`` (e.g. -1 -> ``"image_-1"``, 1 -> ``"image_+1"``)."""
    return f"image_{offset:+d}"


def context_transform_key(offset: int) -> str:
    """Key of T_context_target for the frame at ``offset`` (e.g. ``"T_+1"``)."""
    return f"T_{offset:+d}"


def time_step_key(offset: int) -> str:
    """Key of the time step to the frame at ``offset`` in seconds (e.g. ``"dt_-1"``)."""
    return f"dt_{offset:+d}"


def unjittered_key(key: str) -> str:
    """Key of the un-jittered copy of image key ``key`` (e.g. ``"unjittered_image_+1"``)."""
    return UNJITTERED_PREFIX + key


def is_image_key(key: str) -> bool:
    """Whether ``key`` holds an image the networks see: ``image``, ``image_stereo``,
    ``image_{offset:+d}`` (not the ``unjittered_`` copies)."""
    return key in (IMAGE, STEREO_IMAGE) or bool(_CONTEXT_IMAGE.match(key))


def validate_batch(
    batch: Mapping,
    required: Iterable[str] = (IMAGE,),
    batched: bool = True,
    values: bool = True,
) -> None:
    """Check keys, shapes, dtypes and (optionally) value ranges against the contract.

    Args:
        batch: a batch (``batched=True``) or a single sample (``batched=False``).
        required: keys that must be present.
        batched: whether tensors carry a leading batch dimension.
        values: also check that images are in [0, 1] and depth maps finite and >= 0. These
            reductions read every tensor back to the host (a device sync on a GPU), so the
            datasets check values where samples are built and a training step passes False.

    Raises:
        MdkError: naming the key, the expected and the found shape or value.
    """
    if not isinstance(batch, Mapping):
        raise MdkError(f"batch: expected a dict with string keys, found {type(batch).__name__}")
    for key in required:
        if key not in batch:
            raise MdkError(f"batch: missing key '{key}' (present: {sorted(map(str, batch))})")
    lead = 1 if batched else 0
    image = batch.get(IMAGE)
    if image is None:
        raise MdkError(f"batch: missing key '{IMAGE}' (present: {sorted(map(str, batch))})")
    _check_image(IMAGE, image, lead, values)
    size = tuple(image.shape[-2:])
    prefix = tuple(image.shape[:lead])
    for key, value in batch.items():
        if not isinstance(key, str):
            raise MdkError(f"batch: keys must be strings, found {key!r}")
        if key in (IMAGE, NAME):
            continue
        if not _is_known(key):
            raise MdkError(
                f"batch: unknown key '{key}'; the contract is documented in data/batch.py"
            )
        if not isinstance(value, torch.Tensor):
            raise MdkError(f"batch['{key}']: expected a tensor, found {type(value).__name__}")
        if tuple(value.shape[:lead]) != prefix:
            raise MdkError(
                f"batch['{key}']: batch size {tuple(value.shape[:lead])} differs from "
                f"image's {prefix}"
            )
        if is_image_key(key.removeprefix(UNJITTERED_PREFIX)):
            _check_image(key, value, lead, values)
            _check_size(key, value, size)
        elif key in (DEPTH, STEREO_DEPTH):
            _check_shape(key, value, lead, 1, "[B, 1, H, W]")
            _check_size(key, value, size)
            if not value.is_floating_point():
                raise MdkError(f"batch['{key}']: expected float metres, found {value.dtype}")
            if values and ((value < 0).any() or not torch.isfinite(value).all()):
                raise MdkError(
                    f"batch['{key}']: depth must be finite and >= 0 (0 = no ground truth)"
                )
        elif key == INTRINSICS:
            if tuple(value.shape[lead:]) != (3, 3):
                raise MdkError(f"batch['K']: expected shape [B, 3, 3], found {tuple(value.shape)}")
        elif key == STEREO_TRANSFORM or _CONTEXT_TRANSFORM.match(key):
            if tuple(value.shape[lead:]) != (4, 4):
                raise MdkError(
                    f"batch['{key}']: expected shape [B, 4, 4], found {tuple(value.shape)}"
                )
        elif (key == SPEED or _TIME_STEP.match(key)) and value.dim() != lead:
            raise MdkError(f"batch['{key}']: expected shape [B], found {tuple(value.shape)}")


def _is_known(key: str) -> bool:
    if key.startswith(UNJITTERED_PREFIX):
        return is_image_key(key.removeprefix(UNJITTERED_PREFIX))
    return (
        key in _KNOWN
        or is_image_key(key)
        or bool(_CONTEXT_TRANSFORM.match(key) or _TIME_STEP.match(key))
    )


def _check_image(key: str, value, lead: int, values: bool) -> None:
    if not isinstance(value, torch.Tensor):
        raise MdkError(f"batch['{key}']: expected a tensor, found {type(value).__name__}")
    _check_shape(key, value, lead, 3, "[B, 3, H, W]")
    if not value.is_floating_point():
        raise MdkError(f"batch['{key}']: expected float values in [0, 1], found {value.dtype}")
    if not values:
        return
    low, high = float(value.min()), float(value.max())
    if low < 0.0 or high > 1.0:
        raise MdkError(
            f"batch['{key}']: expected values in [0, 1], found [{low:.3g}, {high:.3g}] "
            "(divide uint8 images by 255)"
        )


def _check_shape(key: str, value: torch.Tensor, lead: int, channels: int, expected: str) -> None:
    if value.dim() != lead + 3 or value.shape[lead] != channels:
        raise MdkError(f"batch['{key}']: expected shape {expected}, found {tuple(value.shape)}")


def _check_size(key: str, value: torch.Tensor, size: tuple[int, ...]) -> None:
    if tuple(value.shape[-2:]) != size:
        raise MdkError(
            f"batch['{key}']: spatial size {tuple(value.shape[-2:])} differs from image's {size}"
        )
