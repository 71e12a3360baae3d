"""The foundation families through `mdk fit`, `mdk predict`, `mdk eval` and `mdk compare`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from monodepthkit.cli import main
from monodepthkit.tasks.loading import load_task

pytest.importorskip("transformers")

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
FOUNDATION = CONFIGS / "foundation"
CLASSIC_TWIN = CONFIGS / "synthetic" / "nyu_twin.yaml"
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def _fit(tmp_path: Path, name: str, configs: list[Path], *extra: str) -> Path:
    root = tmp_path / name
    args = ["fit", *[arg for path in configs for arg in ("--config", str(path))]]
    args += [*QUIET, "--trainer.default_root_dir", str(root), *extra]
    assert main(args) == 0
    return root / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"


@pytest.mark.slow
@pytest.mark.parametrize("world", ["nyu", "kitti"])
def test_finetune_twin_trains_with_the_encoder_learning_rate(tmp_path, monkeypatch, world):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    monkeypatch.chdir(tmp_path)  # the twin caches its world under ./.cache
    stack = [FOUNDATION / f"{world}_finetune.yaml", FOUNDATION / f"{world}_twin.yaml"]
    checkpoint = _fit(tmp_path, "run", stack)
    task = load_task(checkpoint)
    assert task.is_metric and task.hparams.loss == "silog"
    assert task.hparams.model_kwargs["encoder_lr_scale"] == 0.1
    saved = torch.load(checkpoint, weights_only=False)
    assert saved["global_step"] == 3
    lrs = [group["lr"] for group in saved["optimizer_states"][0]["param_groups"]]
    assert lrs == pytest.approx([5e-6, 5e-5])  # encoder, head
    # The trained weights moved away from the initial ones, encoder included.
    initial = type(task.net)(task.net.family, task.net.variant)
    assert not torch.equal(next(task.net.encoder.parameters()), next(initial.encoder.parameters()))


@pytest.mark.slow
def test_relative_model_predicts_evaluates_aligned_and_compares(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    monkeypatch.chdir(tmp_path)
    relative = ["--model.init_args.model_kwargs", json.dumps({"variant": "tiny"})]
    stack = [FOUNDATION / "nyu_finetune.yaml", FOUNDATION / "nyu_twin.yaml"]
    checkpoint = _fit(tmp_path, "da", stack, *relative, "--trainer.max_steps", "1")
    task = load_task(checkpoint)
    assert not task.is_metric and task.predicts_disparity
    data = tmp_path / ".cache" / "synthetic" / "twin_indoor"

    # mdk predict: a relative model writes a disparity at the image's size.
    images = sorted(data.glob("*/image/*.png"))[:2]
    out = tmp_path / "pred"
    args = ["predict", *map(str, images), "--checkpoint", str(checkpoint), "--out", str(out)]
    assert main([*args, "--format", "npy", "--no-progress"]) == 0
    written = sorted(out.rglob("*.npy"))
    assert len(written) == 2
    assert np.load(written[0]).shape == (96, 128)

    # mdk eval: median by default for a relative model; scale and shift in disparity on request.
    scores = {}
    for align in (None, "scale_shift_disp", "none"):
        folder = tmp_path / f"eval_{align}"
        args = ["eval", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(folder)]
        assert main([*args, *(["--align", align] if align else [])]) == 0
        scores[align] = json.loads((folder / "metrics.json").read_text())
    assert scores[None]["count"] > 0
    # An untrained relative depth is off by a large factor until it is aligned (measured:
    # AbsRel 0.557 unaligned against 0.169 median-scaled).
    assert scores["none"]["abs_rel"] > 2 * scores[None]["abs_rel"]
    assert scores["scale_shift_disp"]["abs_rel"] < 1.0 and scores[None]["abs_rel"] < 1.0
    assert scores["scale_shift_disp"]["abs_rel"] != scores[None]["abs_rel"]

    # mdk compare: the foundation checkpoint next to a classic one (report 3's U-Net, its twin).
    # One alignment for the whole table (compare's default is none): median for both.
    classic = _fit(
        tmp_path,
        "unet",
        [CONFIGS / "report3" / "base.yaml", CONFIGS / "report3" / "silog.yaml", CLASSIC_TWIN],
        "--trainer.max_steps",
        "1",
    )
    table = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                str(checkpoint),
                str(classic),
                "--data",
                str(data),
                "--align",
                "median",
                "--norm-depth",
                "10",
                "--out",
                str(table),
            ]
        )
        == 0
    )
    rows = json.loads((table / "compare.json").read_text())
    assert len(rows) == 2 and all(row["metrics"]["count"] > 0 for row in rows)
    assert rows[0]["metrics"]["abs_rel"] == pytest.approx(scores[None]["abs_rel"], rel=1e-6)
