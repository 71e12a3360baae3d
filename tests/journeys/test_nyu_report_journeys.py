"""Reports 2-4 as a user runs them: nyu_depth_v2_labeled.mat as downloaded -> `mdk data prepare`
-> `mdk fit` with the shipped config -> `mdk eval --checkpoint` -> `mdk predict`, all through
`main()`, from the folder the README says to run them in; the evaluation is checked against the
NYU protocol computed by hand on the written files."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from data.test_nyu_labeled import write_labeled_mat
from eval.test_eval_journeys import assert_metrics, nyu_by_hand
from monodepthkit.cli import main
from test_configs import REPORTS, config_args


def _last_checkpoint() -> Path:
    checkpoints = sorted(Path("runs").rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)
    assert checkpoints, "mdk fit wrote no last.ckpt"
    return checkpoints[-1]


def test_prepare_report2_splits_the_mat_1049_200_200_scaled(tmp_path, monkeypatch, capsys):
    write_labeled_mat(tmp_path / "NYU" / "nyu_depth_v2_labeled.mat", frames=12)
    monkeypatch.chdir(tmp_path)
    assert main(["data", "prepare", "report2", "--root", "NYU"]) == 0
    # 200 / 1449 of 12 frames is 1.66: 2 validation and 2 test frames, 8 training frames
    assert "wrote the NYU labelled pairs to data/nyu_labeled (test 2, train 8, val 2)" in (
        capsys.readouterr().out
    )
    depth = cv2.imread("data/nyu_labeled/nyu/depth/0001.png", cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.shape == (480, 640)
    assert depth[0, 0] == 500  # frame_pattern's 0.5 m at (0, 0), in millimetres


@pytest.mark.slow
@pytest.mark.parametrize(
    "config",
    ["report2/unet", "report3/silog", "report4/packnet_A"],
)
def test_nyu_report_journey(config, tmp_path, monkeypatch, capsys):
    write_labeled_mat(tmp_path / "NYU" / "nyu_depth_v2_labeled.mat", frames=12)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["mdk"])
    recipe = config.split("/")[0]
    assert main(["data", "prepare", recipe, "--root", "NYU"]) == 0

    # The shipped configs (base + variant), at a CPU-sized resolution and batch for 2 steps.
    fit = ["fit", *config_args(REPORTS[config]), "--trainer.max_steps", "2"]
    fit += ["--data.image_size", "[96, 128]", "--data.batch_size", "2"]
    fit += ["--data.num_workers", "0", "--trainer.enable_progress_bar", "false"]
    assert main(fit) == 0
    checkpoint = _last_checkpoint()

    argv = ["eval", "--checkpoint", str(checkpoint), "--dataset", "folder"]
    argv += ["--root", "data/nyu_labeled", "--split", "test", "--protocol", "nyu"]
    assert main([*argv, "--save-pred", "preds", "--out", "runs/eval"]) == 0
    names = [
        line.split()[1]
        for line in Path("data/nyu_labeled/splits/test.txt").read_text().splitlines()
    ]
    preds = [np.load(next(Path("preds").rglob(f"{name}.npy"))) for name in names]
    gts = [
        cv2.imread(f"data/nyu_labeled/nyu/depth/{name}.png", cv2.IMREAD_UNCHANGED) / 1000.0
        for name in names
    ]
    assert all(pred.shape == (480, 640) for pred in preds)  # at the ground truth's resolution
    assert_metrics(Path("runs/eval/metrics.json"), nyu_by_hand(preds, gts))

    # mdk predict on the same images writes the same depth as the evaluation saw.
    images = [f"data/nyu_labeled/nyu/image/{name}.png" for name in names]
    assert main(["predict", "--checkpoint", str(checkpoint), "--out", "predicted", *images]) == 0
    for name, pred in zip(names, preds, strict=True):
        np.testing.assert_allclose(
            np.load(next(Path("predicted").rglob(f"{name}*.npy"))), pred, rtol=1e-5
        )
