"""DepthEvaluator, the written reports, the Markdown table and folder evaluation."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from monodepthkit.data.io import write_depth_png
from monodepthkit.errors import MdkError
from monodepthkit.eval import (
    METRIC_KEYS,
    DepthEvaluator,
    evaluate_folders,
    get_protocol,
    markdown_table,
)


def _two_images():
    """Image a: 4 valid pixels, abs_rel 0; image b: 1 valid pixel, abs_rel 0.5."""
    gt_a = np.full((2, 2), 2.0)
    gt_b = np.array([[4.0, 0.0], [0.0, 0.0]])
    return (gt_a, np.full((2, 2), 2.0)), (gt_b, np.full((2, 2), 2.0))


def test_evaluator_averages_per_image_not_per_pixel():
    (gt_a, pred_a), (gt_b, pred_b) = _two_images()
    evaluator = DepthEvaluator(get_protocol("none"))
    assert evaluator.add("a", pred_a, gt_a)["abs_rel"] == 0.0
    assert evaluator.add("b", torch.from_numpy(pred_b), torch.from_numpy(gt_b))["abs_rel"] == 0.5
    gt_c = np.array([[2.0, 2.0], [0.0, 0.0]])
    assert evaluator.add("c", np.full((2, 2), 3.0), gt_c)["abs_rel"] == 0.5  # 2 valid pixels
    summary = evaluator.summary()
    # Per image (0 + 0.5 + 0.5) / 3; per pixel it would be (0 + 0.5 + 1) / 7, the median 0.5.
    assert summary["abs_rel"] == pytest.approx(1 / 3, rel=1e-12)
    assert summary["d1"] == pytest.approx(1 / 3, rel=1e-12)  # (1 + 0 + 0) / 3
    assert summary["count"] == 3 and summary["skipped"] == 0


def test_image_without_valid_pixel_is_skipped_and_reported():
    (gt_a, pred_a), _ = _two_images()
    evaluator = DepthEvaluator("none")
    evaluator.add("a", pred_a, gt_a)
    assert evaluator.add("empty", pred_a, np.zeros((2, 2))) == {}
    summary = evaluator.summary()
    assert summary["count"] == 1 and summary["skipped"] == 1
    assert evaluator.skipped == ["empty"]
    assert all(np.isfinite(summary[key]) for key in METRIC_KEYS)


def test_evaluator_errors():
    with pytest.raises(MdkError, match="no image evaluated"):
        DepthEvaluator("kitti").summary()
    with pytest.raises(MdkError, match="alignment mode 'mean'"):
        DepthEvaluator("kitti", align="mean")
    with pytest.raises(MdkError, match="scale factor"):
        DepthEvaluator("kitti", scale=0.0)
    evaluator = DepthEvaluator("none")
    evaluator.add("x", np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(MdkError, match="'x' was already evaluated"):
        evaluator.add("x", np.ones((2, 2)), np.ones((2, 2)))


def test_write_metrics_json_and_per_image_csv(tmp_path):
    (gt_a, pred_a), (gt_b, pred_b) = _two_images()
    evaluator = DepthEvaluator(get_protocol("none", max_depth=80.0), align="median", scale=5.4)
    evaluator.add("a", pred_a, gt_a)
    evaluator.add("b", pred_b, gt_b)
    evaluator.add("c", pred_b, np.zeros((2, 2)))
    path = evaluator.write(tmp_path / "out")
    assert path == tmp_path / "out" / "metrics.json"
    record = json.loads(path.read_text())
    for key in METRIC_KEYS:
        assert record[key] == pytest.approx(evaluator.summary()[key])
    assert record["count"] == 2 and record["skipped"] == 1 and record["skipped_images"] == ["c"]
    assert record["protocol"] == "none" and record["crop"] is None
    assert record["min_depth"] == 1e-3 and record["max_depth"] == 80.0
    assert record["align"] == "median" and record["scale"] == 5.4 and record["kind"] == "depth"

    with (tmp_path / "out" / "per_image.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["name", *METRIC_KEYS]
    assert [row[0] for row in rows[1:]] == ["a", "b"]
    assert float(rows[2][1 + METRIC_KEYS.index("abs_rel")]) == 0.0  # median-aligned: exact


def test_infinite_max_depth_is_written_as_null(tmp_path):
    evaluator = DepthEvaluator("none")
    evaluator.add("a", np.ones((2, 2)), np.ones((2, 2)))
    assert json.loads(evaluator.write(tmp_path).read_text())["max_depth"] is None


def test_markdown_table():
    table = markdown_table(
        {
            "U-Net": dict.fromkeys(METRIC_KEYS, 0.12345) | {"count": 697},
            "constant median": {"abs_rel": 0.5, "d1": 0.25},
        }
    )
    lines = table.strip().split("\n")
    assert len(lines) == 4
    assert lines[0].startswith("| method | AbsRel ↓ | SqRel ↓ | RMSE ↓ | RMSElog ↓ | log10 ↓")
    assert "SILog ↓ | δ<1.25 ↑ | δ<1.25² ↑ | δ<1.25³ ↑ |" in lines[0]
    assert lines[2] == "| U-Net | " + " | ".join(["0.123"] * 9) + " |"
    assert lines[3] == "| constant median | 0.500 | – | – | – | – | – | 0.250 | – | – |"


# --- evaluate_folders --------------------------------------------------------------------------


def _make_folders(tmp_path):
    rng = np.random.default_rng(0)
    pred_dir, gt_dir = tmp_path / "pred", tmp_path / "gt"
    pred_dir.mkdir()
    gt_dir.mkdir()
    gts = {}
    for index, stem in enumerate(["000", "001"]):
        gt = np.round(rng.uniform(1.0, 50.0, size=(12, 20)) * 256) / 256  # exact in 16-bit PNG
        gt[rng.random(gt.shape) < 0.3] = 0.0
        write_depth_png(gt_dir / f"{stem}.png", gt)
        gts[stem] = gt
        pred = np.where(gt > 0, gt, 7.0) * (1.0 + 0.1 * index)
        if index == 0:
            np.save(pred_dir / f"{stem}.npy", pred[None].astype(np.float32))  # [1, H, W]
        else:
            write_depth_png(pred_dir / f"{stem}.png", pred)
    return pred_dir, gt_dir, gts


def test_evaluate_folders_npy_and_png(tmp_path):
    pred_dir, gt_dir, _ = _make_folders(tmp_path)
    np.save(pred_dir / "999.npy", np.ones((4, 4)))  # extra prediction: ignored
    evaluator = evaluate_folders(pred_dir, gt_dir, get_protocol("none"))
    assert [row["name"] for row in evaluator.per_image] == ["000", "001"]
    assert evaluator.per_image[0]["abs_rel"] == pytest.approx(0.0, abs=1e-7)
    # Image 001 is 1.1 x gt up to 16-bit rounding (<= 1/512 m on >= 1 m).
    assert evaluator.per_image[1]["abs_rel"] == pytest.approx(0.1, abs=2e-3)
    assert evaluator.summary()["count"] == 2
    median = evaluate_folders(pred_dir, gt_dir, "none", align="median")
    assert median.per_image[1]["abs_rel"] < 2e-3


def test_evaluate_folders_disparity_and_depth_scale(tmp_path):
    pred_dir, gt_dir = tmp_path / "pred", tmp_path / "gt"
    pred_dir.mkdir()
    gt_dir.mkdir()
    gt = np.full((4, 6), 2.5)
    write_depth_png(gt_dir / "a.png", gt, scale=1000.0)
    np.save(pred_dir / "a.npy", np.full((2, 3), 1 / 2.5))  # disparity at half resolution
    evaluator = evaluate_folders(pred_dir, gt_dir, "none", kind="disparity", depth_scale=1000.0)
    assert evaluator.per_image[0]["abs_rel"] == pytest.approx(0.0, abs=1e-12)


def test_missing_prediction_names_the_file(tmp_path):
    pred_dir, gt_dir, _ = _make_folders(tmp_path)
    (pred_dir / "001.png").unlink()
    with pytest.raises(MdkError, match=r"001\.png: no prediction 001\.npy or 001\.png"):
        evaluate_folders(pred_dir, gt_dir, "none")


def test_non_image_file_names_the_file(tmp_path):
    pred_dir, gt_dir, _ = _make_folders(tmp_path)
    (pred_dir / "notes.txt").write_text("hello")
    with pytest.raises(MdkError, match=r"notes\.txt: expected a depth map"):
        evaluate_folders(pred_dir, gt_dir, "none")


def test_unreadable_files_name_the_file(tmp_path):
    pred_dir, gt_dir, _ = _make_folders(tmp_path)
    (pred_dir / "000.npy").write_text("not numpy")
    with pytest.raises(MdkError, match=r"000\.npy: expected a numpy \.npy array"):
        evaluate_folders(pred_dir, gt_dir, "none")
    (pred_dir / "000.npy").unlink()
    (pred_dir / "000.png").write_bytes(b"not a png")
    with pytest.raises(MdkError, match=r"000\.png"):
        evaluate_folders(pred_dir, gt_dir, "none")


def test_wrong_npy_shape_names_the_file(tmp_path):
    pred_dir, gt_dir, _ = _make_folders(tmp_path)
    np.save(pred_dir / "000.npy", np.ones((3, 12, 20)))
    with pytest.raises(MdkError, match=r"000\.npy: expected a \[H, W\]"):
        evaluate_folders(pred_dir, gt_dir, "none")


def test_missing_and_empty_folders(tmp_path):
    pred_dir, gt_dir, _ = _make_folders(tmp_path)
    with pytest.raises(MdkError, match=r"nowhere: prediction folder not found"):
        evaluate_folders(tmp_path / "nowhere", gt_dir, "none")
    with pytest.raises(MdkError, match=r"nowhere: ground-truth folder not found"):
        evaluate_folders(pred_dir, tmp_path / "nowhere", "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MdkError, match=r"empty: no depth maps"):
        evaluate_folders(pred_dir, tmp_path / "empty", "none")


def test_no_valid_pixel_anywhere(tmp_path):
    pred_dir, gt_dir, _ = _make_folders(tmp_path)
    # Ground truth up to 50 m but read with depth_scale 1: all above the 80 m KITTI cap.
    with pytest.raises(MdkError, match=r"gt: none of the 2 ground-truth maps.*depth_scale"):
        evaluate_folders(pred_dir, gt_dir, "kitti", depth_scale=1.0)
