"""Fast CPU paths: ONNX Runtime and OpenVINO float32 match PyTorch, static int8 stays within 1%
AbsRel in both runtimes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from monodepthkit import Predictor
from monodepthkit.cli import main
from monodepthkit.data.synthetic import render_sequence
from monodepthkit.errors import MdkError
from monodepthkit.inference.quantize import compare_quantized, quantize_onnx
from monodepthkit.models import create_model

NET_SIZE = (64, 192)
REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"


class DisparityTask(nn.Module):
    """Monodepth2's depth network as a metric model that predicts through a disparity (as a
    stereo-trained self-supervised task does): its depth is resized as a disparity."""

    is_metric = True
    predicts_disparity = True

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = create_model("monodepth2", num_layers=18, pretrained=False)
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():  # batch norms with non-trivial statistics, so that folding counts
            for module in self.net.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.weight.copy_(0.5 + torch.rand(module.num_features, generator=generator))
                    module.bias.normal_(0, 0.1, generator=generator)
                    module.running_mean.normal_(0, 0.1, generator=generator)
                    module.running_var.copy_(
                        0.5 + torch.rand(module.num_features, generator=generator)
                    )

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"depth": self.net(image)["depth"]}


def _frames(sequence: int, count: int) -> list[np.ndarray]:
    return list(render_sequence("driving", 0, sequence, count, width=208, height=64)["images"])


@pytest.fixture(scope="module")
def predictors(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("quant")
    plain = Predictor(DisparityTask(), input_size=NET_SIZE, device="cpu")
    return {
        "pytorch": plain,
        "onnx": plain.to_onnxruntime(folder / "model.onnx"),
        "int8": plain.to_onnxruntime(
            folder / "model_int8.onnx", quantize=True, calibration_images=_frames(0, 6)
        ),
        "folder": folder,
    }


@pytest.fixture(scope="module")
def openvino_predictors(predictors) -> dict:
    pytest.importorskip("openvino")
    return {
        "onnx": predictors["onnx"].to_onnx(backend="openvino"),
        "int8": predictors["int8"].to_openvino(),
    }


def test_onnxruntime_float_path_matches_pytorch(predictors):
    onnx = predictors["onnx"]
    assert onnx.backend == "onnxruntime" and onnx.resize_as_disparity
    image = _frames(1, 1)[0]  # 64x208: resized to 64x192 and back
    fast, plain = onnx(image), predictors["pytorch"](image)
    assert fast.shape == plain.shape == (64, 208)
    # Disparity (1/m) within 1e-4: the output is resized as a disparity on both paths.
    assert np.abs(1.0 / fast - 1.0 / plain).max() <= 1e-4
    assert np.abs(fast - plain).max() <= 1e-4 * max(1.0, float(np.abs(plain).max()))


def test_openvino_float_path_matches_pytorch_at_two_sizes(predictors, openvino_predictors):
    fast = openvino_predictors["onnx"]
    assert fast.backend == "openvino" and fast.resize_as_disparity
    assert fast.onnx_path == predictors["onnx"].onnx_path  # the same file, another runtime
    image = _frames(1, 1)[0]
    for size in (NET_SIZE, (64, 160)):  # two network shapes
        fast.resolution = size
        reference = Predictor(predictors["pytorch"].model, resolution=size, device="cpu")
        out, plain = fast(image), reference(image)
        assert out.shape == plain.shape == image.shape[:2]
        assert np.abs(1.0 / out - 1.0 / plain).max() <= 1e-4
    assert len(fast.runner._requests) == 2  # compiled once per input shape


def test_openvino_runs_the_int8_file_within_one_percent(predictors, openvino_predictors):
    int8 = openvino_predictors["int8"]
    assert int8.backend == "openvino"
    frames = _frames(2, 3)
    loss = compare_quantized(int8, predictors["pytorch"], frames)
    assert 0.0 < loss["abs_rel"] <= 0.01, loss  # quantised (not float), and within 1%
    # The same quantised network: the two runtimes' int8 kernels round differently, by far
    # less than the quantisation itself.
    between = compare_quantized(int8, predictors["int8"], frames)
    assert between["abs_rel"] <= 0.5 * loss["abs_rel"] + 1e-3, (between, loss)


def test_openvino_missing_is_one_clear_error(predictors, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    with pytest.raises(MdkError, match=r"pip install monodepthkit\[openvino\]"):
        predictors["onnx"].to_onnx(backend="openvino")
    with pytest.raises(MdkError, match="ONNX backend must be one of"):
        predictors["pytorch"].to_onnx(backend="tensorrt")


def test_int8_depth_within_one_percent_abs_rel_on_held_out_frames(predictors):
    import onnx

    model = onnx.load(str(predictors["folder"] / "model_int8.onnx"))
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("DequantizeLinear") > 20 and ops.count("QuantizeLinear") > 10
    convs = [node.name for node in model.graph.node if node.op_type == "Conv"]
    kept = set(_quantization(predictors["int8"].onnx_path)["float_nodes"])
    # The first convolution and the last three (full-resolution decoder stage and disparity
    # head) stay in float, the others are quantised.
    assert {convs[0], *convs[-3:]} <= kept and not kept & set(convs[1:-3])
    loss = compare_quantized(predictors["int8"], predictors["pytorch"], _frames(2, 3))
    assert 0.0 < loss["abs_rel"] <= 0.01, loss  # quantised, and within 1% of float32
    assert loss["max_abs_diff"] > 1e-5


def test_int8_within_one_percent_on_real_frames(predictors):
    kitti = sorted((REALDATA / "kitti_object_frames" / "image_2").glob("*.png"))
    redwood = sorted((REALDATA / "open3d_rgbd" / "color").glob("*.jpg"))
    if not kitti or not redwood:
        pytest.skip(f"real frames not found under {REALDATA} (see its SOURCES.md)")
    for images in (kitti, redwood[:2]):
        loss = compare_quantized(predictors["int8"], predictors["pytorch"], images)
        assert 0.0 < loss["abs_rel"] <= 0.01, (images[0].parent, loss)


def test_quantize_needs_calibration_images(predictors, tmp_path):
    with pytest.raises(MdkError, match="calibration images"):
        quantize_onnx(predictors["folder"] / "model.onnx", tmp_path / "q.onnx", [])
    with pytest.raises(MdkError, match="calibration_images"):
        predictors["pytorch"].to_onnxruntime(quantize=True)


def test_export_quantize_command(tiny_checkpoint, tmp_path, capsys):
    images = tmp_path / "mine"
    images.mkdir()
    for index, frame in enumerate(_frames(3, 3)):
        Image.fromarray(frame).save(images / f"{index}.png")
    out = tmp_path / "model_int8.onnx"
    argv = ["export", "--checkpoint", str(tiny_checkpoint), "--format", "onnx"]
    assert main([*argv, "--out", str(out), "--quantize"]) == 2
    assert "--calibration-images" in capsys.readouterr().err
    assert main([*argv, "--out", str(out), "--quantize", "--calibration-images", str(images)]) == 0
    printed = capsys.readouterr().out
    assert "int8 vs float32 on 3 calibration image(s)" in printed and out.is_file()
    int8 = Predictor.load(out)
    assert int8.backend == "onnxruntime" and _quantization(out)["calibration_images"] == 3
    plain = Predictor.from_checkpoint(tiny_checkpoint)
    assert compare_quantized(int8, plain, [images / "0.png"])["abs_rel"] < 0.05


def test_predict_auto_backend_picks_the_fastest_runtime_for_many_images(
    tiny_checkpoint, tmp_path, capsys
):
    import importlib.util

    expected = "openvino" if importlib.util.find_spec("openvino") else "onnxruntime"
    images = tmp_path / "frames"
    images.mkdir()
    for index, frame in enumerate(_frames(4, 8)):
        Image.fromarray(frame[:, :128]).save(images / f"{index}.png")
    argv = ["predict", str(images), "--checkpoint", str(tiny_checkpoint), "--format", "npy"]
    assert main([*argv, "--out", str(tmp_path / "auto"), "--no-progress"]) == 0
    assert f"backend: {expected} float32" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "torch"), "--backend", "pytorch"]) == 0
    for index in range(8):
        auto = np.load(tmp_path / "auto" / f"{index}.npy")
        plain = np.load(tmp_path / "torch" / f"{index}.npy")
        assert np.abs(auto - plain).max() <= 1e-4 * max(1.0, float(np.abs(plain).max()))


def test_predict_auto_runs_an_onnx_file_in_openvino(predictors, tmp_path, capsys):
    pytest.importorskip("openvino")
    image = tmp_path / "frame.png"
    Image.fromarray(_frames(1, 1)[0]).save(image)
    argv = ["predict", str(image), "--checkpoint", str(predictors["folder"] / "model.onnx")]
    argv += ["--format", "npy", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "auto")]) == 0
    assert "backend: openvino" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "ort"), "--backend", "onnxruntime"]) == 0
    assert "openvino" not in capsys.readouterr().err
    auto, ort = np.load(tmp_path / "auto" / "frame.npy"), np.load(tmp_path / "ort" / "frame.npy")
    assert np.abs(1.0 / auto - 1.0 / ort).max() <= 1e-4


def _quantization(path: Path) -> dict:
    from monodepthkit.inference.metadata import read_onnx_metadata

    return read_onnx_metadata(path)["quantization"]
