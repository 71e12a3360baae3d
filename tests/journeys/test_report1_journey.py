"""Report 1's journey: KITTI raw as downloaded -> `mdk data prepare report1` -> `mdk fit` with the
shipped config, unedited, from the folder the README says to run it in."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import REALDATA
from eval.test_eval_journeys import assert_metrics, kitti_by_hand
from monodepthkit.cli import main
from monodepthkit.data.io import read_depth_png, read_matrix, read_rgb, write_rgb
from monodepthkit.data.prepare import prepare_report1
from monodepthkit.errors import MdkError
from test_configs import REPORTS, config_args

RAW_CALIB = REALDATA / "kitti_raw_calib" / "2011_09_26"
OBJECT_FRAMES = REALDATA / "kitti_object_frames"
DATE = "2011_09_26"
HEIGHT, WIDTH = 375, 1242  # S_rect_02 of the 2011_09_26 calibration


def read_png16(path: Path) -> np.ndarray:
    """A 16-bit PNG as read by OpenCV, independent of the project's readers."""
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.float64)


def write_raw_replica(root: Path, drives: int = 2, frames: int = 3) -> Path:
    """KITTI raw as unzipped: real 2011_09_26 calibration, real HDL-64 scans and real images.

    The scans and images are the three KITTI object frames of ../shared/realdata (the raw drives'
    images are not in it); images are resized to the raw drives' 1242x375.
    """
    if not RAW_CALIB.is_dir() or not OBJECT_FRAMES.is_dir():
        pytest.skip(f"real KITTI data not found under {REALDATA} (see its SOURCES.md)")
    date = root / DATE
    date.mkdir(parents=True)
    for name in ("calib_cam_to_cam.txt", "calib_velo_to_cam.txt"):
        (date / name).write_bytes((RAW_CALIB / name).read_bytes())
    sources = sorted((OBJECT_FRAMES / "velodyne").glob("*.bin"))
    for d in range(drives):
        drive = date / f"{DATE}_drive_{d + 1:04d}_sync"
        for frame in range(frames):
            stem = f"{frame:010d}"
            source = sources[(d + frame) % len(sources)]
            image = read_rgb(OBJECT_FRAMES / "image_2" / f"{source.stem}.png")
            image = cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
            for camera in (2, 3):
                write_rgb(drive / f"image_0{camera}" / "data" / f"{stem}.png", image)
            scan = drive / "velodyne_points" / "data" / f"{stem}.bin"
            scan.parent.mkdir(parents=True, exist_ok=True)
            scan.write_bytes(source.read_bytes())
    return root


