"""KITTI raw: calibration, Velodyne ground truth (Monodepth2 quirks), dataset, kitti-gt."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import REALDATA
from monodepthkit.cli import main
from monodepthkit.data.batch import validate_batch
from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.data.io import read_rgb, write_depth_png, write_rgb
from monodepthkit.data.kitti import (
    KittiCalibration,
    KittiDataset,
    load_gt_depths,
    project_monodepth2,
    read_annotated_depth,
    read_object_calibration,
    read_raw_calibration,
    read_velodyne,
    velodyne_to_depth,
)
from monodepthkit.data.registry import get_dataset_builder
from monodepthkit.data.transforms import AugmentOptions
from monodepthkit.errors import MdkError
from monodepthkit.geometry.camera import scale_intrinsics

OBJECT_FRAMES = REALDATA / "kitti_object_frames"
RAW_CALIB = REALDATA / "kitti_raw_calib" / "2011_09_26"

DATE = "2011_09_26"
DRIVE = f"{DATE}_drive_0001_sync"
IMAGE_SIZE = (24, 80)  # small images: K and depth are scaled from the calibration's 375x1242

# The real 2011_09_26 calibration values (KITTI raw), in the files' own format.
CAM_TO_CAM = """calib_time: 09-Jan-2012 13:57:47
S_rect_00: 1.242000e+03 3.750000e+02
R_rect_00: 9.999239e-01 9.837760e-03 -7.445048e-03 -9.869795e-03 9.999421e-01 -4.278459e-03 \
7.402527e-03 4.351614e-03 9.999631e-01
P_rect_00: 7.215377e+02 0.000000e+00 6.095593e+02 0.000000e+00 0.000000e+00 7.215377e+02 \
1.728540e+02 0.000000e+00 0.000000e+00 0.000000e+00 1.000000e+00 0.000000e+00
S_rect_02: 1.242000e+03 3.750000e+02
P_rect_02: 7.215377e+02 0.000000e+00 6.095593e+02 4.485728e+01 0.000000e+00 7.215377e+02 \
1.728540e+02 2.163791e-01 0.000000e+00 0.000000e+00 1.000000e+00 2.745884e-03
S_rect_03: 1.242000e+03 3.750000e+02
P_rect_03: 7.215377e+02 0.000000e+00 6.095593e+02 -3.395242e+02 0.000000e+00 7.215377e+02 \
1.728540e+02 2.199936e+00 0.000000e+00 0.000000e+00 1.000000e+00 2.729905e-03
""".replace("\\\n", "")
VELO_TO_CAM = """calib_time: 15-Mar-2012 11:37:16
R: 7.533745e-03 -9.999714e-01 -6.166020e-04 1.480249e-02 7.280733e-04 -9.998902e-01 \
9.998621e-01 7.523790e-03 1.480755e-02
T: -4.069766e-03 -7.631618e-02 -2.717806e-01
delta_f: 0.000000e+00 0.000000e+00
""".replace("\\\n", "")


def write_kitti_tree(
    root: Path, frames: int = 5, suffix: str = ".png", annotated: bool = False, seed: int = 0
) -> Path:
    """Write a tiny KITTI raw tree: one drive, both colour cameras, scans, calibration, split."""
    rng = np.random.default_rng(seed)
    date = root / DATE
    date.mkdir(parents=True, exist_ok=True)
    (date / "calib_cam_to_cam.txt").write_text(CAM_TO_CAM)
    (date / "calib_velo_to_cam.txt").write_text(VELO_TO_CAM)
    drive = date / DRIVE
    for frame in range(frames):
        stem = f"{frame:010d}"
        for camera in (2, 3):
            image = np.full((*IMAGE_SIZE, 3), 40 * frame + 20 * camera, np.uint8)
            write_rgb(drive / f"image_0{camera}" / "data" / f"{stem}{suffix}", image)
        write_scan(drive / "velodyne_points" / "data" / f"{stem}.bin", rng)
        if annotated:
            depth = np.zeros((375, 1242))
            depth[200:, ::7] = rng.uniform(2.0, 70.0, (175, 178))
            path = drive / "proj_depth" / "groundtruth" / "image_02" / f"{stem}.png"
            write_depth_png(path, depth)
    split = root / "splits" / "eigen" / "test_files.txt"
    split.parent.mkdir(parents=True, exist_ok=True)
    split.write_text("".join(f"{DATE}/{DRIVE} {f} l\n" for f in (1, 3)))
    return root


def write_scan(path: Path, rng: np.random.Generator, count: int = 4000) -> None:
    """Random Velodyne points, mostly in front of the cameras (x forward), some behind."""
    x = rng.uniform(-10.0, 60.0, count)
    points = np.stack(
        [
            x,
            rng.uniform(-0.6, 0.6, count) * np.abs(x),
            rng.uniform(-2.0, 0.5, count),
            np.ones(count),
        ]
    ).T.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    points.tofile(path)


@pytest.fixture
def kitti_root(tmp_path) -> Path:
    return write_kitti_tree(tmp_path / "kitti")


def _needs(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"real data {path} not found (see ../shared/realdata/SOURCES.md)")


# --- calibration ---------------------------------------------------------------------------


def test_raw_calibration_real_files():
    _needs(RAW_CALIB)
    calibration = read_raw_calibration(RAW_CALIB)
    np.testing.assert_allclose(
        calibration.P_rect[2],
        [
            [721.5377, 0, 609.5593, 44.85728],
            [0, 721.5377, 172.854, 0.2163791],
            [0, 0, 1, 0.002745884],
        ],
    )
    assert calibration.image_size(2) == (375, 1242) and calibration.image_size(3) == (375, 1242)
    np.testing.assert_allclose(
        calibration.T_velo_to_cam[:3, 3], [-4.069766e-3, -7.631618e-2, -0.2717806]
    )
    np.testing.assert_allclose(calibration.intrinsics(2)[0, 0], 721.5377)
    # Rectified colour cameras: same rotation, baseline (44.857 + 339.524) / 721.54 ~ 0.5327 m.
    T = calibration.stereo_transform(2, 3)
    np.testing.assert_allclose(T[:3, :3], np.eye(3))
    assert T[0, 3] == pytest.approx(-0.5327, abs=5e-4)
    np.testing.assert_allclose(calibration.stereo_transform(3, 2), np.linalg.inv(T), atol=1e-12)


def test_calibration_written_by_the_tree_matches_the_real_one(tmp_path):
    _needs(RAW_CALIB)
    write_kitti_tree(tmp_path, frames=1)
    ours, real = read_raw_calibration(tmp_path / DATE), read_raw_calibration(RAW_CALIB)
    for camera in (2, 3):
        np.testing.assert_array_equal(
            ours.velodyne_to_image(camera), real.velodyne_to_image(camera)
        )


def test_missing_calibration_names_the_drive(kitti_root):
    (kitti_root / DATE / "calib_velo_to_cam.txt").unlink()
    with pytest.raises(MdkError, match=rf"calib_velo_to_cam.txt.*{DRIVE}"):
        KittiDataset(kitti_root, split="eigen")


def test_calibration_with_a_missing_key(tmp_path):
    (tmp_path / "calib_cam_to_cam.txt").write_text("P_rect_02: " + " ".join(["1"] * 12) + "\n")
    (tmp_path / "calib_velo_to_cam.txt").write_text(VELO_TO_CAM)
    with pytest.raises(MdkError, match=r"calib_cam_to_cam\.txt: key 'R_rect_00' not found"):
        read_raw_calibration(tmp_path)
    (tmp_path / "calib_cam_to_cam.txt").write_text("P_rect_02: 1 2 3\n")
    with pytest.raises(MdkError, match="'P_rect_02' should hold 12 numbers, found 3"):
        read_raw_calibration(tmp_path)


# --- Velodyne projection -------------------------------------------------------------------


def _toy_calibration() -> KittiCalibration:
    """f = 8 px, c = (2, 1.5) px, 4x6 image; camera (X, Y, Z) = (-y, -z, x - 0.5) of Velodyne."""
    P = np.array([[8.0, 0, 2.0, 0], [0, 8.0, 1.5, 0], [0, 0, 1.0, 0]])
    T = np.array([[0, -1.0, 0, 0], [0, 0, -1.0, 0], [1.0, 0, 0, -0.5], [0, 0, 0, 1]])
    return KittiCalibration({2: P}, np.eye(3), T, {2: (4, 6)}, "toy")


# Velodyne points (x, y, z) with hand-computed projections u = 8 X / Z + 2, v = 8 Y / Z + 1.5.
TOY_POINTS = np.array(
    [
        [4.5, 0.0, 0.0],  # Z 4, (u, v) = (2, 1.5)
        [8.5, 0.0, 0.0],  # Z 8, same (u, v): a farther point in the same pixel, written last
        [4.5, -0.25, -0.75],  # Z 4, (2.5, 3): round(2.5) = 2 (half to even)
        [8.5, -1.5, -1.5],  # Z 8, (3.5, 3): round(3.5) = 4
        [-1.0, 0.0, 0.0],  # behind the Velodyne
        [0.25, 0.09375, 0.0],  # x >= 0 but Z = -0.25 (behind the camera): (5, 1.5)
        [4.5, -1.5, 0.0],  # Z 4, (5, 1.5): same pixel as the previous point
        [8.5, -4.0, 0.5],  # Z 8, (6, 1): Monodepth2 pixel (0, 5), the last column
        [2.5, 0.25, -0.125],  # Z 2, (1, 2): pixel (1, 0); sub2ind collides with (0, 5)
    ],
    dtype=np.float32,
)


def test_monodepth2_quirks_on_a_hand_made_cloud():
    calibration = _toy_calibration()
    expected = np.zeros((4, 6), np.float32)
    expected[1, 1] = 4.5  # min of the two points (Velodyne x 4.5 and 8.5), not the last one
    expected[2, 1] = 4.5  # u = 2.5 -> round half to even = 2 -> -1 = column 1
    expected[2, 3] = 8.5  # u = 3.5 -> 4 -> column 3
    expected[1, 4] = 0.25  # a point behind the camera lands in the image (Velodyne x >= 0)
    expected[0, 5] = 2.5  # sub2ind collision: gets the min over pixels (0, 5) and (1, 0)
    expected[1, 0] = 2.5
    depth = velodyne_to_depth(TOY_POINTS, calibration, variant="monodepth2")
    np.testing.assert_array_equal(depth, expected)
    assert depth.dtype == np.float32

    # vel_depth=False stores camera z (x - 0.5): the point behind the camera has z = -0.25,
    # which wins its pixel's minimum and is then zeroed.
    projected = velodyne_to_depth(TOY_POINTS, calibration, variant="monodepth2_projected")
    expected_projected = np.where(expected > 0, expected - 0.5, 0).astype(np.float32)
    expected_projected[1, 4] = 0.0
    np.testing.assert_array_equal(projected, expected_projected)


def test_camera_z_on_a_hand_made_cloud():
    expected = np.zeros((4, 6), np.float32)
    expected[2, 2] = 4.0  # (2, 1.5) -> floor(u + 0.5), floor(v + 0.5); nearest of 4 and 8
    expected[3, 3] = 4.0  # (2.5, 3)
    expected[3, 4] = 8.0  # (3.5, 3)
    expected[2, 5] = 4.0  # (5, 1.5); the point behind the camera is dropped
    expected[2, 1] = 2.0  # (1, 2); the point at u = 6 falls outside
    depth = velodyne_to_depth(TOY_POINTS, _toy_calibration(), variant="camera_z")
    np.testing.assert_array_equal(depth, expected)


def test_unknown_variant():
    with pytest.raises(MdkError, match="variant"):
        velodyne_to_depth(TOY_POINTS, _toy_calibration(), variant="bogus")


def _reference_monodepth2(points, projection, size, velodyne_depth=True):
    """A slow point-by-point statement of Monodepth2's generate_depth_map, for parity."""
    height, width = size
    depth = np.zeros(size)
    hits = []
    for point in points.astype(np.float32):
        if point[0] < 0:
            continue
        uvz = projection @ np.array([*point[:3], 1.0], dtype=np.float32).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            col = np.round(uvz[0] / uvz[2]) - 1
            row = np.round(uvz[1] / uvz[2]) - 1
        if not (0 <= col < width and 0 <= row < height):
            continue
        value = float(point[0]) if velodyne_depth else uvz[2]
        depth[int(row), int(col)] = value
        hits.append((int(row), int(col), value))
    groups = defaultdict(list)
    for row, col, value in hits:
        groups[row * (width - 1) + col - 1].append((row, col, value))
    for members in groups.values():
        if len(members) > 1:
            depth[members[0][0], members[0][1]] = min(value for _, _, value in members)
    depth[depth < 0] = 0
    return depth.astype(np.float32)


