"""Export: ONNX and TorchScript match PyTorch, at a second size too (dynamic axes)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from infer_helpers import REALDATA_IMAGE
from monodepthkit import Predictor
from monodepthkit.inference.export import export_model, format_checks
from monodepthkit.inference.metadata import read_onnx_metadata


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    return Predictor.from_checkpoint(tiny_checkpoint)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_matches_pytorch_at_two_sizes(predictor, tmp_path, fmt):
    path = tmp_path / ("model.onnx" if fmt == "onnx" else "model.pt")
    report = export_model(predictor, path, fmt)
    assert report["dynamic_size"] is True and path.is_file()
    checks = {check["input"]: check for check in report["checks"]}
    assert set(checks) == {"random", "gradient image", "random, second size"}
    assert checks["random, second size"]["shape"] == [3, 3, 64, 128]  # 32x64 + (32, 64)
    for check in checks.values():
        assert check["ok"] and check["max_abs_diff"] < 1e-4, check
    assert "max abs diff vs PyTorch" in format_checks(report)

    # Independently of the check: run the file at a third size and batch and compare.
    image = torch.rand(2, 3, 40, 72)
    with torch.no_grad():
        expected = predictor.net(image).numpy()
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path))
        assert [i.name for i in session.get_inputs()] == ["image"]
        assert session.get_outputs()[0].name == "depth"
        actual = session.run(None, {"image": image.numpy()})[0]
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            actual = torch.jit.load(str(path))(image).detach().numpy()
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=1e-5)


def test_onnx_predictor_matches_pytorch_predictor(predictor, tmp_path):
    export_model(predictor, tmp_path / "model.onnx", "onnx", verify=False)
    meta = read_onnx_metadata(tmp_path / "model.onnx")
    assert meta["output_kind"] == "depth" and meta["input_size"] == [32, 64]
    assert meta["dynamic_size"] is True and meta["info"]["model"] == "unet"
    onnx_predictor = Predictor.load(tmp_path / "model.onnx")
    assert onnx_predictor.backend == "onnxruntime" and onnx_predictor.input_size == (32, 64)
    image = np.random.default_rng(0).integers(0, 256, (50, 90, 3), dtype=np.uint8)
    for flip in (False, True):
        np.testing.assert_allclose(
            onnx_predictor(image, flip=flip), predictor(image, flip=flip), atol=1e-4, rtol=1e-5
        )
    np.testing.assert_allclose(
        onnx_predictor.intrinsics_for((48, 128)), predictor.intrinsics_for((48, 128))
    )


def test_static_export_runs_at_its_size(predictor, tmp_path):
    report = export_model(predictor, tmp_path / "static.onnx", "onnx", size=(32, 64), dynamic=False)
    assert report["dynamic_size"] is False
    assert [check["input"] for check in report["checks"]] == ["random", "gradient image"]
    static = Predictor.from_onnx(tmp_path / "static.onnx")
    assert static.resolution == (32, 64)
    image = np.random.default_rng(1).integers(0, 256, (45, 77, 3), dtype=np.uint8)
    np.testing.assert_allclose(static(image), predictor(image), atol=1e-4, rtol=1e-5)


@pytest.mark.skipif(
    not REALDATA_IMAGE.is_file(), reason=f"{REALDATA_IMAGE} (shared realdata) absent"
)
def test_export_check_on_a_real_kitti_frame(predictor, tmp_path):
    report = export_model(predictor, tmp_path / "m.pt", "torchscript", real_image=REALDATA_IMAGE)
    real = [c for c in report["checks"] if c["input"] == REALDATA_IMAGE.name]
    assert len(real) == 1 and real[0]["ok"]


def test_checkpoint_with_onnxruntime_backend_matches_pytorch(tiny_checkpoint, predictor):
    onnx_predictor = Predictor.from_checkpoint(tiny_checkpoint, backend="onnxruntime", flip=True)
    assert onnx_predictor.backend == "onnxruntime" and onnx_predictor.flip
    image = np.random.default_rng(2).integers(0, 256, (33, 65, 3), dtype=np.uint8)
    np.testing.assert_allclose(onnx_predictor(image), predictor(image, flip=True), atol=1e-4)


class _SmallOutput(torch.nn.Module):
    """Disparity-like outputs ~1e-2, as a random-weight relative model's."""

    def forward(self, image):
        return {"depth": 0.01 * image.mean(dim=1, keepdim=True) + 1e-3}


def test_other_size_check_is_relative_to_the_output():
    from monodepthkit.inference.runners import InferenceNet, works_at_other_size

    net = InferenceNet(_SmallOutput()).eval()
    assert works_at_other_size(net, net, (32, 64))
    # 2 % off: a graph that froze its internal resolution; an absolute 1e-3 passed it
    assert not works_at_other_size(lambda image: net(image) * 1.02, net, (32, 64))


def test_a_model_that_declares_fixed_traced_sizes_is_exported_at_its_size(tmp_path):
    from monodepthkit.inference.runners import InferenceNet, traces_dynamic_size, write_onnx

    model = _SmallOutput()
    net = InferenceNet(model).eval()
    assert traces_dynamic_size(net)
    assert write_onnx(net, tmp_path / "dynamic.onnx", (32, 64), 17) is True
    model.traces_dynamic_size = False
    assert not traces_dynamic_size(net)
    assert write_onnx(net, tmp_path / "fixed.onnx", (32, 64), 17) is False
    import onnx

    axes = onnx.load(str(tmp_path / "fixed.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert [axis.dim_param or axis.dim_value for axis in axes] == ["batch", 3, 32, 64]