def test_prepare_report1_writes_the_configs_layout(tmp_path):
    kitti = write_raw_replica(tmp_path / "kitti", drives=2, frames=5)
    out = tmp_path / "kitti_ipbasic"
    summary = prepare_report1(kitti, out, num_pairs=8, seed=0, workers=2, progress=False)
    assert summary["available"] == 10 and summary["pairs"] == 8
    # cumulative bounds round(0.6 x 8) = 5 and round(0.8 x 8) = 6
    assert summary["splits"] == {"train": 5, "val": 1, "test": 2}
    splits = {
        name: (out / "splits" / f"{name}.txt").read_text().splitlines()
        for name in ("train", "val", "test")
    }
    every = [line for lines in splits.values() for line in lines]
    assert len(set(every)) == 8  # disjoint
    for line in every:
        sequence, frame = line.split()
        assert sequence.startswith(f"{DATE}_drive_") and len(frame) == 10
        image = read_rgb(out / sequence / "image" / f"{frame}.png")
        depth = read_depth_png(out / sequence / "depth" / f"{frame}.png")
        assert image.shape == (128, 416, 3) and depth.shape == (128, 416)
        # Dense below the LiDAR's top beam (IP-Basic extrapolates to the top of the image too).
        assert (depth[64:] > 0).mean() > 0.99
        assert 0.5 < np.median(depth[64:]) < 80
        source = kitti / DATE / sequence / "image_02" / "data" / f"{frame}.png"
        expected = cv2.resize(read_rgb(source), (416, 128), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(image, expected)
    # K at 416x128 by hand: f x s, c' = (c + 0.5) s - 0.5, P_rect_02 of 2011_09_26.
    sx, sy = 416 / 1242, 128 / 375
    K = read_matrix(out / f"{DATE}_drive_0001_sync" / "intrinsics.txt", (3, 3))
    expected_K = [
        [721.5377 * sx, 0, (609.5593 + 0.5) * sx - 0.5],
        [0, 721.5377 * sy, (172.854 + 0.5) * sy - 0.5],
        [0, 0, 1],
    ]
    np.testing.assert_allclose(K, expected_K, rtol=1e-6)
    # The same seed draws and splits the same pairs; another seed does not.
    again = prepare_report1(kitti, tmp_path / "again", num_pairs=8, seed=0, progress=False)
    assert again["splits"] == summary["splits"]
    assert (tmp_path / "again" / "splits" / "test.txt").read_text() == "\n".join(
        splits["test"]
    ) + "\n"
    other = prepare_report1(kitti, tmp_path / "other", num_pairs=8, seed=5, progress=False)
    other_train = (tmp_path / "other" / "splits" / "train.txt").read_text().splitlines()
    assert other["pairs"] == 8 and other_train != splits["train"]


def test_prepare_report1_by_drive_keeps_drives_apart(tmp_path):
    kitti = write_raw_replica(tmp_path / "kitti", drives=3, frames=2)
    out = tmp_path / "out"
    prepare_report1(kitti, out, num_pairs=None, split_by="drive", progress=False)
    drives = {
        name: {
            line.split()[0] for line in (out / "splits" / f"{name}.txt").read_text().splitlines()
        }
        for name in ("train", "val", "test")
    }
    assert drives["train"] and drives["val"] and drives["test"]
    assert not (drives["train"] & drives["val"] or drives["train"] & drives["test"])


def test_prepare_report1_bad_roots(tmp_path):
    with pytest.raises(MdkError, match="no KITTI raw drive found"):
        prepare_report1(tmp_path, tmp_path / "out", progress=False)
    drive = tmp_path / "k" / DATE / f"{DATE}_drive_0001_sync" / "image_02" / "data"
    drive.mkdir(parents=True)
    with pytest.raises(MdkError, match=r"no left image .* with a Velodyne scan"):
        prepare_report1(tmp_path / "k", tmp_path / "out", progress=False)


@pytest.mark.slow
def test_report1_journey_prepare_then_fit_the_shipped_config(tmp_path, monkeypatch, capsys):
    """README chain, unedited config: prepare into data/kitti_ipbasic, then `mdk fit`."""
    kitti = write_raw_replica(tmp_path / "kitti", drives=2, frames=3)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["mdk"])
    args = ["data", "prepare", "report1", "--root", str(kitti), "--pairs", "5", "--workers", "1"]
    assert main(args) == 0
    assert "wrote 5 of 6 pairs to data/kitti_ipbasic (train 3, val 1, test 1)" in (
        capsys.readouterr().out
    )
    fit = ["fit", *config_args(REPORTS["report1/unet_mse"]), "--trainer.max_steps", "2"]
    fit += ["--trainer.enable_progress_bar", "false", "--data.num_workers", "0"]
    assert main(fit) == 0
    checkpoints = sorted(Path("runs").rglob("last.ckpt"))
    assert checkpoints, "mdk fit wrote no last.ckpt"
    state = torch.load(checkpoints[0], map_location="cpu", weights_only=False)
    assert state["global_step"] == 2
    assert state["hyper_parameters"]["model_kwargs"]["width"] == 64  # the config, not a twin

    # Evaluate on the test split with the KITTI protocol; check it against the hand computation.
    argv = ["eval", "--checkpoint", str(checkpoints[0]), "--dataset", "folder"]
    argv += ["--root", "data/kitti_ipbasic", "--split", "test", "--protocol", "kitti"]
    assert main([*argv, "--save-pred", "preds", "--out", "runs/eval"]) == 0
    entries = Path("data/kitti_ipbasic/splits/test.txt").read_text().split()
    sequence, frame = entries
    pred = np.load(next(Path("preds").rglob(f"{frame}.npy")))
    gt = read_png16(Path("data/kitti_ipbasic") / sequence / "depth" / f"{frame}.png") / 256.0
    assert pred.shape == gt.shape == (128, 416)
    assert_metrics(Path("runs/eval/metrics.json"), kitti_by_hand([pred], [gt], median=False))

    # Report 1's Table 2: the MSE on [0, 1]-normalised depth of each split (README command).
    argv = ["compare", str(checkpoints[0]), "--data", "data/kitti_ipbasic", "--protocol", "kitti"]
    assert main([*argv, "--mse-splits", "train,val,test", "--out", "runs/report1"]) == 0
    table = Path("runs/report1/compare.md").read_text()
    assert "train" in table and "val" in table and "test" in table
