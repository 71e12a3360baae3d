"""Writers: every format reads back to the values written; PLY reprojects to ground truth."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from monodepthkit import MdkError
from monodepthkit.data.io import read_rgb
from monodepthkit.data.synthetic import render_sequence
from monodepthkit.geometry.camera import project_points
from monodepthkit.inference.writers import (
    colorize,
    read_ply,
    read_png16,
    robust_range,
    side_by_side,
    write_ply,
    write_prediction,
)


def _depth(height: int = 12, width: int = 20, seed: int = 0) -> np.ndarray:
    depth = np.random.default_rng(seed).uniform(0.5, 90.0, (height, width)).astype(np.float32)
    depth[0, :3] = 0.0  # invalid pixels
    return depth


def test_every_format_is_written_and_reads_back(tmp_path):
    depth = _depth()
    image = np.random.default_rng(1).integers(0, 256, (*depth.shape, 3), dtype=np.uint8)
    K = np.array([[15.0, 0, 9.5], [0, 15.0, 5.5], [0, 0, 1]])
    formats = ["npy", "png16", "color", "side_by_side", "ply"]
    files = write_prediction(tmp_path, "sub/frame", depth, image, formats, "depth", "turbo", K=K)
    assert [f.name for f in files] == [
        "frame.npy",
        "frame.png",
        "frame_color.png",
        "frame_side_by_side.png",
        "frame.ply",
    ]
    np.testing.assert_array_equal(np.load(tmp_path / "sub/frame.npy"), depth)
    png = read_png16(tmp_path / "sub/frame.png")
    assert np.abs(png - depth).max() <= 0.5 / 256 + 1e-6  # rounding to the nearest 1/256 m
    colours = read_rgb(tmp_path / "sub/frame_color.png")
    np.testing.assert_array_equal(colours, colorize(depth, "turbo"))
    pair = read_rgb(tmp_path / "sub/frame_side_by_side.png")
    np.testing.assert_array_equal(pair, np.concatenate([image, colours], axis=1))
    points, point_colours = read_ply(tmp_path / "sub/frame.ply")
    valid = depth > 0
    np.testing.assert_allclose(points[:, 2], depth[valid], rtol=1e-6)
    np.testing.assert_array_equal(point_colours, image[valid])


def test_png16_saturates_and_zeroes_invalid_values(tmp_path):
    values = np.array([[0.0, -1.0, np.nan, 300.0, 1.0 / 256]], dtype=np.float32)
    write_prediction(tmp_path, "x", values, np.zeros((1, 5, 3), np.uint8), ["png16"])
    np.testing.assert_allclose(read_png16(tmp_path / "x.png"), [[0, 0, 0, 65535 / 256, 1 / 256]])


def test_colorize_maps_the_robust_range_to_the_ends_of_the_map():
    values = np.array([[1.0, 2.0, 3.0, 0.0]])
    lookup = matplotlib.colormaps["magma"](np.linspace(0, 1, 256))[:, :3] * 255 + 0.5
    lookup = lookup.astype(np.uint8)
    depth_colours = colorize(values, "magma", value_range=(1.0, 3.0))
    # Depth: near (1 m) is the bright end of the map, far (3 m) the dark end, 0 is black.
    np.testing.assert_array_equal(depth_colours[0, :3], lookup[[255, 128, 0]])
    np.testing.assert_array_equal(depth_colours[0, 3], [0, 0, 0])
    disparity_colours = colorize(values, "magma", value_range=(1.0, 3.0), near_is_high=True)
    np.testing.assert_array_equal(disparity_colours[0, :3], lookup[[0, 128, 255]])
    grey = colorize(values, "gray", value_range=(1.0, 3.0), near_is_high=True)
    np.testing.assert_array_equal(grey[0, :3, 0], [0, 128, 255])
    with pytest.raises(MdkError, match="unknown colour map 'nope'"):
        colorize(values, "nope")


def test_robust_range_ignores_outliers_and_invalid_pixels():
    values = np.concatenate([np.linspace(1.0, 10.0, 1000), [1e6, 0.0, np.nan, np.inf]])
    low, high = robust_range(values, (2, 98))
    assert low == pytest.approx(np.percentile([*np.linspace(1, 10, 1000), 1e6], 2))
    assert high < 11.0
    assert robust_range(np.zeros(5)) == (0.0, 1.0)


def test_side_by_side_resizes_the_image():
    pair = side_by_side(np.zeros((20, 40, 3), np.uint8), np.ones((10, 20, 3), np.uint8))
    assert pair.shape == (10, 40, 3)


def test_ply_of_a_synthetic_frame_reprojects_to_the_ground_truth(tmp_path):
    frame = render_sequence("driving", seed=0, sequence_index=0, num_frames=1, width=96, height=32)
    depth, image, K = frame["depths"][0], frame["images"][0], frame["K"]
    write_ply(tmp_path / "frame.ply", depth, K, image)
    points, colours = read_ply(tmp_path / "frame.ply")
    assert len(points) == int((depth > 0).sum()) > 0
    pixels, z = project_points(
        torch.from_numpy(points.T[None]).double(), torch.from_numpy(K[None]).double()
    )
    u, v = pixels[0].numpy()
    columns, rows = np.rint(u).astype(int), np.rint(v).astype(int)
    # Points land on integer pixel centres (float32 storage: within 1e-3 px) ...
    assert np.abs(u - columns).max() < 1e-3 and np.abs(v - rows).max() < 1e-3
    # ... whose ground-truth depth is the point's z, and whose colour is the image's.
    np.testing.assert_allclose(z[0, 0].numpy(), depth[rows, columns], rtol=1e-6)
    rebuilt = np.zeros_like(depth)
    rebuilt[rows, columns] = z[0, 0].numpy()
    np.testing.assert_allclose(rebuilt, depth, rtol=1e-6)
    np.testing.assert_array_equal(colours, image[rows, columns])


def test_ply_needs_intrinsics_and_inverts_disparity(tmp_path):
    disparity = np.array([[0.5, 0.25]], dtype=np.float32)
    image = np.zeros((1, 2, 3), np.uint8)
    with pytest.raises(MdkError, match="the ply format needs intrinsics"):
        write_prediction(tmp_path, "d", disparity, image, ["ply"], "disparity")
    K = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1]])
    write_prediction(tmp_path, "d", disparity, image, ["ply"], "disparity", K=K)
    points, _ = read_ply(tmp_path / "d.ply")
    np.testing.assert_allclose(points, [[0, 0, 2.0], [4.0, 0, 4.0]])  # x = u * z / fx