@pytest.mark.parametrize("velodyne_depth", [True, False])
def test_monodepth2_matches_a_point_by_point_reference(velodyne_depth):
    rng = np.random.default_rng(1)
    calibration = _toy_calibration()
    # Points aimed at pixel edges, half pixels and borders, at depths on both sides of 0.
    u = rng.choice(np.arange(-1.0, 7.5, 0.5), 3000)
    v = rng.choice(np.arange(-1.0, 5.5, 0.5), 3000)
    z = rng.choice([-0.25, 1.0, 2.0, 4.0, 8.0, 16.0], 3000)
    points = np.stack([z + 0.5, -(u - 2) * z / 8, -(v - 1.5) * z / 8], axis=1).astype(np.float32)
    ours = project_monodepth2(points, calibration.velodyne_to_image(2), (4, 6), velodyne_depth)
    reference = _reference_monodepth2(
        points, calibration.velodyne_to_image(2), (4, 6), velodyne_depth
    )
    np.testing.assert_array_equal(ours, reference)


@pytest.mark.parametrize("frame", ["000000", "000001", "000002"])
def test_real_velodyne_projection(frame):
    _needs(OBJECT_FRAMES)
    image = read_rgb(OBJECT_FRAMES / "image_2" / f"{frame}.png")
    calibration = read_object_calibration(OBJECT_FRAMES / "calib" / f"{frame}.txt", image.shape[:2])
    points = read_velodyne(OBJECT_FRAMES / "velodyne" / f"{frame}.bin")
    assert points.shape[1] == 4 and len(points) > 100_000
    maps = {
        v: velodyne_to_depth(points, calibration, 2, v)
        for v in ("monodepth2", "monodepth2_projected", "camera_z")
    }
    for depth in maps.values():
        assert depth.shape == image.shape[:2]
        valid = depth[depth > 0]
        assert 17_000 <= valid.size <= 21_000
        assert 2.0 < valid.min() < 6.0 and 70.0 < valid.max() < 80.0
        assert 7.0 < np.median(valid) < 13.5
    # Monodepth2's evaluation ground truth stores Velodyne x, which exceeds the camera z-depth
    # by about the Velodyne's 0.27 m offset behind the camera; both use the same pixels.
    velodyne_x, camera_z = maps["monodepth2"], maps["monodepth2_projected"]
    np.testing.assert_array_equal(velodyne_x > 0, camera_z > 0)
    both = velodyne_x > 0
    assert 0.2 < np.median(velodyne_x[both] - camera_z[both]) < 0.35
    # The clean camera_z variant is the projected one shifted by the "- 1" pixel quirk.
    shifted = maps["camera_z"][1:, 1:]
    agree = (
        np.isclose(shifted, camera_z[:-1, :-1], rtol=1e-5)
        | (shifted == 0)
        | (camera_z[:-1, :-1] == 0)
    )
    assert agree.mean() > 0.999


