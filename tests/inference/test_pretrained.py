"""Model folders: save_pretrained / from_pretrained round trip and the model card."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monodepthkit import MdkError, Predictor


def test_round_trip_gives_identical_outputs_and_a_card(tiny_checkpoint, tmp_path):
    (tiny_checkpoint.parent / "metrics.json").write_text(json.dumps({"unet": {"abs_rel": 0.125}}))
    original = Predictor.from_checkpoint(tiny_checkpoint)
    folder = original.save_pretrained(tmp_path / "model", intended_use="Unit tests only.")
    assert {p.name for p in folder.iterdir()} >= {"model.safetensors", "config.json", "README.md"}
    config = json.loads((folder / "config.json").read_text())
    assert config["task_class"] == "monodepthkit.tasks.supervised.SupervisedTask"
    assert config["hyper_parameters"]["model_kwargs"]["width"] == 4
    assert config["input_size"] == [32, 64] and config["is_metric"] is True

    loaded = Predictor.from_pretrained(folder)
    image = np.random.default_rng(0).integers(0, 256, (41, 83, 3), dtype=np.uint8)
    np.testing.assert_array_equal(loaded(image), original(image))
    np.testing.assert_array_equal(loaded.intrinsics, original.intrinsics)
    assert Predictor.load(folder).input_size == (32, 64)
    onnx_loaded = Predictor.load(folder, backend="onnxruntime")
    assert onnx_loaded.backend == "onnxruntime"
    np.testing.assert_allclose(onnx_loaded(image), original(image), atol=1e-4)

    card = (folder / "README.md").read_text()
    for text in (
        "library_name: monodepthkit",
        "## Architecture",
        "`unet`",
        "## Training data",
        "synthetic world (driving preset)",
        "| | abs_rel |",
        "| unet | 0.125 |",
        "Unit tests only.",
        "Predictor.from_pretrained",
    ):
        assert text in card, text
    (tiny_checkpoint.parent / "metrics.json").unlink()


def test_missing_sources_are_explained(tmp_path):
    with pytest.raises(MdkError, match=r"not found; give a \.ckpt checkpoint"):
        Predictor.load(tmp_path / "nothing.ckpt")
