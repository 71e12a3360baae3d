"""The one sample builder: loaded arrays of a frame -> a validated sample of the batch contract.

Every dataset (`monodepthkit.data.kitti`, `monodepthkit.data.nyu`, `monodepthkit.data.folder`)
reads its files its own way and hands the arrays to `build_sample`, which does the rest the same
way for all of them: the optional crop, the resize to the output size (images by area or
bilinear, depth by nearest neighbour: `monodepthkit.data.transforms`), the conversion to
tensors, intrinsics cropped and scaled with `monodepthkit.geometry.camera`'s convention, the
training augmentation, and the full value check of `monodepthkit.data.batch.validate_batch`,
so a bad sample fails where it is built and training steps only check shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from monodepthkit.data import batch as keys
from monodepthkit.data.transforms import (
    AugmentOptions,
    augment_sample,
    resize_depth,
    resize_image,
    to_depth_tensor,
    to_image_tensor,
)
from monodepthkit.geometry.camera import crop_intrinsics, scale_intrinsics


@dataclass(frozen=True)
class ContextFrame:
    """A context frame of the target (same camera, another time).

    Attributes:
        image: [h, w, 3] uint8 RGB, the target's size before the resize.
        T: [4, 4] T_context_target (maps target-camera points to this frame's camera, metres),
            when poses are known.
        dt: this frame's time minus the target's, seconds, when timestamps are known.
    """

    image: np.ndarray
    T: np.ndarray | None = None
    dt: float | None = None


@dataclass(frozen=True)
class StereoPartner:
    """The stereo partner of the target (the other camera of the rig, same time).

    Attributes:
        image: [h, w, 3] uint8 RGB, the target's size before the resize.
        T: [4, 4] T_stereo_target (maps target-camera points to the partner's camera, metres).
        depth: [h, w] float32 ground-truth depth of the partner in metres (0 = none), or None.
    """

    image: np.ndarray
    T: np.ndarray
    depth: np.ndarray | None = None


def build_sample(
    name: str,
    image: np.ndarray,
    *,
    size: tuple[int, int] | None = None,
    depth: np.ndarray | None = None,
    K: np.ndarray | None = None,
    K_size: tuple[int, int] | None = None,
    crop: tuple[int, int, int, int] | None = None,
    context: Mapping[int, ContextFrame] | None = None,
    stereo: StereoPartner | None = None,
    speed: float | None = None,
    augment: AugmentOptions | None = None,
) -> dict:
    """Assemble, augment and validate one sample of the batch contract (`monodepthkit.data.batch`).

    Args:
        name: the sample's ``"SEQUENCE/FRAME"`` name.
        image: [h, w, 3] uint8 RGB target image.
        size: (H, W) output size in pixels; None keeps the image's size (after ``crop``).
        depth: [h', w'] float32 ground-truth z-depth in metres, 0 = none, covering the same
            view as ``image`` (any resolution: it is resized to ``size``); None = no ``depth``.
        K: [3, 3] intrinsics in pixels of a ``K_size`` image; None = no ``K``.
        K_size: (h, w) in pixels of the image ``K`` belongs to; None = ``image``'s size. With
            ``crop``, leave it None: K must then be in pixels of ``image``.
        crop: (top, bottom, left, right) in pixels of ``image``: every image and depth map is
            cut to ``[top:bottom, left:right]`` (and ``K`` shifted) before the resize; depth
            maps must then have the image's resolution.
        context: frame offset (e.g. -1, +1) -> context frame; gives ``image_{offset:+d}``,
            ``T_{offset:+d}`` and ``dt_{offset:+d}``.
        stereo: the stereo partner; gives ``image_stereo``, ``T_stereo`` and ``depth_stereo``.
        speed: camera speed in m/s at the target frame, when known.
        augment: training augmentation (`monodepthkit.data.transforms.augment_sample`, random
            draws from torch's global RNG); None = none.

    Returns:
        The sample: tensors without the batch dimension, images [3, H, W] float32 in [0, 1],
        depth maps [1, H, W] float32 metres, ``K`` [3, 3] float32 in pixels of (H, W),
        transforms [4, 4] float32, ``dt_*`` and ``speed`` float32 scalars.

    Raises:
        MdkError: the sample breaks the batch contract (e.g. negative or non-finite depth).
    """

    def cropped(array: np.ndarray) -> np.ndarray:
        return array if crop is None else array[crop[0] : crop[1], crop[2] : crop[3]]

    def image_tensor(array: np.ndarray) -> torch.Tensor:
        return to_image_tensor(resize_image(cropped(array), size))

    def depth_tensor(array: np.ndarray) -> torch.Tensor:
        return to_depth_tensor(resize_depth(cropped(array), size))

    target_size = cropped(image).shape[:2]
    size = size or target_size
    sample: dict = {keys.NAME: name, keys.IMAGE: image_tensor(image)}
    if depth is not None:
        sample[keys.DEPTH] = depth_tensor(depth)
    if K is not None:
        if crop is not None:
            K = crop_intrinsics(K, crop[0], crop[2])
        K = scale_intrinsics(K, K_size or target_size, size)
        sample[keys.INTRINSICS] = torch.from_numpy(K).float()
    for offset, frame in (context or {}).items():
        sample[keys.context_image_key(offset)] = image_tensor(frame.image)
        if frame.T is not None:
            sample[keys.context_transform_key(offset)] = torch.from_numpy(frame.T).float()
        if frame.dt is not None:
            sample[keys.time_step_key(offset)] = torch.tensor(frame.dt, dtype=torch.float32)
    if stereo is not None:
        sample[keys.STEREO_IMAGE] = image_tensor(stereo.image)
        sample[keys.STEREO_TRANSFORM] = torch.from_numpy(stereo.T).float()
        if stereo.depth is not None:
            sample[keys.STEREO_DEPTH] = depth_tensor(stereo.depth)
    if speed is not None:
        sample[keys.SPEED] = torch.tensor(speed, dtype=torch.float32)
    if augment is not None:
        sample = augment_sample(sample, augment)
    keys.validate_batch(sample, batched=False)
    return sample


__all__ = ["ContextFrame", "StereoPartner", "build_sample"]
