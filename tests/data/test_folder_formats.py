"""Folder format extensions: depth as .npy/.exr/scaled PNG, intrinsics from a file or a field of
view, 4x4 poses, sequences without per-sequence files, and the downscaled-copy cache."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import write_tree
from monodepthkit.data.folder import FolderDataset
from monodepthkit.data.io import (
    ResizeCache,
    exr_supported,
    intrinsics_from_fov,
    read_depth,
    read_rgb,
    write_depth_png,
    write_matrix,
    write_rgb,
)
from monodepthkit.errors import MdkError


def write_images(folder: Path, frames: int = 3, size: tuple[int, int] = (24, 32)) -> list[str]:
    rng = np.random.default_rng(1)
    stems = [f"{i:06d}" for i in range(frames)]
    for stem in stems:
        write_rgb(folder / "image" / f"{stem}.png", rng.integers(0, 256, (*size, 3), np.uint8))
    return stems


def test_npy_depth_in_metres(tmp_path):
    stems = write_images(tmp_path)
    depth = np.linspace(0.5, 30.0, 24 * 32, dtype=np.float32).reshape(24, 32)
    depth[0, :3] = [np.nan, np.inf, -1.0]  # all read as "no depth"
    (tmp_path / "depth").mkdir()
    for stem in stems:
        np.save(tmp_path / "depth" / f"{stem}.npy", depth)
    sample = FolderDataset(tmp_path, require_depth=True)[1]
    expected = depth.copy()
    expected[0, :3] = 0.0
    np.testing.assert_array_equal(sample["depth"][0].numpy(), expected)
    np.save(tmp_path / "depth" / "000002.npy", depth[None])  # [1, H, W] is not a depth map
    with pytest.raises(MdkError, match=r"000002\.npy: expected a depth map \[H, W\]"):
        read_depth(tmp_path / "depth" / "000002.npy")


def test_png_depth_with_declared_scale_and_mixed_formats(tmp_path):
    stems = write_images(tmp_path)
    depth = np.full((24, 32), 3.217, dtype=np.float32)
    write_depth_png(tmp_path / "depth" / f"{stems[0]}.png", depth, scale=1000.0)
    np.save(tmp_path / "depth" / f"{stems[1]}.npy", depth)
    write_depth_png(tmp_path / "depth" / f"{stems[2]}.png", depth, scale=1000.0)
    (tmp_path / "meta.json").write_text(json.dumps({"depth_scale": 1000}))
    dataset = FolderDataset(tmp_path, require_depth=True)
    for index in range(3):
        np.testing.assert_allclose(dataset[index]["depth"][0].numpy(), 3.217, atol=1e-6)


def test_exr_depth_reads_or_fails_clearly(tmp_path):
    path = tmp_path / "depth.exr"
    if exr_supported():
        import cv2

        cv2.imwrite(str(path), np.full((4, 5), 2.5, dtype=np.float32))
        np.testing.assert_allclose(read_depth(path), 2.5)
    else:
        path.write_bytes(b"v/1\x01 not really exr")
        message = r"depth\.exr: this OpenCV .* cannot read OpenEXR; convert the depth to \.npy"
        with pytest.raises(MdkError, match=message):
            read_depth(path)


def test_field_of_view_gives_intrinsics(tmp_path):
    write_images(tmp_path, size=(24, 32))
    (tmp_path / "meta.json").write_text(json.dumps({"fov_deg": 90}))
    dataset = FolderDataset(tmp_path, frame_offsets=[-1, 1])  # context frames need K
    K = dataset[0]["K"].double().numpy()
    np.testing.assert_allclose(K, [[16.0, 0, 15.5], [0, 16.0, 11.5], [0, 0, 1]], atol=1e-5)
    half = FolderDataset(tmp_path, image_size=(12, 16))[0]["K"].double().numpy()
    np.testing.assert_allclose(half[0, 0], 8.0, atol=1e-5)
    np.testing.assert_allclose(half[0, 2], 7.5, atol=1e-5)
    vertical = intrinsics_from_fov(60.0, (480, 640), "vertical")
    assert vertical[1, 1] == pytest.approx(240.0 / math.tan(math.radians(30.0)))
    diagonal = intrinsics_from_fov(90.0, (30, 40), "diagonal")
    assert diagonal[0, 0] == pytest.approx(25.0)
    (tmp_path / "meta.json").write_text(json.dumps({"fov_deg": 190}))
    with pytest.raises(MdkError, match=r"meta\.json: fov_deg: expected a field of view in"):
        FolderDataset(tmp_path)


def test_context_frames_without_intrinsics_name_both_fixes(tmp_path):
    write_images(tmp_path)
    with pytest.raises(MdkError, match=r"intrinsics\.txt: file not found .*fov_deg"):
        FolderDataset(tmp_path, frame_offsets=[1])


def test_shared_root_intrinsics_and_sequences(tmp_path):
    for name in ("walk_a", "walk_b"):
        write_images(tmp_path / name, frames=4)
    K = np.array([[20.0, 0, 15.5], [0, 20.0, 11.5], [0, 0, 1]])
    write_matrix(tmp_path / "intrinsics.txt", K)
    dataset = FolderDataset(tmp_path, frame_offsets=[-1, 1])
    assert len(dataset) == 2 * 2
    sample = dataset[0]
    assert sample["name"] == "walk_a/000001"
    torch.testing.assert_close(sample["K"], torch.from_numpy(K).float())
    np.testing.assert_array_equal(
        (sample["image_+1"] * 255).round().byte().permute(1, 2, 0).numpy(),
        read_rgb(tmp_path / "walk_a" / "image" / "000002.png"),
    )
    own = K.copy()
    own[0, 0] = 30.0
    write_matrix(tmp_path / "walk_b" / "intrinsics.txt", own)  # a sequence's own K wins
    assert float(FolderDataset(tmp_path)[5]["K"][0, 0]) == pytest.approx(30.0)


def test_poses_as_4x4_rows_equal_3x4_rows(tmp_path):
    write_tree(tmp_path / "a", frames=3)
    write_tree(tmp_path / "b", frames=3)
    poses = np.loadtxt(tmp_path / "b" / "poses.txt").reshape(3, 3, 4)
    full = np.concatenate([poses, np.tile([[[0, 0, 0, 1.0]]], (3, 1, 1))], axis=1)
    write_matrix(tmp_path / "b" / "poses.txt", full.reshape(3, 16))
    dataset = FolderDataset(tmp_path, frame_offsets=[1])
    torch.testing.assert_close(dataset[0]["T_+1"], dataset[2]["T_+1"])
    write_matrix(tmp_path / "b" / "poses.txt", full.reshape(3, 16)[:2])
    with pytest.raises(MdkError, match=r"poses\.txt: expected one pose per image \(3\)"):
        FolderDataset(tmp_path)


# --- the cache of downscaled copies ---------------------------------------------------------


def test_cache_gives_identical_samples(tmp_path):
    root = write_tree(tmp_path / "data", frames=3, size=(48, 64))
    plain = FolderDataset(root, image_size=(24, 32), frame_offsets=[1])
    cached = FolderDataset(root, image_size=(24, 32), frame_offsets=[1], cache_dir=tmp_path / "c")
    for _ in range(2):  # first pass writes the copies, the second reads them
        for index in range(len(plain)):
            a, b = plain[index], cached[index]
            assert a.keys() == b.keys()
            for key in a:
                if isinstance(a[key], torch.Tensor):
                    torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    copies = sorted(p.relative_to(tmp_path / "c") for p in (tmp_path / "c").rglob("*.npy"))
    assert Path("24x32/image/000000.png.npy") in copies
    assert Path("24x32/depth/000000.png.npy") in copies
    assert np.load(tmp_path / "c" / "24x32" / "image" / "000000.png.npy").shape == (24, 32, 3)


def test_cache_remakes_stale_copies(tmp_path):
    root = write_tree(tmp_path / "data", frames=1, size=(48, 64))
    cache = ResizeCache(tmp_path / "c", root, (24, 32))
    source = root / "image" / "000000.png"
    first, size = cache.rgb(source)
    assert size == (48, 64) and first.shape == (24, 32, 3)
    write_rgb(source, np.zeros((48, 64, 3), np.uint8))
    copy = cache.cache_path(source)
    old = copy.stat().st_mtime_ns - 10**9
    os.utime(copy, ns=(old, old))  # the copy is now older than its source
    again, _ = cache.rgb(source)
    assert int(again.max()) == 0
    copy.write_bytes(b"half-written")  # a crashed writer: made again, not an error
    assert cache.rgb(source)[0].shape == (24, 32, 3)


def test_rgb_reader_keeps_its_error_message(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(MdkError, match=r"broken\.png: expected an RGB image \(png/jpg\)"):
        read_rgb(tmp_path / "broken.png")
    with pytest.raises(MdkError, match=r"nothing\.png: image file not found"):
        read_rgb(tmp_path / "nothing.png")