def test_truncated_scan_names_the_file(tmp_path):
    path = tmp_path / "0000000000.bin"
    path.write_bytes(np.zeros(10, np.float32).tobytes())  # 40 bytes: 2.5 points
    with pytest.raises(MdkError, match=r"0000000000\.bin.*multiple of 16"):
        read_velodyne(path)


def test_annotated_depth_is_uint16_over_256(tmp_path):
    raw = np.array([[0, 256, 1000], [65535, 12800, 1]], np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), raw)
    np.testing.assert_array_equal(read_annotated_depth(tmp_path / "d.png"), raw / np.float32(256))
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(MdkError, match=r"bad\.png"):
        read_annotated_depth(tmp_path / "bad.png")


# --- dataset -------------------------------------------------------------------------------


def test_sample_follows_the_contract(kitti_root):
    dataset = KittiDataset(kitti_root, split="all", frame_offsets=(-1, 1), stereo=True)
    assert len(dataset) == 3  # frames 0 and 4 are sequence ends
    sample = dataset[0]
    validate_batch(sample, required=("image", "depth", "K", "image_-1", "image_+1"), batched=False)
    assert sample["name"] == f"{DRIVE}/0000000001"
    assert sample["image"].shape == (3, *IMAGE_SIZE) and sample["depth"].shape == (1, *IMAGE_SIZE)
    # Neighbours are the previous and next frames of the same camera (values 40 * frame + 40).
    assert float(sample["image"][0, 0, 0]) == pytest.approx(80 / 255)
    assert float(sample["image_-1"][0, 0, 0]) == pytest.approx(40 / 255)
    assert float(sample["image_+1"][0, 0, 0]) == pytest.approx(120 / 255)
    assert float(sample["image_stereo"][0, 0, 0]) == pytest.approx(100 / 255)
    assert sample["T_stereo"][0, 3] == pytest.approx(-0.5327, abs=5e-4)
    calibration = read_raw_calibration(kitti_root / DATE)
    K = scale_intrinsics(calibration.intrinsics(2), (375, 1242), IMAGE_SIZE)
    np.testing.assert_allclose(sample["K"].numpy(), K, rtol=1e-6)
    # Depth: the scan's Monodepth2 ground truth, nearest-resized to the image.
    scan = read_velodyne(kitti_root / DATE / DRIVE / "velodyne_points" / "data" / "0000000001.bin")
    full = velodyne_to_depth(scan, calibration, 2, "monodepth2")
    np.testing.assert_array_equal(dataset.depth(0), full)
    assert float(sample["depth"].max()) > 0


