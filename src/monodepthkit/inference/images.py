"""Image inputs of inference: any supported image to a float tensor, and the resizes around the
network. A leaf of inference/ (the `Predictor`, export and quantisation all use it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from monodepthkit.errors import MdkError


def to_image_tensor(image) -> Tensor:
    """Any supported image to a float32 [3, H, W] tensor in [0, 1] (on the CPU for files/arrays).

    Raises:
        MdkError: an unsupported type or shape, or an unreadable file.
    """
    from monodepthkit.data.io import read_rgb

    if isinstance(image, (str, Path)):
        image = read_rgb(image)
    elif _is_pil(image):
        image = np.array(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise MdkError(f"expected an [H, W, 3] image array, got shape {image.shape}")
        image = torch.from_numpy(np.ascontiguousarray(image[:, :, :3])).permute(2, 0, 1)
    if not isinstance(image, Tensor):
        raise MdkError(
            f"expected a path, PIL image, [H, W, 3] array or [3, H, W] tensor, got "
            f"{type(image).__name__}"
        )
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] != 3:
        raise MdkError(f"expected an image tensor [3, H, W], got shape {tuple(image.shape)}")
    return as_float_image(image, "image")


def as_float_image(image: Tensor, name: str) -> Tensor:
    """A uint8 (0-255) or float (0-1) image tensor as float32 in [0, 1].

    Raises:
        MdkError: any other dtype, naming ``name``.
    """
    if image.dtype == torch.uint8:
        return image.float() / 255.0
    if not image.is_floating_point():
        raise MdkError(f"{name}: expected uint8 or float in [0, 1], got {image.dtype}")
    return image.float()


def _is_pil(image) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return False
    return isinstance(image, Image.Image)


def resize_image(batch: Tensor, size: Sequence[int]) -> Tensor:
    """[B, 3, h, w] images to [B, 3, *size], bilinear with antialiasing (how the `Predictor`
    feeds its network; a no-op at the same size)."""
    if tuple(batch.shape[-2:]) == tuple(size):
        return batch
    # Antialiasing matters when shrinking large photos to a small training size.
    return F.interpolate(
        batch, size=tuple(size), mode="bilinear", antialias=True, align_corners=False
    )


def resize_output(prediction: Tensor, size: Sequence[int]) -> Tensor:
    """[B, 1, h, w] network output to [B, 1, *size], bilinear without antialiasing."""
    if tuple(prediction.shape[-2:]) == tuple(size):
        return prediction
    return F.interpolate(prediction, size=tuple(size), mode="bilinear", align_corners=False)


__all__ = ["as_float_image", "resize_image", "resize_output", "to_image_tensor"]
