from __future__ import annotations

import numpy as np
import pytest
import torch

from monodepthkit.data.sample import ContextFrame, StereoPartner, build_sample
from monodepthkit.data.transforms import AugmentOptions
from monodepthkit.errors import MdkError
from monodepthkit.geometry.camera import crop_intrinsics, scale_intrinsics

K = np.array([[50.0, 0.0, 31.5], [0.0, 40.0, 23.5], [0.0, 0.0, 1.0]])


def _image(value: int, size=(48, 64)) -> np.ndarray:
    return np.full((*size, 3), value, np.uint8)


def test_every_key_at_the_output_size():
    T = np.eye(4)
    T[0, 3] = -0.5
    sample = build_sample(
        "seq/000001",
        _image(10),
        size=(24, 32),
        depth=np.full((48, 64), 2.0, np.float32),
        K=K,
        context={-1: ContextFrame(_image(20), T=T, dt=-0.1), 1: ContextFrame(_image(30))},
        stereo=StereoPartner(_image(40), T, np.full((48, 64), 3.0, np.float32)),
        speed=4.0,
    )
    assert list(sample) == [
        "name", "image", "depth", "K", "image_-1", "T_-1", "dt_-1", "image_+1",
        "image_stereo", "T_stereo", "depth_stereo", "speed",
    ]  # fmt: skip
    for key in ("image", "image_-1", "image_+1", "image_stereo"):
        assert sample[key].shape == (3, 24, 32) and sample[key].dtype == torch.float32
    assert sample["image_-1"][0, 0, 0] == pytest.approx(20 / 255)
    assert sample["depth"].shape == sample["depth_stereo"].shape == (1, 24, 32)
    assert float(sample["depth_stereo"].max()) == 3.0
    torch.testing.assert_close(
        sample["K"], torch.from_numpy(scale_intrinsics(K, (48, 64), (24, 32))).float()
    )
    assert sample["T_-1"].dtype == torch.float32 and float(sample["T_-1"][0, 3]) == -0.5
    assert float(sample["dt_-1"]) == pytest.approx(-0.1) and float(sample["speed"]) == 4.0


def test_crop_cuts_every_map_and_shifts_K():
    image = np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3)
    depth = np.arange(48 * 64, dtype=np.float32).reshape(48, 64)
    box = (4, 44, 8, 56)
    sample = build_sample(
        "a/0", image, depth=depth, K=K, crop=box, context={1: ContextFrame(image)}
    )
    expected = torch.from_numpy(image[4:44, 8:56].transpose(2, 0, 1).copy()).float() / 255
    torch.testing.assert_close(sample["image"], expected)
    torch.testing.assert_close(sample["image_+1"], expected)
    torch.testing.assert_close(sample["depth"][0], torch.from_numpy(depth[4:44, 8:56]))
    cropped = scale_intrinsics(crop_intrinsics(K, 4, 8), (40, 48), (40, 48))
    torch.testing.assert_close(sample["K"], torch.from_numpy(cropped).float())


def test_K_of_another_size_is_scaled_from_it():
    sample = build_sample("a/0", _image(0, (24, 32)), K=K, K_size=(48, 64))
    torch.testing.assert_close(
        sample["K"], torch.from_numpy(scale_intrinsics(K, (48, 64), (24, 32))).float()
    )


def test_augmentation_is_applied():
    torch.manual_seed(0)
    options = AugmentOptions(flip=False, color_jitter=1.0, keep_unjittered=True)
    sample = build_sample("a/0", _image(100), augment=options)
    assert "unjittered_image" in sample
    assert not torch.equal(sample["image"], sample["unjittered_image"])


def test_values_are_checked_where_the_sample_is_built():
    with pytest.raises(MdkError, match=r"batch\['depth'\]: depth must be finite and >= 0"):
        build_sample("a/0", _image(0), depth=np.full((48, 64), np.nan, np.float32))