def test_split_file_sides_and_right_camera(kitti_root):
    dataset = KittiDataset(kitti_root, split="eigen", image_size=(12, 40))
    assert [s["name"] for s in (dataset[0], dataset[1])] == [
        f"{DRIVE}/0000000001",
        f"{DRIVE}/0000000003",
    ]
    right = KittiDataset(kitti_root, split="eigen", side="r", stereo=True, gt="none")
    sample = right[0]
    assert sample["name"] == f"{DRIVE}/0000000001_r" and "depth" not in sample
    assert sample["T_stereo"][0, 3] == pytest.approx(0.5327, abs=5e-4)  # right -> left
    calibration = read_raw_calibration(kitti_root / DATE)
    assert float(sample["K"][0, 2]) == pytest.approx(
        scale_intrinsics(calibration.intrinsics(3), (375, 1242), IMAGE_SIZE)[0, 2], rel=1e-6
    )


def test_jpg_images_and_camera_z_variant(tmp_path):
    root = write_kitti_tree(tmp_path / "kitti", frames=3, suffix=".jpg")
    dataset = KittiDataset(root, variant="camera_z", require_depth=True)
    assert len(dataset) == 3 and dataset[2]["image"].shape == (3, *IMAGE_SIZE)


def test_annotated_ground_truth(tmp_path):
    root = write_kitti_tree(tmp_path / "kitti", frames=4, annotated=True)
    dataset = KittiDataset(root, split="eigen", gt="annotated", image_size=(375, 1242))
    path = root / DATE / DRIVE / "proj_depth" / "groundtruth" / "image_02" / "0000000001.png"
    expected = read_annotated_depth(path)
    np.testing.assert_array_equal(dataset[0]["depth"][0].numpy(), expected)
    # KITTI depth's own layout: DEPTH_ROOT/train/DRIVE/proj_depth/...
    depth_root = tmp_path / "kitti_depth"
    shutil.copytree(root / DATE / DRIVE / "proj_depth", depth_root / "train" / DRIVE / "proj_depth")
    shutil.rmtree(root / DATE / DRIVE / "proj_depth")
    moved = KittiDataset(root, split="eigen", gt="annotated", depth_root=depth_root)
    np.testing.assert_array_equal(moved.depth(0), expected)
    with pytest.raises(MdkError, match=r"2 of 2 entries.*proj_depth/groundtruth"):
        KittiDataset(root, split="eigen", gt="annotated")


