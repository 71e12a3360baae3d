"""NYU raw video: Kinect disparity, registration, timestamp sync, triplets; SUN/TUM depth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import REALDATA
from monodepthkit.data.io import read_sun_depth_png, read_tum_depth_png
from monodepthkit.data.nyu import (
    DEPTH_INTRINSICS,
    RGB_INTRINSICS,
    NyuRawDataset,
    kinect_disparity_to_depth,
    kinect_intrinsics,
    parse_raw_name,
    read_raw_depth,
    read_raw_disparity,
    register_depth_to_rgb,
    sync_scene,
)
from monodepthkit.errors import MdkError

OTHER_FORMATS = REALDATA / "open3d_rgbd" / "other_formats"


def realdata(name: str) -> Path:
    path = OTHER_FORMATS / name
    if not path.is_file():
        pytest.skip(f"{path} not found (../shared/realdata is only on the build machines)")
    return path


# --- depth decoders on real frames ----------------------------------------------------------


def test_real_nyu_raw_depth_decodes_to_plausible_metres():
    disparity = read_raw_disparity(realdata("NYU_depth.pgm"))
    assert disparity.shape == (480, 640) and disparity.dtype == np.uint16
    assert disparity.max() == 2047  # the invalid code appears only after the byte swap
    depth = read_raw_depth(realdata("NYU_depth.pgm"))
    valid = depth[depth > 0]
    assert valid.size / depth.size > 0.85
    assert valid.min() > 1.0 and valid.max() < 8.0 and 2.0 < np.median(valid) < 5.0
    # Formula check on one pixel: 351.3 / (1092.5 - raw).
    row, col = np.argwhere(disparity < 2047)[0]
    assert depth[row, col] == pytest.approx(351.3 / (1092.5 - float(disparity[row, col])))


def test_real_nyu_raw_depth_registers_into_the_rgb_camera():
    depth = read_raw_depth(realdata("NYU_depth.pgm"))
    registered = register_depth_to_rgb(read_raw_disparity(realdata("NYU_depth.pgm")))
    valid = registered[registered > 0]
    assert valid.size / registered.size > 0.6
    assert np.median(valid) == pytest.approx(np.median(depth[depth > 0]), rel=0.03)


def test_real_sun_depth_decodes_to_plausible_metres():
    depth = read_sun_depth_png(realdata("SUN_depth.png"))
    valid = depth[depth > 0]
    assert valid.size / depth.size > 0.7
    assert valid.min() > 0.5 and valid.max() < 10.0 and 1.5 < np.median(valid) < 5.0


def test_real_tum_depth_decodes_to_plausible_metres():
    depth = read_tum_depth_png(realdata("TUM_depth.png"))
    valid = depth[depth > 0]
    assert valid.size / depth.size > 0.7
    assert valid.min() > 0.5 and valid.max() < 10.0 and 1.5 < np.median(valid) < 5.0


def test_sun_bit_rotation_roundtrip(tmp_path):
    millimetres = np.array([[0, 1, 1234, 8191]], dtype=np.uint16)
    stored = ((millimetres << 3) | (millimetres >> 13)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "sun.png"), stored)
    np.testing.assert_allclose(read_sun_depth_png(tmp_path / "sun.png"), millimetres / 1000.0)


def test_kinect_disparity_conversion():
    raw = np.array([[2047, 1092, 1093, 0, 1000, 1090]], dtype=np.uint16)
    depth = kinect_disparity_to_depth(raw)
    assert depth[0, 0] == 0 and depth[0, 2] == 0  # invalid code; beyond the asymptote
    assert depth[0, 1] == pytest.approx(10.0)  # 702.6 m clamped to the toolbox's 10 m
    assert depth[0, 3] == pytest.approx(351.3 / 1092.5)
    assert depth[0, 4] == pytest.approx(351.3 / 92.5)
    assert kinect_disparity_to_depth(raw, max_depth=None)[0, 5] == pytest.approx(351.3 / 2.5)


def test_registration_moves_points_by_the_kinect_baseline():
    """A 10x10 patch at 1.5 m seen by the depth camera lands where the RGB camera sees it."""
    z = 1.5
    disparity = np.full((480, 640), 2047, dtype=np.uint16)
    d = round(1092.5 - 351.3 / z)
    disparity[235:245, 310:320] = d
    z = 351.3 / (1092.5 - d)
    registered = register_depth_to_rgb(disparity)
    rows, cols = np.nonzero(registered)
    assert len(rows) > 40
    # Undistortion blends the patch edge (as in the toolbox); the inside keeps its depth.
    assert np.median(registered[rows, cols]) == pytest.approx(z, rel=2e-3)
    np.testing.assert_allclose(registered[rows, cols], z, rtol=1e-2)
    # Pinhole prediction for the patch centre (distortion is negligible near the centre), with
    # the toolbox's extrinsics: p_rgb = inv(M) p_depth - (t_x, t_z, t_y).
    M = np.array(
        [
            [9.9997798940829263e-01, 5.0518419386157446e-03, 4.3011152014118693e-03],
            [-5.0359919480810989e-03, 9.9998051861143999e-01, -3.6879781309514218e-03],
            [-4.3196624923060242e-03, 3.6662365748484798e-03, 9.9998394948385538e-01],
        ]
    )
    fx_d, fy_d, cx_d, cy_d = DEPTH_INTRINSICS
    point = np.array([(314.5 - cx_d) * z / fx_d, (239.5 - cy_d) * z / fy_d, z])
    point = np.linalg.solve(M, point) - np.array([2.5031875e-02, -2.9342313e-04, 6.6238747e-04])
    fx, fy, cx, cy = RGB_INTRINSICS
    assert cols.mean() == pytest.approx(fx * point[0] / point[2] + cx, abs=1.0)
    assert rows.mean() == pytest.approx(fy * point[1] / point[2] + cy, abs=1.0)
    # The baseline alone moves the patch by 2.5 cm at 1.5 m: about 8.7 pixels to the left.
    assert cols.mean() < 314.5 + (cx - cx_d) - 5


# --- scene folders: timestamps, sync, triplets ----------------------------------------------


RGB_TIMES = [100.000, 100.033, 100.066, 100.100, 100.133, 100.166]
DEPTH_TIMES = [100.010, 100.040, 100.070, 100.172]  # nothing near 100.100 or 100.133
PLANE_DISPARITY = 859  # 351.3 / (1092.5 - 859) = 1.5045 m


def write_scene(folder: Path, rgb_times=RGB_TIMES, depth_times=DEPTH_TIMES) -> Path:
    """A raw NYU scene folder: r-<time>-<n>.ppm frames and d-<time>-<n>.pgm byte-swapped dumps."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, cols = np.mgrid[0:480, 0:640]
    for index, time in enumerate(rgb_times):
        image = np.stack([rows % 256, cols % 256, np.full_like(rows, 30 * index)], axis=-1)
        name = f"r-{time:.6f}-{3000000000 + index}.ppm"
        cv2.imwrite(str(folder / name), image.astype(np.uint8)[..., ::-1])
    for index, time in enumerate(depth_times):
        disparity = np.full((480, 640), PLANE_DISPARITY, dtype=np.uint16)
        disparity[:5] = 2047
        # cv2 writes 16-bit PGM big-endian; the Kinect dumps hold the swapped bytes.
        cv2.imwrite(str(folder / f"d-{time:.6f}-{4000000000 + index}.pgm"), disparity.byteswap())
    (folder / "INDEX.txt").write_text("not a frame\n")
    (folder / "a-100.000000-1.dump").write_bytes(b"\x00" * 8)
    return folder


