"""Report 5 as a user runs it: KITTI raw as unzipped (with Monodepth2's split files in
KITTI/splits) -> `mdk fit` with the shipped mono config -> `mdk eval --checkpoint` on the Eigen
split (median scaling) -> `mdk predict`, through `main()`; the evaluation is checked against the
KITTI protocol computed by hand on `mdk data kitti-gt`'s ground truth and the predictions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from eval.test_eval_journeys import DATE, DRIVES, assert_metrics, kitti_by_hand, write_kitti_replica
from monodepthkit.cli import main
from test_configs import REPORTS, config_args, offline_args


@pytest.mark.slow
def test_report5_mono_journey(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["mdk"])
    root = write_kitti_replica(Path("data/kitti_raw"), frames=3)
    for split in ("train", "val"):  # frame 1 of each drive has both neighbours
        path = root / "splits" / "eigen_zhou" / f"{split}_files.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{DATE}/{drive} 1 l\n" for drive in DRIVES))

    # The shipped config with random weights (no hub here), at a CPU size for 2 steps.
    stack = REPORTS["report5/kitti_mono"]
    fit = ["fit", *config_args(stack), "--trainer.max_steps", "2"]
    fit += offline_args(stack)
    fit += ["--data.image_size", "[64, 224]", "--data.batch_size", "2"]
    fit += ["--data.num_workers", "0", "--trainer.enable_progress_bar", "false"]
    assert main(fit) == 0
    checkpoint = sorted(Path("runs").rglob("last.ckpt"))[-1]

    argv = ["eval", "--checkpoint", str(checkpoint), "--dataset", "kitti", "--root", str(root)]
    assert main([*argv, "--split", "eigen", "--out", "runs/eigen"]) == 0
    measured = json.loads(Path("runs/eigen/metrics.json").read_text())
    assert measured["align"] == "median" and measured["count"] == 2  # relative model

    assert (
        main(["data", "kitti-gt", "--root", str(root), "--split", "eigen", "--out", "gt.npz"]) == 0
    )
    gts = list(np.load("gt.npz", allow_pickle=True)["data"])
    argv = ["predict", str(root), "--checkpoint", str(checkpoint), "--out", "preds"]
    assert main([*argv, "--format", "npy", "--no-progress"]) == 0  # the tree, names kept
    disparities = [
        np.load(Path("preds") / DATE / drive / "image_02" / "data" / "0000000000.npy")
        for drive in DRIVES
    ]
    assert disparities[0].shape == gts[0].shape  # written at the image's 1242x375
    by_hand = kitti_by_hand([1 / d for d in disparities], gts, median=True)
    assert_metrics(Path("runs/eigen/metrics.json"), by_hand, rel=1e-6)
