"""Predictor: input types, sizes, flip TTA, relative models, every registered model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from infer_helpers import TRAIN_SIZE, tiny_task, write_checkpoint
from monodepthkit import MdkError, Predictor
from monodepthkit.data.io import write_rgb
from monodepthkit.data.synthetic import PRESETS
from monodepthkit.inference.metadata import INTRINSICS_KEY
from monodepthkit.models import create_model, list_models, registry


class PixelwiseDepth(nn.Module):
    """depth = 1 + 2 R + 3 G + 4 B per pixel: equivariant to flips and crops by construction."""

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        weights = torch.tensor([2.0, 3.0, 4.0]).view(1, 3, 1, 1)
        return {"depth": 1.0 + (image * weights).sum(1, keepdim=True)}


class ColumnDepth(nn.Module):
    """depth = 1 + column index / 10 + R: not flip-equivariant (depends on absolute x)."""

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        columns = torch.arange(image.shape[-1], dtype=image.dtype).view(1, 1, 1, -1)
        return {"depth": 1.0 + columns / 10.0 + image[:, :1]}


class RelativeDepth(PixelwiseDepth):
    is_metric = False


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_from_checkpoint_reads_training_size_and_camera(tiny_checkpoint):
    predictor = Predictor.from_checkpoint(tiny_checkpoint)
    assert predictor.input_size == TRAIN_SIZE
    assert predictor.output_kind == "depth"
    assert predictor.network_size((101, 203)) == TRAIN_SIZE
    # The synthetic driving camera (fx = 0.58 W, fy = 1.92 H, centred at 416 x 128) at the
    # asked size, exactly the K the data loaders give an image of that size.
    K = predictor.intrinsics_for((96, 256))
    expected = [[0.58 * 256, 0, 208.5 * 256 / 416 - 0.5], [0, 1.92 * 96, 64.5 * 96 / 128 - 0.5]]
    np.testing.assert_allclose(K, [*expected, [0, 0, 1]])
    np.testing.assert_allclose(K, PRESETS["driving"].camera_matrix(256, 96))


def test_stored_camera_wins_and_only_synthetic_configs_fall_back(tmp_path):
    K = np.array([[50.0, 0.0, 31.5], [0.0, 52.0, 15.5], [0.0, 0.0, 1.0]])
    checkpoint = torch.load(write_checkpoint(tiny_task(), tmp_path / "a.ckpt"), weights_only=False)
    checkpoint[INTRINSICS_KEY] = {"K": K.tolist(), "image_size": [32, 64]}
    torch.save(checkpoint, tmp_path / "stored.ckpt")
    predictor = Predictor.from_checkpoint(tmp_path / "stored.ckpt")
    np.testing.assert_allclose(predictor.intrinsics, K)  # not the synthetic preset's
    assert predictor.intrinsics_size == (32, 64)

    del checkpoint[INTRINSICS_KEY]
    checkpoint["datamodule_hyper_parameters"] = {"dataset": "folder", "image_size": (32, 64)}
    torch.save(checkpoint, tmp_path / "folder.ckpt")
    assert Predictor.from_checkpoint(tmp_path / "folder.ckpt").intrinsics_for((32, 64)) is None


def test_input_multiple_comes_from_the_model_registry(tiny_checkpoint, monkeypatch):
    assert Predictor.from_checkpoint(tiny_checkpoint).multiple == 32  # the registry's default
    monkeypatch.setitem(registry._CONFIGS, "unet", registry.ModelConfig(input_multiple=64))
    predictor = Predictor.from_checkpoint(tiny_checkpoint, resolution="input")
    assert predictor.multiple == 64 and predictor.network_size((37, 100)) == (64, 128)
    assert Predictor.from_checkpoint(tiny_checkpoint, multiple=16).multiple == 16  # explicit


@pytest.mark.parametrize("resolution", ["auto", "input", (48, 80)])
@pytest.mark.parametrize("size", [(37, 53), (64, 31), (1, 1)])
def test_output_has_the_input_size(tiny_checkpoint, resolution, size):
    predictor = Predictor.from_checkpoint(tiny_checkpoint, resolution=resolution)
    depth = predictor(_image(*size))
    assert depth.shape == size and depth.dtype == np.float32
    assert np.all((depth >= 0.5) & (depth <= 80.0))  # the log head's range


def test_input_resolution_rounds_to_the_multiple():
    predictor = Predictor(PixelwiseDepth(), resolution="input", multiple=32, min_size=32)
    assert predictor.network_size((37, 53)) == (32, 64)
    assert predictor.network_size((10, 100)) == (32, 96)
    assert predictor.network_size((50, 48)) == (64, 64)  # 1.5625 and 1.5 round to 2
    # The default smallest side (64) keeps deep encoders at >= 2 pixels at 1/32.
    assert Predictor(PixelwiseDepth(), resolution="input").network_size((37, 200)) == (64, 192)


def test_all_input_types_give_the_same_prediction(tiny_checkpoint, tmp_path):
    predictor = Predictor.from_checkpoint(tiny_checkpoint)
    array = _image(29, 45)
    write_rgb(tmp_path / "image.png", array)
    tensor = torch.from_numpy(array).permute(2, 0, 1).float() / 255.0
    expected = predictor(array)
    inputs = {
        "path": tmp_path / "image.png",
        "str": str(tmp_path / "image.png"),
        "pil": Image.fromarray(array),
        "float array": array.astype(np.float32) / 255.0,
        "tensor": tensor,
        "uint8 tensor": torch.from_numpy(array).permute(2, 0, 1),
    }
    for name, image in inputs.items():
        np.testing.assert_allclose(predictor(image), expected, rtol=1e-5, err_msg=name)
    batch = predictor(torch.stack([tensor, tensor.flip(-1)]))
    assert batch.shape == (2, 29, 45)
    np.testing.assert_allclose(batch[0], expected, rtol=1e-5)
    listed = predictor([array, _image(17, 70, seed=1), tmp_path / "image.png"])
    assert [d.shape for d in listed] == [(29, 45), (17, 70), (29, 45)]
    np.testing.assert_allclose(listed[2], expected, rtol=1e-5)


def test_batch_size_does_not_change_results(tiny_checkpoint):
    images = [_image(40, 60, seed=s) for s in range(5)]
    one = Predictor.from_checkpoint(tiny_checkpoint, batch_size=1)(images)
    three = Predictor.from_checkpoint(tiny_checkpoint, batch_size=3)(images)
    for a, b in zip(one, three, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_bad_inputs_name_the_problem(tiny_checkpoint, tmp_path):
    predictor = Predictor.from_checkpoint(tiny_checkpoint)
    with pytest.raises(MdkError, match=r"missing\.png: image file not found"):
        predictor(tmp_path / "missing.png")
    with pytest.raises(MdkError, match=r"expected an \[H, W, 3\] image array"):
        predictor(np.zeros((4, 5, 7), np.uint8))
    with pytest.raises(MdkError, match="got dict"):
        predictor({"image": 1})
    with pytest.raises(MdkError, match="resolution 'train' needs the training size"):
        Predictor(PixelwiseDepth(), resolution="train")
    with pytest.raises(MdkError, match="fp16' needs a GPU"):
        Predictor(PixelwiseDepth(), device="cpu", precision="fp16")


def test_pixelwise_model_at_input_size_is_exact():
    # With the network at the input size there is no resizing: output = the model's formula.
    predictor = Predictor(PixelwiseDepth(), resolution="input", multiple=1, min_size=1)
    array = _image(13, 21)
    expected = 1.0 + (array.astype(np.float64) / 255.0 * [2.0, 3.0, 4.0]).sum(-1)
    np.testing.assert_allclose(predictor(array), expected, rtol=1e-6)


def test_output_is_resized_back_bilinearly():
    # A model whose depth is linear in x: bilinear resizing of a linear ramp stays linear inside.
    predictor = Predictor(ColumnDepth(), resolution=(8, 16))
    depth = predictor(np.zeros((8, 32, 3), np.uint8))
    # Output column j of 32 samples network column (j + 0.5) / 2 - 0.5 (half-pixel centres).
    source = np.clip((np.arange(32) + 0.5) / 2 - 0.5, 0, 15)
    np.testing.assert_allclose(depth[0], 1.0 + source / 10.0, rtol=1e-6)


def test_flip_tta_of_an_equivariant_model_changes_nothing():
    array = _image(16, 24)
    plain = Predictor(PixelwiseDepth(), resolution="input", multiple=8, min_size=8)(array)
    flipped = Predictor(PixelwiseDepth(), resolution="input", multiple=8, min_size=8, flip=True)(
        array
    )
    np.testing.assert_allclose(flipped, plain, rtol=1e-6)


def test_flip_tta_averages_the_mirrored_prediction():
    array = _image(16, 24)
    predictor = Predictor(ColumnDepth(), resolution="input", multiple=8, min_size=8)
    plain = predictor(array, flip=False)
    mirrored = predictor(array[:, ::-1].copy(), flip=False)[:, ::-1]
    averaged = predictor(array, flip=True)
    np.testing.assert_allclose(averaged, 0.5 * (plain + mirrored), rtol=1e-6)
    # For this model the average is 1 + (W - 1) / 20 + R: the column term becomes constant.
    red = array[:, :, 0] / 255.0
    np.testing.assert_allclose(averaged, 1.0 + 23 / 20 + red, rtol=1e-6)
    assert not np.allclose(averaged, plain)


def test_relative_models_return_disparity():
    predictor = Predictor(RelativeDepth(), resolution="input", multiple=1, min_size=1)
    assert predictor.output_kind == "disparity" and "unknown global scale" in (
        predictor.output_description
    )
    array = _image(9, 11)
    depth = 1.0 + (array / 255.0 * [2.0, 3.0, 4.0]).sum(-1)
    np.testing.assert_allclose(predictor(array), 1.0 / depth, rtol=1e-6)
    assert Predictor(PixelwiseDepth()).output_kind == "depth"


def test_bf16_autocast_stays_close_to_fp32(tiny_checkpoint):
    array = _image(32, 64)
    fp32 = Predictor.from_checkpoint(tiny_checkpoint, device="cpu")(array)
    bf16 = Predictor.from_checkpoint(tiny_checkpoint, device="cpu", precision="bf16")(array)
    assert bf16.dtype == np.float32
    relative = np.abs(bf16 - fp32) / fp32
    assert 0 < relative.max() < 0.1  # bf16 has 8 bits of mantissa: visible but small changes


def test_channels_last_matches(tiny_checkpoint):
    array = _image(32, 64)
    plain = Predictor.from_checkpoint(tiny_checkpoint)(array)
    fast = Predictor.from_checkpoint(tiny_checkpoint, channels_last=True)(array)
    np.testing.assert_allclose(fast, plain, rtol=1e-5, atol=1e-5)


# Small but complete versions of each registered depth architecture (random weights).
TINY_KWARGS = {
    "unet": {"width": 4, "depth": 2},
    "conv_autoencoder": {"width": 4, "depth": 2},
    "encoder_decoder": {"backbone": "resnet18", "pretrained": False},
    "monodepth2": {"num_layers": 18, "pretrained": False},
    "packnet": {"channels": (16, 16, 16, 32, 32, 32), "features_3d": 2},
}
NOT_DEPTH = {"patchgan"}  # the GAN discriminator: image + depth in, patch scores out


@pytest.mark.parametrize("name", [n for n in list_models() if n not in NOT_DEPTH])
def test_every_registered_depth_model_runs_through_the_predictor(name):
    torch.manual_seed(0)
    model = create_model(name, **TINY_KWARGS.get(name, {}))
    predictor = Predictor(model, resolution="input", flip=True, device="cpu")
    for size in [(45, 70), (64, 96)]:
        depth = predictor(_image(*size))
        assert depth.shape == size, name
        assert np.isfinite(depth).all() and (depth > 0).all(), name


def test_self_supervised_mono_checkpoint_gives_disparity(tmp_path):
    from infer_helpers import write_checkpoint
    from monodepthkit.tasks.self_supervised import SelfSupervisedTask

    torch.manual_seed(0)
    task = SelfSupervisedTask(depth_model="monodepth2", mode="mono").eval()
    assert task.is_metric is False
    path = write_checkpoint(task, tmp_path / "mono.ckpt", image_size=(64, 96))
    predictor = Predictor.from_checkpoint(path)
    assert predictor.output_kind == "disparity"
    image = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        expected = 1.0 / task(image)["depth"][0, 0]
    np.testing.assert_allclose(predictor(image[0]), expected.numpy(), rtol=1e-5)