@pytest.fixture(scope="module")
def raw_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nyu_raw")
    write_scene(root / "bedroom_0001")
    write_scene(root / "kitchen_0002", rgb_times=[7.0, 7.05, 7.1], depth_times=[7.0])
    return root


def test_file_names_parse():
    assert parse_raw_name("r-1294886360.208451-2996770081.ppm") == ("r", 1294886360.208451)
    assert parse_raw_name("d-1294886360.186556-2995096231.pgm") == ("d", 1294886360.186556)
    assert parse_raw_name("a-1294886360.186556-2995096231.dump") is None
    assert parse_raw_name("r-1294886360.208451-2996770081.pgm") is None
    assert parse_raw_name("INDEX.txt") is None


def test_rgb_frames_sync_to_nearest_depth(raw_root):
    frames = sync_scene(raw_root / "bedroom_0001", max_time_diff=0.02)
    assert [f.time for f in frames] == RGB_TIMES
    depth_times = [None if f.depth is None else parse_raw_name(f.depth.name)[1] for f in frames]
    assert depth_times == [100.010, 100.040, 100.070, None, None, 100.172]
    assert frames[0].depth_time_diff == pytest.approx(0.010)
    assert frames[3].depth_time_diff == pytest.approx(0.030)  # nearest is 100.070, too far


