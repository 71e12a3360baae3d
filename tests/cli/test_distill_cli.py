"""Distillation and self-supervised adaptation of foundation models through `mdk fit`, then
`mdk predict` on the student's checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from monodepthkit.cli import main
from monodepthkit.tasks import DistillationTask, SelfSupervisedTask
from monodepthkit.tasks.loading import load_task

pytest.importorskip("transformers")

FOUNDATION = Path(__file__).resolve().parents[2] / "configs" / "foundation"
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def _fit(root: Path, name: str, *extra: str) -> Path:
    stack = ["--config", str(FOUNDATION / f"{name}.yaml")]
    stack += ["--config", str(FOUNDATION / f"{name}_twin.yaml")]
    assert main(["fit", *stack, *QUIET, "--trainer.default_root_dir", str(root), *extra]) == 0
    return root / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"


@pytest.mark.slow
def test_distill_config_trains_and_its_student_predicts(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    monkeypatch.chdir(tmp_path)  # the twin caches its world under ./.cache
    checkpoint = _fit(tmp_path / "run", "distill")
    saved = torch.load(checkpoint, weights_only=False)
    assert saved["global_step"] == 2
    # The checkpoint holds the student only; loading it never builds the teacher.
    assert all(key.startswith("net.") for key in saved["state_dict"])
    task = load_task(checkpoint)
    assert isinstance(task, DistillationTask) and task._teacher == []
    assert type(task.net).__name__ == "Monodepth2"
    assert not task.is_metric and task.predicts_disparity

    world = tmp_path / ".cache" / "synthetic" / "twin_driving_distill"
    images = sorted(world.glob("*/image/*.png"))[:2]
    out = tmp_path / "pred"
    args = ["predict", *map(str, images), "--checkpoint", str(checkpoint), "--out", str(out)]
    assert main([*args, "--format", "npy", "--no-progress"]) == 0
    written = sorted(out.rglob("*.npy"))
    assert len(written) == 2
    prediction = np.load(written[0])
    assert prediction.shape == (48, 160) and np.isfinite(prediction).all()
    assert prediction.min() > 0 and prediction.std() > 0


@pytest.mark.slow
def test_selfsup_adapt_config_trains_a_foundation_depth_net(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    monkeypatch.chdir(tmp_path)
    checkpoint = _fit(tmp_path / "run", "selfsup_adapt", "--trainer.max_steps", "1")
    task = load_task(checkpoint)
    assert isinstance(task, SelfSupervisedTask) and task.num_scales == 1
    assert task.hparams.depth_model == "depth_anything_v2"
    assert task.net.depth_range == (0.1, 100.0)
    assert bool(task.net.calibrated)  # random weights: saved as needing no calibration
    saved = torch.load(checkpoint, weights_only=False)
    lrs = [group["lr"] for group in saved["optimizer_states"][0]["param_groups"]]
    assert lrs == pytest.approx([1e-5, 1e-4, 1e-4])  # encoder, head, pose network


@pytest.mark.slow
def test_adapt_then_distill_the_adapted_model_into_a_student(tmp_path, monkeypatch):
    """The README's journey: adapt a foundation model to unlabelled video, distil the adapted
    model (its checkpoint as the teacher) into a Monodepth2 student, predict with the student."""
    monkeypatch.setattr(sys, "argv", ["mdk"])
    monkeypatch.chdir(tmp_path)
    adapted = _fit(tmp_path / "adapt", "selfsup_adapt", "--trainer.max_steps", "1")
    student = _fit(
        tmp_path / "distill", "distill", "--model.init_args.teacher_checkpoint", str(adapted)
    )
    task = load_task(student)
    # The adapted model is monocular (relative): the student learns with ssi, and its
    # checkpoint names the resolved kind, so it loads without the teacher file.
    assert task.hparams.teacher_checkpoint == str(adapted) and task.loss_name == "ssi"
    assert task.hparams.teacher_kind == "relative" and task._teacher == []
    adapted.unlink()
    world = tmp_path / ".cache" / "synthetic" / "twin_driving_distill"
    image = sorted(world.glob("*/image/*.png"))[0]
    out = tmp_path / "pred"
    args = ["predict", str(image), "--checkpoint", str(student), "--out", str(out)]
    assert main([*args, "--format", "npy", "--no-progress"]) == 0
    prediction = np.load(next(out.rglob("*.npy")))
    assert prediction.shape == (48, 160) and np.isfinite(prediction).all()
