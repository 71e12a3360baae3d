"""Evaluation journeys through `mdk` on miniature replicas of the real dataset layouts.

Each test writes a replica (KITTI raw drives with calibration, Velodyne scans, both colour
cameras and KITTI depth's annotated maps; NYU's labelled .mat with splits.mat), runs the
documented commands through `main()` and checks the numbers against the protocol computed here
with numpy from the ground truth and the predictions, following DESIGN.md's protocol text (not
the code under test).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
import torch
import torch.nn.functional as F

from conftest import REALDATA
from monodepthkit.cli import main
from monodepthkit.data.io import read_rgb, write_depth_png, write_rgb
from monodepthkit.errors import MdkError
from monodepthkit.eval.report import PredictionIndex

DATE = "2011_09_26"
DRIVES = (f"{DATE}_drive_0002_sync", f"{DATE}_drive_0009_sync")
KITTI_SIZE = (375, 1242)  # S_rect_02 of the 2011_09_26 calibration
EIGEN_LINES = [f"{DATE}/{drive} 0000000000 l" for drive in DRIVES]  # as in the real Eigen file
METRICS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "d1", "d2", "d3")


# --- the protocol, by hand -----------------------------------------------------------------------


def hand_metrics(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """The nine metrics of DESIGN.md on valid pixels (float64)."""
    pred, gt = pred.astype(np.float64), gt.astype(np.float64)
    ratio = np.maximum(gt / pred, pred / gt)
    d = np.log(pred) - np.log(gt)
    return {
        "abs_rel": np.mean(np.abs(gt - pred) / gt),
        "sq_rel": np.mean((gt - pred) ** 2 / gt),
        "rmse": np.sqrt(np.mean((gt - pred) ** 2)),
        "rmse_log": np.sqrt(np.mean(d**2)),
        "log10": np.mean(np.abs(np.log10(gt) - np.log10(pred))),
        "silog": 100 * np.sqrt(np.mean(d**2) - np.mean(d) ** 2),
        "d1": np.mean(ratio < 1.25),
        "d2": np.mean(ratio < 1.25**2),
        "d3": np.mean(ratio < 1.25**3),
    }


def kitti_by_hand(depths: list[np.ndarray], gts: list[np.ndarray], median: bool) -> dict:
    """KITTI: 1e-3 < gt < 80, Garg crop, per-image median (mono), clamp to [1e-3, 80]."""
    rows = []
    for depth, gt in zip(depths, gts, strict=True):
        height, width = gt.shape
        crop = np.zeros(gt.shape, bool)
        top, bottom = int(0.40810811 * height), int(0.99189189 * height)
        left, right = int(0.03594771 * width), int(0.96405229 * width)
        crop[top:bottom, left:right] = True
        mask = (gt > 1e-3) & (gt < 80) & crop
        pred, truth = depth[mask].astype(np.float64), gt[mask].astype(np.float64)
        if median:
            pred = pred * np.median(truth) / np.median(pred)
        rows.append(hand_metrics(np.clip(pred, 1e-3, 80), truth))
    return {key: float(np.mean([row[key] for row in rows])) for key in METRICS}


def nyu_by_hand(depths: list[np.ndarray], gts: list[np.ndarray]) -> dict:
    """NYU: 1e-3 < gt < 10, Eigen crop rows 45:471 cols 41:601, no alignment, clamp."""
    rows = []
    for depth, gt in zip(depths, gts, strict=True):
        crop = np.zeros(gt.shape, bool)
        crop[45:471, 41:601] = True
        mask = (gt > 1e-3) & (gt < 10) & crop
        rows.append(hand_metrics(np.clip(depth[mask], 1e-3, 10), gt[mask]))
    return {key: float(np.mean([row[key] for row in rows])) for key in METRICS}


def assert_metrics(path: Path, expected: dict, rel: float = 1e-6) -> dict:
    measured = json.loads(Path(path).read_text())
    for key in METRICS:
        assert measured[key] == pytest.approx(expected[key], rel=rel, abs=1e-9), key
    return measured


# --- replicas ------------------------------------------------------------------------------------


def write_kitti_replica(root: Path, depth_root: Path | None = None, frames: int = 2) -> Path:
    """Two 2011_09_26 drives (``frames`` frames; both colour cameras at 375x1242, Velodyne scans),
    the real calibration, the Eigen and Eigen-benchmark split files listing frame 0 of each
    drive, and with ``depth_root`` KITTI depth's annotated maps (``val/DRIVE/proj_depth/...``).
    Real scans and images from ../shared/realdata are used when present."""
    from data.test_kitti import CAM_TO_CAM, VELO_TO_CAM, write_scan

    rng = np.random.default_rng(0)
    date = root / DATE
    date.mkdir(parents=True, exist_ok=True)
    calib = REALDATA / "kitti_raw_calib" / DATE
    for name, text in (
        ("calib_cam_to_cam.txt", CAM_TO_CAM),
        ("calib_velo_to_cam.txt", VELO_TO_CAM),
    ):
        if (calib / name).is_file():
            shutil.copy(calib / name, date / name)
        else:
            (date / name).write_text(text)
    scans = sorted((REALDATA / "kitti_object_frames" / "velodyne").glob("*.bin"))
    photos = sorted((REALDATA / "kitti_object_frames" / "image_2").glob("*.png"))
    for index, drive in enumerate(DRIVES):
        folder = date / drive
        for frame in range(frames):
            stem = f"{frame:010d}"
            k = frames * index + frame
            for camera in (2, 3):
                if photos:
                    photo = read_rgb(photos[k % len(photos)])
                    image = cv2.resize(photo, KITTI_SIZE[::-1], interpolation=cv2.INTER_AREA)
                    image = np.roll(image, 7 * (camera - 2), axis=1)
                else:
                    image = rng.integers(0, 256, (*KITTI_SIZE, 3), dtype=np.uint8)
                write_rgb(folder / f"image_0{camera}" / "data" / f"{stem}.png", image)
            scan = folder / "velodyne_points" / "data" / f"{stem}.bin"
            if scans:
                scan.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(scans[k % len(scans)], scan)
            else:
                write_scan(scan, rng, count=30000)
            if depth_root is not None:
                annotated = np.zeros(KITTI_SIZE)
                annotated[150:, ::3] = rng.uniform(1.0, 90.0, (KITTI_SIZE[0] - 150, 414))
                write_depth_png(
                    depth_root
                    / "val"
                    / drive
                    / "proj_depth"
                    / "groundtruth"
                    / "image_02"
                    / f"{stem}.png",
                    annotated,
                )
    for split, lines in (
        ("eigen", EIGEN_LINES),
        ("eigen_benchmark", [f"{DATE}/{drive} 0 l" for drive in DRIVES]),
    ):
        path = root / "splits" / split / "test_files.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def kitti(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("kitti_replica")
    return write_kitti_replica(base / "KITTI", base / "KITTI_DEPTH"), base / "KITTI_DEPTH"


@pytest.fixture(scope="module")
def mono_release(tmp_path_factory):
    """Monodepth2 release files (random weights, mono, separate pose net) and their reference
    networks, converted with `mdk convert monodepth2`."""
    from checkpoints.test_import_monodepth2 import _write_release

    folder = tmp_path_factory.mktemp("md2_mono")
    nets = _write_release(folder / "weights", use_stereo=False, pose="separate", seed=3)
    checkpoint = folder / "mono.ckpt"
    argv = ["convert", "monodepth2", "--weights-dir", str(folder / "weights")]
    assert main([*argv, "--out", str(checkpoint)]) == 0
    return checkpoint, nets


def reference_disparity(nets: dict, image_path: Path, size: tuple[int, int]) -> np.ndarray:
    """Monodepth2's scaled disparity of its own networks at the network size [h, w]: the image
    resized as the Predictor resizes it (the documented difference to Monodepth2's Lanczos)."""
    from checkpoints.test_import_monodepth2 import HEIGHT, WIDTH

    image = torch.from_numpy(read_rgb(image_path)).permute(2, 0, 1)[None].float() / 255
    image = F.interpolate(image, (HEIGHT, WIDTH), mode="bilinear", antialias=True)
    for net in nets.values():
        net.eval()
    with torch.no_grad():
        disp = nets["depth"](nets["encoder"](image))[0][0, 0].numpy()
    # disp_to_depth(disp, 0.1, 100): min_disp + (max_disp - min_disp) * disp
    return (1 / 100 + (1 / 0.1 - 1 / 100) * disp).astype(np.float32)


# --- KITTI Eigen -----------------------------------------------------------------------------


def test_kitti_eigen_converted_monodepth2_predict_and_checkpoint_agree(
    kitti, mono_release, tmp_path, capsys
):
    root, _ = kitti
    checkpoint, nets = mono_release
    gt_npz = tmp_path / "gt_depths.npz"
    argv = ["data", "kitti-gt", "--root", str(root), "--split", "eigen", "--out", str(gt_npz)]
    assert main(argv) == 0
    archive = np.load(gt_npz, allow_pickle=True)
    names, gts = [str(n) for n in archive["names"]], list(archive["data"])
    assert names == [f"{drive}/0000000000" for drive in DRIVES]  # frame 0 twice: unique names
    assert all(gt.shape == KITTI_SIZE and (gt > 0).sum() > 1000 for gt in gts)

    # 1. mdk eval --checkpoint: the Velodyne ground truth computed on the fly
    out_ckpt = tmp_path / "eval_ckpt"
    base = ["eval", "--checkpoint", str(checkpoint), "--dataset", "kitti", "--root", str(root)]
    assert main([*base, "--split", "eigen", "--out", str(out_ckpt), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "| mono.ckpt |" in printed
    measured = json.loads((out_ckpt / "metrics.json").read_text())
    assert measured["count"] == 2 and measured["protocol"] == "kitti"
    assert measured["align"] == "median" and measured["kind"] == "disparity"
    rows = (out_ckpt / "per_image.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == names

    # 2. the same with the exported .npz ground truth
    out_npz = tmp_path / "eval_npz"
    argv = [*base, "--split", "eigen", "--gt-npz", str(gt_npz), "--out", str(out_npz)]
    assert main(argv) == 0
    assert_metrics(out_npz / "metrics.json", measured, rel=1e-12)

    # 3. mdk predict on the raw tree, then mdk eval --pred --gt
    pred = tmp_path / "pred"
    argv = ["predict", str(root), "--checkpoint", str(checkpoint), "--out", str(pred)]
    assert main([*argv, "--format", "npy", "color", "--no-progress", "--device", "cpu"]) == 0
    out_pred = tmp_path / "eval_pred"
    argv = ["eval", "--pred", str(pred), "--gt", str(gt_npz), "--kind", "disparity"]
    assert main([*argv, "--align", "median", "--out", str(out_pred)]) == 0
    assert_metrics(out_pred / "metrics.json", measured, rel=1e-6)
    assert json.loads((out_pred / "metrics.json").read_text())["protocol"] == "kitti"

    # 4. the protocol by hand on mdk predict's disparities
    disparities = [
        np.load(pred / DATE / drive / "image_02" / "data" / "0000000000.npy") for drive in DRIVES
    ]
    by_hand = kitti_by_hand([1 / d for d in disparities], gts, median=True)
    assert_metrics(out_ckpt / "metrics.json", by_hand, rel=1e-6)

    # 5. Monodepth2's evaluate_depth.py order on its own networks' disparity: resized to the
    # ground-truth size (cv2 bilinear), inverted, crop + range, median, clip
    images = [root / DATE / drive / "image_02" / "data" / "0000000000.png" for drive in DRIVES]
    reference = [
        1 / cv2.resize(reference_disparity(nets, path, KITTI_SIZE), KITTI_SIZE[::-1])
        for path in images
    ]
    assert_metrics(out_ckpt / "metrics.json", kitti_by_hand(reference, gts, True), rel=1e-5)


def test_kitti_eigen_stereo_model_is_scaled_by_5_4(kitti, tmp_path):
    from checkpoints.test_import_monodepth2 import _write_release

    root, _ = kitti
    nets = _write_release(tmp_path / "weights", use_stereo=True, pose=None, seed=5)
    checkpoint = tmp_path / "stereo.ckpt"
    argv = ["convert", "monodepth2", "--weights-dir", str(tmp_path / "weights")]
    assert main([*argv, "--out", str(checkpoint)]) == 0
    out = tmp_path / "eval"
    base = ["eval", "--checkpoint", str(checkpoint), "--dataset", "kitti", "--root", str(root)]
    assert main([*base, "--out", str(out), "--save-pred", str(tmp_path / "saved")]) == 0
    measured = json.loads((out / "metrics.json").read_text())
    assert measured["align"] == "none" and measured["kind"] == "depth"
    from monodepthkit.data.kitti import KittiDataset

    dataset = KittiDataset(root, split="eigen")
    gts = [dataset.depth(i) for i in range(len(dataset))]
    images = [root / DATE / drive / "image_02" / "data" / "0000000000.png" for drive in DRIVES]
    # Monodepth2 stereo: 1 / resized disparity, times 5.4, no median scaling, clip
    reference = [
        5.4 / cv2.resize(reference_disparity(nets, path, KITTI_SIZE), KITTI_SIZE[::-1])
        for path in images
    ]
    assert_metrics(out / "metrics.json", kitti_by_hand(reference, gts, median=False), rel=1e-5)
    # the saved predictions are metric depth, named DRIVE/FRAME, and score the same
    saved = [np.load(tmp_path / "saved" / drive / "0000000000.npy") for drive in DRIVES]
    # float32 round-off only; resizing the depth instead of the disparity is off by ~1e-4
    np.testing.assert_allclose(saved[0], reference[0], rtol=2e-6)
    assert_metrics(out / "metrics.json", kitti_by_hand(saved, gts, median=False), rel=1e-6)


def test_kitti_eigen_benchmark_uses_annotated_depth(kitti, tiny_checkpoint, tmp_path):
    root, depth_root = kitti
    out = tmp_path / "eval"
    argv = ["eval", "--checkpoint", str(tiny_checkpoint), "--dataset", "kitti"]
    argv += ["--root", str(root), "--split", "eigen_benchmark", "--save-pred", str(tmp_path / "p")]
    assert main([*argv, "--option", f"depth_root={depth_root}", "--out", str(out)]) == 0
    gts = [
        cv2.imread(
            str(depth_root / "val" / d / "proj_depth/groundtruth/image_02/0000000000.png"),
            cv2.IMREAD_UNCHANGED,
        ).astype(np.float64)
        / 256.0
        for d in DRIVES
    ]
    preds = [np.load(tmp_path / "p" / drive / "0000000000.npy") for drive in DRIVES]
    assert preds[0].shape == KITTI_SIZE
    measured = assert_metrics(out / "metrics.json", kitti_by_hand(preds, gts, median=False))
    assert measured["align"] == "none"  # a metric supervised model
    # the Velodyne ground truth of the same frames gives other numbers
    velodyne = tmp_path / "velodyne"
    assert main([*argv[:-2], "--split", "eigen", "--out", str(velodyne)]) == 0
    assert json.loads((velodyne / "metrics.json").read_text())["rmse"] != measured["rmse"]


def test_kitti_split_file_and_wrong_inputs(kitti, tiny_checkpoint, tmp_path, capsys):
    root, _ = kitti
    split = tmp_path / "one.txt"
    split.write_text(EIGEN_LINES[1] + "\n")
    out = tmp_path / "eval"
    base = ["eval", "--checkpoint", str(tiny_checkpoint), "--dataset", "kitti", "--root", str(root)]
    assert main([*base, "--split", str(split), "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["count"] == 1

    def one_error(argv: list[str], text: str) -> None:
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and text in err[0], err

    one_error([*base, "--split", "nope"], "split")
    one_error([*base, "--gt-npz", str(tmp_path / "missing.npz")], "missing.npz")
    one_error(["eval", "--checkpoint", str(tiny_checkpoint)], "--root")
    one_error([*base, "--option", "colour=red"], "colour")
    one_error(["eval", "--pred", str(tmp_path / "none"), "--gt", str(split)], ".npz")


# --- NYU official ----------------------------------------------------------------------------


def test_nyu_official_split_from_the_mat(tiny_checkpoint, tmp_path):
    import h5py

    from data.test_nyu_labeled import write_labeled_mat
    from monodepthkit.inference.predictor import Predictor

    root = tmp_path / "NYU"
    write_labeled_mat(root / "nyu_depth_v2_labeled.mat", frames=4)
    scipy.io.savemat(
        root / "splits.mat",
        {"trainNdxs": np.array([[1], [3]], np.uint16), "testNdxs": np.array([[2], [4]], np.uint16)},
    )
    out, saved = tmp_path / "eval", tmp_path / "saved"
    argv = ["eval", "--checkpoint", str(tiny_checkpoint), "--dataset", "nyu_labeled"]
    argv += ["--root", str(root), "--split", "official", "--save-pred", str(saved)]
    assert main([*argv, "--out", str(out)]) == 0
    rows = (out / "per_image.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["nyu_labeled/0002", "nyu_labeled/0004"]

    # the 1-based test frames, read straight from the .mat (MATLAB's transposed layout)
    predictor = Predictor.from_checkpoint(tiny_checkpoint, device="cpu")
    with h5py.File(root / "nyu_depth_v2_labeled.mat", "r") as mat:
        images = [np.asarray(mat["images"][i]).transpose(2, 1, 0) for i in (1, 3)]
        gts = [np.asarray(mat["depths"][i]).T for i in (1, 3)]
    preds = [np.load(saved / "nyu_labeled" / f"{n:04d}.npy") for n in (2, 4)]
    for image, pred in zip(images, preds, strict=True):
        assert pred.shape == (480, 640)
        np.testing.assert_allclose(pred, predictor(image), rtol=1e-5)
    measured = assert_metrics(out / "metrics.json", nyu_by_hand(preds, gts))
    assert measured["protocol"] == "nyu" and measured["max_depth"] == 10.0

    # saved predictions scored against the dataset's ground truth give the same numbers
    again = tmp_path / "again"
    argv = ["eval", "--pred", str(saved), "--dataset", "nyu_labeled", "--root", str(root)]
    assert main([*argv, "--out", str(again)]) == 0
    assert_metrics(again / "metrics.json", measured, rel=1e-12)


# --- finding saved predictions by name -------------------------------------------------------


def test_prediction_index_matches_names(tmp_path):
    for rel in (
        f"{DATE}/{DRIVES[0]}/image_02/data/0000000000.npy",
        f"{DATE}/{DRIVES[0]}/image_03/data/0000000000.npy",
        f"{DATE}/{DRIVES[0]}/image_02/data/0000000000_color.png",
        "seq_0001/image/000003.npy",
        "flat.npy",
        "dup/a/x.npy",
        "dup/b/x.npy",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / rel, np.ones((2, 2), np.float32))
    index = PredictionIndex(tmp_path)
    found = index.find(f"{DRIVES[0]}/0000000000")
    assert found.relative_to(tmp_path).as_posix().endswith("image_02/data/0000000000.npy")
    assert "image_03" in index.find(f"{DRIVES[0]}/0000000000_r").as_posix()
    assert index.find("seq_0001/000003").name == "000003.npy"
    assert index.find("flat").name == "flat.npy"
    with pytest.raises(MdkError, match="no prediction for image"):
        index.find(f"{DRIVES[1]}/0000000000")
    with pytest.raises(MdkError, match="two predictions"):
        index.find("x")


# --- NYU raw ---------------------------------------------------------------------------------


def test_nyu_raw_frames_with_synced_depth(tiny_checkpoint, tmp_path):
    from data.test_nyu_raw import write_scene
    from monodepthkit.data.nyu import NyuRawDataset

    root = tmp_path / "NYU_RAW"
    write_scene(root / "bedroom_0001")
    write_scene(root / "kitchen_0002", rgb_times=[7.0, 7.05, 7.1], depth_times=[7.0])
    out, saved = tmp_path / "eval", tmp_path / "saved"
    argv = ["eval", "--checkpoint", str(tiny_checkpoint), "--dataset", "nyu_raw"]
    assert main([*argv, "--root", str(root), "--save-pred", str(saved), "--out", str(out)]) == 0
    dataset = NyuRawDataset(root, require_depth=True)
    samples = [dataset[i] for i in range(len(dataset))]
    names = [sample["name"] for sample in samples]
    rows = (out / "per_image.csv").read_text().splitlines()[1:]
    # 9 RGB frames, 2 of them (kitchen 7.05 s, 7.1 s) without a depth frame within 0.04 s
    assert [row.split(",")[0] for row in rows] == names and len(names) == 7
    assert "kitchen_0002/r-7.000000-3000000000" in names
    preds = [np.load(saved / f"{name}.npy") for name in names]
    gts = [sample["depth"][0].numpy() for sample in samples]
    measured = assert_metrics(out / "metrics.json", nyu_by_hand(preds, gts))
    assert measured["protocol"] == "nyu"