def test_triplets_are_consecutive_frames(raw_root):
    dataset = NyuRawDataset(raw_root, frame_offsets=[-1, 1], undistort=False)
    assert len(dataset) == (6 - 2) + (3 - 2)  # scene ends lack a neighbour
    sample = dataset[0]
    assert sample["name"].startswith("bedroom_0001/r-100.033000-")
    assert set(sample) == {"name", "image", "image_-1", "image_+1", "K"}
    for key, frame in (("image_-1", 0), ("image", 1), ("image_+1", 2)):
        assert round(float(sample[key][2, 0, 0]) * 255) == 30 * frame
    assert round(float(sample["image"][0, 300, 7]) * 255) == 300 % 256  # not transposed
    torch.testing.assert_close(sample["K"], torch.from_numpy(kinect_intrinsics()).float())
    strided = NyuRawDataset(raw_root, frame_offsets=[-1, 1], frame_stride=2, undistort=False)
    assert len(strided) == 2 + 0
    assert round(float(strided[0]["image_+1"][2, 0, 0]) * 255) == 30 * 4
    gapped = NyuRawDataset(raw_root, frame_offsets=[1], max_frame_gap=0.04, undistort=False)
    assert len(gapped) == 5  # kitchen frames are 0.05 s apart


def test_depth_is_registered_and_frames_without_sync_skipped(raw_root):
    dataset = NyuRawDataset(
        raw_root / "bedroom_0001", require_depth=True, image_size=(240, 320), max_time_diff=0.02
    )
    assert len(dataset) == 4
    sample = dataset[0]
    assert sample["depth"].shape == (1, 240, 320) and sample["image"].shape == (3, 240, 320)
    valid = sample["depth"][sample["depth"] > 0]
    assert valid.numel() > 0.5 * 240 * 320
    expected = 351.3 / (1092.5 - PLANE_DISPARITY)
    assert float(valid.median()) == pytest.approx(expected, rel=0.01)
    torch.testing.assert_close(sample["K"], torch.from_numpy(kinect_intrinsics((240, 320))).float())


def test_undistortion_and_border_crop(raw_root):
    undistorted = NyuRawDataset(raw_root, split="all")[0]
    assert float(undistorted["image"][:, 0, 0].max()) == 0.0  # undistortion leaves a border
    cropped = NyuRawDataset(raw_root, border="crop", load_depth=True)[0]
    assert cropped["image"].shape == (3, 426, 560) and cropped["depth"].shape == (1, 426, 560)
    K = cropped["K"].double()
    assert float(K[0, 2]) == pytest.approx(RGB_INTRINSICS[2] - 41, abs=1e-4)
    assert float(K[1, 2]) == pytest.approx(RGB_INTRINSICS[3] - 45, abs=1e-4)


def test_split_files_select_scenes_and_frames(raw_root):
    (raw_root / "splits").mkdir(exist_ok=True)
    first = sorted((raw_root / "bedroom_0001").glob("r-*.ppm"))[2].name
    (raw_root / "splits" / "train.txt").write_text(f"kitchen_0002\nbedroom_0001 {first}\n")
    dataset = NyuRawDataset(raw_root, split="train", undistort=False)
    assert [dataset[i]["name"].split("/")[0] for i in range(len(dataset))] == [
        "kitchen_0002",
        "kitchen_0002",
        "kitchen_0002",
        "bedroom_0001",
    ]
    (raw_root / "splits" / "bad.txt").write_text("office_0009\nbedroom_0001 r-1.0-2.ppm\n")
    with pytest.raises(MdkError, match=r"bad\.txt: 2 entries have no frames .*first: office_0009"):
        NyuRawDataset(raw_root, split="bad")


def test_bad_roots_show_the_expected_layout(tmp_path):
    with pytest.raises(MdkError, match=r"NYU raw folder not found; expected ROOT/SCENE/r-"):
        NyuRawDataset(tmp_path / "missing")
    (tmp_path / "empty_scene").mkdir()
    with pytest.raises(MdkError, match=r"no scene folder with r-<time>-<n>\.ppm frames"):
        NyuRawDataset(tmp_path)
    with pytest.raises(MdkError, match="no stereo partner"):
        NyuRawDataset(tmp_path, stereo=True)


def test_corrupt_dump_is_reported_with_its_path(tmp_path):
    (tmp_path / "d-1.0-1.pgm").write_bytes(b"P5 640 480 65535\n\x00\x01")
    with pytest.raises(MdkError, match=r"d-1\.0-1\.pgm: expected a 16-bit PGM"):
        read_raw_disparity(tmp_path / "d-1.0-1.pgm")