def test_augmentation_and_datamodule(kitti_root):
    dataset = KittiDataset(
        kitti_root, stereo=True, augment=AugmentOptions(flip=True, color_jitter=1.0)
    )
    torch.manual_seed(0)
    for index in range(len(dataset)):
        validate_batch(
            dataset[index], required=("image", "depth", "K", "image_stereo"), batched=False
        )
    assert get_dataset_builder("kitti") is KittiDataset
    module = DepthDataModule(
        dataset="kitti",
        root=str(kitti_root),
        batch_size=2,
        num_workers=0,
        frame_offsets=[-1, 1],
        train_split="all",
        val_split="eigen",
        dataset_options={"variant": "camera_z"},
    )
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    validate_batch(batch, required=("image", "depth", "K", "image_-1", "image_+1"))
    assert batch["image"].shape == (2, 3, *IMAGE_SIZE)


# --- bad input -----------------------------------------------------------------------------


def test_wrong_root_shows_the_layout(kitti_root, tmp_path):
    with pytest.raises(MdkError, match=r"image_0\{2,3\}/data"):
        KittiDataset(tmp_path / "missing")
    with pytest.raises(MdkError, match="looks like a date folder"):
        KittiDataset(kitti_root / DATE)
    with pytest.raises(MdkError, match="looks like a drive folder"):
        KittiDataset(kitti_root / DATE / DRIVE)


