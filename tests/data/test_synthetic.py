"""The procedural synthetic world: exact geometry, depth ranges, files on disk, caching."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from monodepthkit.data.io import read_depth_png, read_matrix, read_rgb
from monodepthkit.data.synthetic import PRESETS, generate_world, render_sequence
from monodepthkit.errors import MdkError
from monodepthkit.geometry import warp_to_target

# Indoor renders at 2:1 here: at NYU's 4:3 fx ~= fy, so swapping the x and y roles of K would
# hardly change a warp and could not be told apart from rendering noise.
GEOMETRY_CASES = {
    "driving": {"seed": 0, "width": 416, "height": 128},
    "indoor": {"seed": 3, "width": 256, "height": 128},
}
CORRECT_BELOW = 0.012  # mean absolute error, images in [0, 1]


@pytest.fixture(scope="module", params=sorted(GEOMETRY_CASES))
def rendered(request) -> tuple[str, dict]:
    case = GEOMETRY_CASES[request.param]
    sequence = render_sequence(
        request.param, case["seed"], 0, 2, case["width"], case["height"], stereo=True
    )
    return request.param, sequence


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


def _warp(target, source, depth_target, depth_source, T_source_target, K):
    """Per-pixel photometric error of source warped into target, and the co-visible pixels."""
    image_t = _to_tensor(target).permute(2, 0, 1)[None].float() / 255
    image_s = _to_tensor(source).permute(2, 0, 1)[None].float() / 255
    depth_t = _to_tensor(depth_target)[None, None]
    depth_s = _to_tensor(depth_source)[None, None]
    T = _to_tensor(T_source_target)[None].float()
    K = _to_tensor(K)[None].float()
    warped, inside, source_z = warp_to_target(image_s, depth_t, T, K)
    sampled_depth, _, _ = warp_to_target(depth_s, depth_t, T, K)
    # Occluded in the source: the point is behind what the source depth map sees there.
    visible = (depth_t > 0) & inside & ((source_z - sampled_depth).abs() <= 0.02 * sampled_depth)
    return (warped - image_t).abs().mean(dim=1, keepdim=True), visible, inside


def _photometric_errors(target, source, depth_target, depth_source, T, K, corruptions):
    """Mean error with the true geometry and with each corruption, on the truly co-visible pixels.

    The corrupted warps are scored on the pixels the true geometry finds co-visible (and that
    stay inside the source image), so every variant is compared on the same surface points.
    """
    error, visible, _ = _warp(target, source, depth_target, depth_source, T, K)
    assert visible.float().mean() > 0.5
    results = {"correct": float(error[visible].mean())}
    for name, (T_bad, K_bad) in corruptions.items():
        error_bad, _, inside = _warp(target, source, depth_target, depth_source, T_bad, K_bad)
        results[name] = float(error_bad[visible & inside].mean())
    return results


def _corruptions(T: np.ndarray, K: np.ndarray, rotation: bool = True) -> dict:
    flipped = T.copy()
    flipped[:3, 3] *= -1
    swapped = K.copy()
    swapped[0, 0], swapped[1, 1] = K[1, 1], K[0, 0]
    swapped[0, 2], swapped[1, 2] = K[1, 2], K[0, 2]
    corruptions = {"translation sign": (flipped, K), "swapped intrinsics": (T, swapped)}
    if rotation:
        transposed = T.copy()
        transposed[:3, :3] = T[:3, :3].T
        corruptions["transposed rotation"] = (transposed, K)
    return corruptions


def test_next_frame_warps_onto_the_current_frame(rendered):
    preset, sequence = rendered
    K = sequence["K"]
    T_next_current = np.linalg.inv(sequence["poses"][1]) @ sequence["poses"][0]
    # The premise of the corruption checks: clearly visible rotation and translation.
    angle = np.degrees(np.arccos(np.clip((np.trace(T_next_current[:3, :3]) - 1) / 2, -1, 1)))
    assert angle > 1.0
    assert np.linalg.norm(T_next_current[:3, 3]) > (0.5 if preset == "driving" else 0.015)

    errors = _photometric_errors(
        sequence["images"][0],
        sequence["images"][1],
        sequence["depths"][0],
        sequence["depths"][1],
        T_next_current,
        K,
        _corruptions(T_next_current, K),
    )
    assert errors["correct"] < CORRECT_BELOW, errors
    for name in ("translation sign", "transposed rotation", "swapped intrinsics"):
        assert errors[name] > CORRECT_BELOW, (name, errors)
        assert errors[name] > 3 * errors["correct"], (name, errors)


def test_right_image_warps_onto_the_left_image(rendered):
    preset, sequence = rendered
    K = sequence["K"]
    T_right_left = sequence["T_right_left"]
    baseline = PRESETS[preset].stereo_baseline
    np.testing.assert_allclose(
        T_right_left, np.array([[1, 0, 0, -baseline], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    )
    # A rectified pair has no rotation to transpose, and with fx ~= fy (driving) a swap of K
    # only matters through the principal point, which a pure x-translation hardly sees.
    corruptions = _corruptions(T_right_left, K, rotation=False)
    if preset == "driving":
        corruptions.pop("swapped intrinsics")
    errors = _photometric_errors(
        sequence["images"][0],
        sequence["images_right"][0],
        sequence["depths"][0],
        sequence["depths_right"][0],
        T_right_left,
        K,
        corruptions,
    )
    assert errors["correct"] < CORRECT_BELOW, errors
    for name in corruptions:
        assert errors[name] > CORRECT_BELOW, (name, errors)
        assert errors[name] > 3 * errors["correct"], (name, errors)


def test_driving_depth_is_z_depth_on_the_road():
    sequence = render_sequence("driving", 1, 0, 1)
    K, pose, depth = sequence["K"], sequence["poses"][0], sequence["depths"][0]
    height, width = depth.shape
    # The bottom centre of the image sees the road ahead (no vehicle ever stands there).
    v, u = np.mgrid[height - 3 : height, width // 2 - 20 : width // 2 + 20]
    z = depth[v, u]
    assert np.all(z > 0)
    points = np.linalg.inv(K) @ np.stack([u.ravel(), v.ravel(), np.ones(u.size)]) * z.ravel()
    world = pose[:3, :3] @ points + pose[:3, 3:4]
    np.testing.assert_allclose(world[1], 0.0, atol=2e-3)  # the road is the plane y = 0


@pytest.mark.parametrize(
    ("preset", "low", "high", "valid_share"),
    [("driving", 1.0, 80.0, 0.55), ("indoor", 0.3, 10.0, 0.95)],
)
def test_depth_ranges_are_plausible(preset, low, high, valid_share):
    shares = []
    for index in range(3):
        sequence = render_sequence(
            preset, 7, index, 2, width=160, height=64 if preset == "driving" else 120
        )
        depth = sequence["depths"]
        valid = depth > 0
        shares.append(valid.mean())
        assert depth.dtype == np.float32
        assert low <= depth[valid].min() and depth[valid].max() <= high
        assert np.ptp(depth[valid]) > (20.0 if preset == "driving" else 1.0)
        image = sequence["images"]
        assert image.dtype == np.uint8 and image.shape == (*depth.shape, 3)
        if preset == "driving":
            _assert_invalid_is_sky_or_far(sequence)
    assert min(shares) > valid_share


def _assert_invalid_is_sky_or_far(sequence: dict) -> None:
    """Depth 0 only where a ray points up or reaches the ground beyond max_depth."""
    K = sequence["K"]
    depth = sequence["depths"][0]
    v, u = np.nonzero(depth == 0)
    rays = sequence["poses"][0][:3, :3] @ np.linalg.inv(K) @ np.stack([u, v, np.ones(u.size)])
    camera_height = -sequence["poses"][0][1, 3]
    assert np.all(rays[1] < camera_height / PRESETS["driving"].max_depth + 1e-6)
    assert (depth[0] == 0).any()  # some sky in the top row


def test_generate_world_round_trip(tmp_path):
    root = generate_world(
        tmp_path / "world",
        preset="driving",
        num_sequences=3,
        frames_per_sequence=3,
        seed=5,
        width=96,
        height=32,
        stereo=True,
        workers=1,
        progress=False,
    )
    meta = json.loads((root / "meta.json").read_text())
    assert meta["preset"] == "driving" and meta["depth_scale"] == 256
    assert (meta["num_sequences"], meta["frames_per_sequence"]) == (3, 3)
    assert (meta["width"], meta["height"], meta["stereo"]) == (96, 32, True)
    assert meta["max_depth"] == 80.0 and isinstance(meta["generator_version"], int)

    for index in range(3):
        folder = root / f"seq_{index:04d}"
        expected = render_sequence("driving", 5, index, 3, 96, 32, stereo=True)
        for frame in range(3):
            stem = f"{frame:06d}.png"
            np.testing.assert_array_equal(
                read_rgb(folder / "image" / stem), expected["images"][frame]
            )
            np.testing.assert_array_equal(
                read_rgb(folder / "image_right" / stem), expected["images_right"][frame]
            )
            for name, key in (("depth", "depths"), ("depth_right", "depths_right")):
                stored = read_depth_png(folder / name / stem)
                np.testing.assert_allclose(stored, expected[key][frame], atol=0.5 / 256 + 1e-6)
        np.testing.assert_array_equal(read_matrix(folder / "intrinsics.txt", (3, 3)), expected["K"])
        np.testing.assert_array_equal(
            read_matrix(folder / "poses.txt", (-1, 3, 4)), expected["poses"][:, :3]
        )
        np.testing.assert_array_equal(
            read_matrix(folder / "stereo.txt", (4, 4)), expected["T_right_left"]
        )
        np.testing.assert_array_equal(
            read_matrix(folder / "timestamps.txt", (-1,)), expected["timestamps"]
        )
        np.testing.assert_allclose(expected["timestamps"], [0.0, 0.1, 0.2])

    splits = {
        name: (root / "splits" / f"{name}.txt").read_text().splitlines()
        for name in ("train", "val", "test")
    }
    sequences = {name: {line.split()[0] for line in lines} for name, lines in splits.items()}
    assert sequences == {"train": {"seq_0000"}, "val": {"seq_0001"}, "test": {"seq_0002"}}
    assert splits["test"] == ["seq_0002 000000", "seq_0002 000001", "seq_0002 000002"]


def test_generate_world_is_cached_and_guards_its_folder(tmp_path):
    arguments = {
        "preset": "indoor",
        "num_sequences": 1,
        "frames_per_sequence": 2,
        "width": 64,
        "height": 48,
        "workers": 1,
        "progress": False,
    }
    root = generate_world(tmp_path / "world", **arguments)
    files = sorted(path for path in root.rglob("*") if path.is_file())
    stamps = [path.stat().st_mtime_ns for path in files]

    start = time.perf_counter()
    assert generate_world(tmp_path / "world", **arguments) == root
    assert time.perf_counter() - start < 0.5
    assert [path.stat().st_mtime_ns for path in files] == stamps

    with pytest.raises(MdkError, match=r"world.*frames_per_sequence=2 \(requested 3\)"):
        generate_world(tmp_path / "world", **{**arguments, "frames_per_sequence": 3})
    with pytest.raises(MdkError, match="seed"):
        generate_world(tmp_path / "world", **{**arguments, "seed": 1})
    # An interrupted run leaves its marker: the next run starts over and drops stale output.
    (root / ".synthetic_incomplete").write_text("")
    (root / "seq_0007" / "image").mkdir(parents=True)
    generate_world(tmp_path / "world", **arguments)
    assert not (root / "seq_0007").exists() and not (root / ".synthetic_incomplete").exists()
    assert generate_world(tmp_path / "world", **arguments) == root

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(MdkError, match=r"other.*not empty"):
        generate_world(tmp_path / "other", **arguments)


def test_generate_world_is_deterministic(tmp_path):
    arguments = {
        "preset": "driving",
        "num_sequences": 2,
        "frames_per_sequence": 2,
        "width": 64,
        "height": 32,
        "progress": False,
    }
    first = generate_world(tmp_path / "a", seed=11, workers=1, **arguments)
    second = generate_world(tmp_path / "b", seed=11, workers=2, **arguments)
    other = generate_world(tmp_path / "c", seed=12, workers=1, **arguments)
    for relative in (
        "seq_0000/image/000001.png",
        "seq_0001/depth/000000.png",
        "seq_0001/poses.txt",
        "splits/train.txt",
    ):
        assert (first / relative).read_bytes() == (second / relative).read_bytes()
    assert (first / "seq_0000/image/000000.png").read_bytes() != (
        other / "seq_0000/image/000000.png"
    ).read_bytes()
    assert (first / "seq_0000/poses.txt").read_bytes() != (
        other / "seq_0000/poses.txt"
    ).read_bytes()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"preset": "forest"}, r"'forest'.*driving, indoor"),
        ({"preset": "driving", "width": 4}, "width.*between 16 and 8192.*4"),
        ({"preset": "indoor", "height": 64.5}, "height must be an integer"),
        ({"preset": "driving", "num_frames": 0}, "num_frames must be a positive integer"),
    ],
)
def test_bad_arguments_raise_mdk_error(arguments, message):
    call = {"preset": "driving", "seed": 0, "sequence_index": 0, "num_frames": 1, **arguments}
    with pytest.raises(MdkError, match=message):
        render_sequence(**call)


def test_generate_world_rejects_a_bad_preset(tmp_path):
    with pytest.raises(MdkError, match="unknown synthetic preset 'kitti'"):
        generate_world(tmp_path / "w", preset="kitti", progress=False)
    assert not (tmp_path / "w").exists()


def test_presets_use_the_published_intrinsics():
    K = PRESETS["driving"].camera_matrix(416, 128)
    np.testing.assert_allclose(K, [[0.58 * 416, 0, 208], [0, 1.92 * 128, 64], [0, 0, 1]])
    K = PRESETS["indoor"].camera_matrix(320, 240)
    # Halving moves pixel centres: c' = (c + 0.5) / 2 - 0.5.
    np.testing.assert_allclose(
        K,
        [
            [518.8579 / 2, 0, (325.5824 + 0.5) / 2 - 0.5],
            [0, 519.4696 / 2, (253.7362 + 0.5) / 2 - 0.5],
            [0, 0, 1],
        ],
    )
    assert (PRESETS["driving"].width, PRESETS["driving"].height) == (416, 128)
    assert (PRESETS["indoor"].width, PRESETS["indoor"].height) == (320, 240)
