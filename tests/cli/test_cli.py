"""End-to-end runs of the `mdk` command on tiny data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from monodepthkit import Predictor
from monodepthkit.cli import main
from monodepthkit.data.io import read_depth_png, write_depth_png
from monodepthkit.data.synthetic import PRESETS
from monodepthkit.errors import MdkError
from monodepthkit.eval import METRIC_KEYS
from monodepthkit.inference.metadata import INTRINSICS_KEY

MDK = [sys.executable, "-m", "monodepthkit.cli"]


def _config(tmp_path: Path, world: Path, **trainer) -> Path:
    config = {
        "seed_everything": 0,
        "model": {
            "class_path": "monodepthkit.tasks.SupervisedTask",
            "init_args": {"model_kwargs": {"width": 4, "depth": 2, "max_depth": 80.0}, "lr": 1e-3},
        },
        "data": {"dataset": "folder", "root": str(world), "batch_size": 2, "num_workers": 0},
        "trainer": {
            "accelerator": "cpu",
            "max_steps": 3,
            "limit_val_batches": 1,
            "default_root_dir": str(tmp_path / "runs"),
            "enable_progress_bar": False,
            "enable_model_summary": False,
            **trainer,
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [*MDK, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("fit", "validate", "test", "eval", "data", "demo", "models"):
        assert command in text
    for args in (["eval", "--help"], ["data", "synth", "--help"], ["demo", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 0
        assert "usage: mdk" in capsys.readouterr().out


def test_data_synth_writes_the_folder_format(tmp_path, capsys):
    out = tmp_path / "indoor"
    args = ["data", "synth", "--preset", "indoor", "--out", str(out), "--sequences", "3"]
    args += ["--frames", "2", "--width", "64", "--height", "48", "--workers", "1"]
    assert main(args) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["preset"] == "indoor" and meta["width"] == 64
    depth = read_depth_png(out / "seq_0000" / "depth" / "000000.png")
    assert depth.shape == (48, 64) and depth[depth > 0].min() > 0.3 and depth.max() <= 10.0
    assert (out / "splits" / "test.txt").read_text().strip()


def test_fit_saves_config_and_resumes(tmp_path, tiny_world, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    config = _config(tmp_path, tiny_world)
    assert main(["fit", "--config", str(config)]) == 0
    run = tmp_path / "runs" / "lightning_logs" / "version_0"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["init_args"]["model_kwargs"]["width"] == 4  # the resolved config
    last = run / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == 3
    # The training data's camera is in the checkpoint (a folder dataset: no preset to fall back
    # on), at the size of its images, for the Predictor's point clouds.
    camera = torch.load(last, weights_only=False)[INTRINSICS_KEY]
    assert camera["image_size"] == [48, 128]
    np.testing.assert_allclose(camera["K"], PRESETS["driving"].camera_matrix(128, 48), rtol=1e-6)
    predictor = Predictor.from_checkpoint(last)
    np.testing.assert_allclose(
        predictor.intrinsics_for((96, 256)), PRESETS["driving"].camera_matrix(256, 96), rtol=1e-6
    )
    assert (run / next(p.name for p in run.iterdir() if p.name.startswith("events.out"))).is_file()

    args = ["fit", "--config", str(config), "--trainer.max_steps", "5", "--ckpt_path", str(last)]
    assert main(args) == 0
    resumed = run / "checkpoints" / "last.ckpt"  # the same run folder: the curves continue
    assert torch.load(resumed, weights_only=False)["global_step"] == 5  # continued, not restarted

    out = tmp_path / "eval"
    assert (
        main(["eval", "--checkpoint", str(resumed), "--data", str(tiny_world), "--out", str(out)])
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(METRIC_KEYS) <= set(metrics) and metrics["count"] > 0
    rows = (out / "per_image.csv").read_text().splitlines()
    assert len(rows) == metrics["count"] + 1


def test_eval_saved_predictions(tmp_path, tiny_world, capsys):
    gt_dir, pred_dir = tiny_world / "seq_0000" / "depth", tmp_path / "pred"
    pred_dir.mkdir()
    for path in sorted(gt_dir.glob("*.png")):
        gt = read_depth_png(path)
        np.save(pred_dir / f"{path.stem}.npy", np.where(gt > 0, gt * 1.7, 5.0).astype(np.float32))
    out = tmp_path / "out"
    args = ["eval", "--pred", str(pred_dir), "--gt", str(gt_dir), "--align", "median"]
    assert main([*args, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["abs_rel"] < 1e-6 and metrics["d1"] == 1.0
    assert "| pred |" in capsys.readouterr().out
    assert main([*args[:-2], "--align", "none", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["abs_rel"] == pytest.approx(0.7, abs=1e-3)


# --- bad input: one line, non-zero exit, no traceback unless --debug --------------------------


def _one_line_error(capsys, args: list[str], pattern: str) -> None:
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1, err
    assert pattern in err[0], err[0]


def test_missing_data_folder(tmp_path, tiny_world, capsys):
    pred, gt, out = (
        str(tmp_path / "preds"),
        str(tiny_world / "seq_0000" / "depth"),
        str(tmp_path / "o"),
    )
    _one_line_error(
        capsys,
        ["eval", "--pred", pred, "--gt", gt, "--out", out],
        "preds: prediction folder not found",
    )
    ckpt = str(tmp_path / "missing.ckpt")
    _one_line_error(
        capsys,
        ["eval", "--checkpoint", ckpt, "--data", gt, "--out", out],
        "missing.ckpt: checkpoint not found",
    )


def test_unknown_config_key(tmp_path, tiny_world, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    config = _config(tmp_path, tiny_world)
    text = config.read_text().replace("batch_size: 2", "batch_size: 2\n  batchsize: 4")
    config.write_text(text)
    _one_line_error(capsys, ["fit", "--config", str(config)], "batchsize")
    config.write_text(text.replace("  batchsize: 4\n", "").replace("width: 4", "widht: 4"))
    _one_line_error(capsys, ["fit", "--config", str(config)], "unexpected keyword argument 'widht'")


def test_bad_files_in_training_data(tmp_path, capsys, monkeypatch):
    from conftest import write_tree

    monkeypatch.setattr(sys, "argv", ["mdk"])
    data = write_tree(tmp_path / "data")
    text = yaml.safe_load(_config(tmp_path, data).read_text())
    for split in ("train", "val", "test"):
        text["data"][f"{split}_split"] = "all"
    config = tmp_path / "all.yaml"
    config.write_text(yaml.safe_dump(text))
    args = ["fit", "--config", str(config)]

    _one_line_error(
        capsys, [*args, "--data.root", str(tmp_path / "gone")], "gone: data folder not found"
    )
    write_depth_png(data / "depth" / "000002.png", np.ones((10, 10)))
    _one_line_error(
        capsys, args, "000002.png: depth is 10x10 (WxH) but its image 000002.png is 32x24"
    )
    (data / "depth" / "000001.png").unlink()
    _one_line_error(capsys, args, "000001.png: image has no depth map")
    (data / "image" / "000001.png").write_bytes(b"garbage")
    _one_line_error(capsys, args, "000001.png: expected an image")


def test_subprocess_error_has_no_traceback_unless_debug(tmp_path):
    result = _run(
        ["eval", "--pred", str(tmp_path / "nope"), "--gt", str(tmp_path), "--out", str(tmp_path)]
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "nope" in result.stderr
    debug = _run(
        [
            "--debug",
            "eval",
            "--pred",
            str(tmp_path / "nope"),
            "--gt",
            str(tmp_path),
            "--out",
            str(tmp_path),
        ]
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_debug_reraises(tmp_path):
    with pytest.raises(MdkError):
        main(
            [
                "--debug",
                "eval",
                "--checkpoint",
                str(tmp_path / "x.ckpt"),
                "--data",
                str(tmp_path),
                "--out",
                str(tmp_path),
            ]
        )


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path, tiny_world):
    config = _config(tmp_path, tiny_world, max_steps=2, limit_val_batches=1)
    result = _run(
        ["fit", "--config", str(config), "--trainer.devices", "2", "--trainer.strategy", "ddp"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = tmp_path / "runs" / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    state = torch.load(checkpoint, weights_only=False)
    assert state["global_step"] == 2
    assert "world_size=2" in result.stderr or "GLOBAL_RANK: 1" in result.stderr + result.stdout