def test_missing_split_entries_are_counted(kitti_root):
    lines = [f"{DATE}/{DRIVE} {frame} l" for frame in range(3, 12)]
    split = kitti_root / "mine.txt"
    split.write_text("\n".join(lines) + "\n")
    with pytest.raises(MdkError) as error:
        KittiDataset(kitti_root, split=str(split))
    message = str(error.value)
    assert "7 of 9 entries" in message and f"'{DATE}/{DRIVE} 5 l'" in message
    assert "and 2 more" in message
    # A missing scan is reported too, with the way out.
    (kitti_root / DATE / DRIVE / "velodyne_points" / "data" / "0000000003.bin").unlink()
    with pytest.raises(MdkError, match=r"1 of 2 entries.*0000000003\.bin missing.*gt: none"):
        KittiDataset(kitti_root, split="eigen")


def test_missing_split_file_says_how_to_get_it(kitti_root):
    with pytest.raises(MdkError, match="mdk data splits --download"):
        KittiDataset(kitti_root, split="eigen_zhou/train")


def test_bad_files_are_reported_with_their_path(kitti_root):
    scan = kitti_root / DATE / DRIVE / "velodyne_points" / "data" / "0000000001.bin"
    scan.write_bytes(scan.read_bytes()[:-3])
    image = kitti_root / DATE / DRIVE / "image_02" / "data" / "0000000003.png"
    image.write_bytes(image.read_bytes()[:40])
    dataset = KittiDataset(kitti_root, split="eigen")
    with pytest.raises(MdkError, match=r"0000000001\.bin"):
        dataset[0]
    with pytest.raises(MdkError, match=r"image_02/data/0000000003\.png"):
        dataset[1]


def test_bad_options(kitti_root):
    with pytest.raises(MdkError, match="gt"):
        KittiDataset(kitti_root, gt="lidar")
    with pytest.raises(MdkError, match="require_depth"):
        KittiDataset(kitti_root, gt="none", require_depth=True)
    with pytest.raises(MdkError, match="side"):
        KittiDataset(kitti_root, side="left")


# --- mdk data kitti-gt ---------------------------------------------------------------------


def test_kitti_gt_writes_the_split_ground_truth(kitti_root, tmp_path, capsys):
    # Images are not needed to export Velodyne ground truth.
    shutil.rmtree(kitti_root / DATE / DRIVE / "image_02")
    out = tmp_path / "gt" / "gt_depths.npz"
    assert (
        main(
            [
                "data",
                "kitti-gt",
                "--split",
                "eigen",
                "--root",
                str(kitti_root),
                "--out",
                str(out),
                "--workers",
                "1",
            ]
        )
        == 0
    )
    names, depths = load_gt_depths(out)
    assert names == [f"{DRIVE}/0000000001", f"{DRIVE}/0000000003"]
    calibration = read_raw_calibration(kitti_root / DATE)
    for frame, depth in zip((1, 3), depths, strict=True):
        scan = read_velodyne(
            kitti_root / DATE / DRIVE / "velodyne_points" / "data" / f"{frame:010d}.bin"
        )
        np.testing.assert_array_equal(depth, velodyne_to_depth(scan, calibration, 2))
        assert depth.shape == (375, 1242) and depth.dtype == np.float32
    # Monodepth2's evaluate_depth.py reads the same layout.
    assert np.load(out, allow_pickle=True)["data"].shape == (2,)
    out_z = tmp_path / "gt_z.npz"
    assert (
        main(
            [
                "data",
                "kitti-gt",
                "--split",
                "eigen",
                "--root",
                str(kitti_root),
                "--out",
                str(out_z),
                "--variant",
                "camera_z",
                "--workers",
                "2",
            ]
        )
        == 0
    )
    _, depths_z = load_gt_depths(out_z)
    assert not np.array_equal(depths_z[0], depths[0]) and (depths_z[0] > 0).sum() > 100
    assert "wrote" in capsys.readouterr().out


def test_kitti_gt_reports_missing_scans(kitti_root, tmp_path, capsys):
    shutil.rmtree(kitti_root / DATE / DRIVE / "velodyne_points")
    code = main(
        [
            "data",
            "kitti-gt",
            "--split",
            "eigen",
            "--root",
            str(kitti_root),
            "--out",
            str(tmp_path / "x.npz"),
        ]
    )
    assert code == 2
    assert "2 of 2 entries of split 'eigen'" in capsys.readouterr().err
