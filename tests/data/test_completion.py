"""IP-Basic depth completion: fills holes, keeps measured depth, runs on real scans and trees."""

from __future__ import annotations

import numpy as np
import pytest
from test_kitti import DATE, DRIVE, write_kitti_tree

from conftest import REALDATA
from monodepthkit.cli import main
from monodepthkit.data.completion import complete_depth, complete_tree
from monodepthkit.data.io import read_depth_png, read_rgb, write_depth_png
from monodepthkit.data.kitti import (
    KittiDataset,
    read_object_calibration,
    read_raw_calibration,
    read_velodyne,
    velodyne_to_depth,
)
from monodepthkit.errors import MdkError

OBJECT_FRAMES = REALDATA / "kitti_object_frames"


def _sparse(depth: np.ndarray, step: int = 4, seed: int = 0) -> np.ndarray:
    """Keep a random ~1/step^2 of the pixels of a dense map, like a LiDAR projection."""
    rng = np.random.default_rng(seed)
    keep = rng.random(depth.shape) < 1.0 / step**2
    return np.where(keep, depth, 0).astype(np.float32)


@pytest.mark.parametrize(("extrapolate", "blur"), [(True, "gaussian"), (False, "bilateral")])
def test_constant_depth_is_reproduced_and_holes_filled(extrapolate, blur):
    sparse = _sparse(np.full((60, 90), 12.5))
    sparse[:10] = 0  # nothing measured at the top, as above a LiDAR's top beam
    dense = complete_depth(sparse, extrapolate=extrapolate, blur=blur)
    assert dense.dtype == np.float32 and dense.shape == sparse.shape
    filled = dense > 0
    if extrapolate:
        assert filled.all()
    else:  # the top rows stay empty; a few border pixels far from any sample may too
        assert not filled[:4].any() and filled[10:].mean() > 0.99
    np.testing.assert_allclose(dense[filled], 12.5, rtol=1e-5)


def test_nearer_surface_wins_at_edges():
    depth = np.full((40, 40), 30.0)
    depth[:, 20:] = 5.0  # a near object on the right half
    dense = complete_depth(_sparse(depth, step=3))
    # Away from the edge each side keeps its depth; at the edge the near depth spreads into
    # the far side (dilation of inverted depth), while the near side stays near (the blur
    # raises its first columns a little).
    np.testing.assert_allclose(dense[5:35, :12], 30.0, rtol=0.02)
    np.testing.assert_allclose(dense[5:35, 24:], 5.0, rtol=0.02)
    assert (dense[5:35, 21:] < 7).all() and dense[5:35, 20].mean() < 10
    assert (dense[5:35, 17:20] < 29).mean() > 0.5


def test_depth_beyond_max_depth_and_bad_input():
    sparse = _sparse(np.full((30, 30), 20.0))
    sparse[0:6, 0:6] = 150.0  # beyond max_depth: dropped, never negative
    dense = complete_depth(sparse, max_depth=100.0)
    assert (dense >= 0).all() and np.isfinite(dense).all()
    with pytest.raises(MdkError, match=r"\[H, W\]"):
        complete_depth(np.zeros((2, 3, 4)))
    with pytest.raises(MdkError, match="blur"):
        complete_depth(sparse, blur="box")


@pytest.mark.parametrize("frame", ["000000", "000001"])
def test_real_velodyne_projection(frame):
    if not OBJECT_FRAMES.is_dir():
        pytest.skip(f"real data {OBJECT_FRAMES} not found (see ../shared/realdata/SOURCES.md)")
    size = read_rgb(OBJECT_FRAMES / "image_2" / f"{frame}.png").shape[:2]
    calibration = read_object_calibration(OBJECT_FRAMES / "calib" / f"{frame}.txt", size)
    sparse = velodyne_to_depth(
        read_velodyne(OBJECT_FRAMES / "velodyne" / f"{frame}.bin"), calibration, 2, "camera_z"
    )
    measured = sparse > 0
    assert measured.mean() < 0.05
    dense = complete_depth(sparse)
    assert (dense > 0).all()  # the paper's setting fills every pixel
    # Measured depth is kept up to the documented tolerance: median change < 0.5 %, 90 % of
    # measured pixels within 5 % (the rest lie behind a nearer surface within 2 px).
    change = np.abs(dense[measured] - sparse[measured]) / sparse[measured]
    assert np.median(change) < 0.005 and (change < 0.05).mean() > 0.9
    assert dense.min() > 1.0 and dense.max() < 100.0
    no_extrapolation = complete_depth(sparse, extrapolate=False, blur="bilateral")
    assert 0.5 < (no_extrapolation > 0).mean() < 0.8  # the sky above the scan stays empty
    assert (no_extrapolation[: size[0] // 10] == 0).mean() > 0.9


def test_complete_tree_from_scans_in_parallel(tmp_path, capsys):
    root = write_kitti_tree(tmp_path / "kitti", frames=4)
    out = tmp_path / "dense"
    code = main(["data", "complete", "--root", str(root), "--out", str(out), "--workers", "2"])
    assert code == 0 and "completed 8 depth maps" in capsys.readouterr().out
    target = out / DATE / DRIVE / "proj_depth" / "ip_basic"
    assert sorted(p.name for p in target.iterdir()) == ["image_02", "image_03"]
    dense = read_depth_png(target / "image_02" / "0000000001.png")
    calibration = read_raw_calibration(root / DATE)
    scan = read_velodyne(root / DATE / DRIVE / "velodyne_points" / "data" / "0000000001.bin")
    expected = complete_depth(velodyne_to_depth(scan, calibration, 2, "camera_z"))
    np.testing.assert_allclose(dense, expected, atol=1 / 256)
    # Existing outputs are skipped; the dataset reads them as ground truth.
    assert complete_tree(root, out, workers=1, progress=False) == 0
    dataset = KittiDataset(root, split="eigen", gt="completed", depth_root=out)
    np.testing.assert_array_equal(dataset.depth(0), dense)


def test_complete_tree_from_velodyne_raw_pngs(tmp_path):
    sparse = _sparse(np.full((30, 50), 7.0))
    source = tmp_path / "depth" / "train" / DRIVE / "proj_depth" / "velodyne_raw" / "image_02"
    write_depth_png(source / "0000000005.png", sparse)
    out = tmp_path / "dense"
    assert complete_tree(tmp_path / "depth", out, workers=1, progress=False) == 1
    dense = read_depth_png(
        out / "train" / DRIVE / "proj_depth" / "ip_basic" / "image_02" / "0000000005.png"
    )
    np.testing.assert_allclose(dense, 7.0, atol=1 / 256)


def test_complete_tree_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MdkError, match=r"no sparse depth found; expected KITTI raw"):
        complete_tree(tmp_path / "empty", tmp_path / "out", progress=False)
    root = write_kitti_tree(tmp_path / "kitti", frames=2)
    scan = root / DATE / DRIVE / "velodyne_points" / "data" / "0000000001.bin"
    scan.write_bytes(scan.read_bytes()[:-5])
    code = main(
        ["data", "complete", "--root", str(root), "--out", str(tmp_path / "o"), "--workers", "1"]
    )
    assert code == 2 and "0000000001.bin" in capsys.readouterr().err
