import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from monodepthkit.errors import MdkError
from monodepthkit.eval import (
    accumulate_snippet,
    compute_ate,
    evaluate_pose_sequence,
    make_snippets,
    read_kitti_poses,
    relative_poses_from_global,
    snippet_ate,
)

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
ODOMETRY_POSES = REALDATA / "kitti_odom_gt_poses"
ODOMETRY_SPLIT = REALDATA / "kitti_splits" / "monodepth2_odom__test_files_09.txt"


def _transform(rotvec=(0.0, 0.0, 0.0), translation=(0.0, 0.0, 0.0)) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    T[:3, 3] = translation
    return T


def _driving_sequence(frames=12, seed=0) -> np.ndarray:
    """Camera-to-world poses of a camera driving forward (z) while turning slowly."""
    rng = np.random.default_rng(seed)
    poses = [np.eye(4)]
    for _ in range(frames - 1):
        step = _transform(rng.normal(0, 0.02, 3), (rng.normal(0, 0.05), 0.0, 1.0))
        poses.append(poses[-1] @ step)
    return np.stack(poses)


def _need(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"{path} not found (shared real data absent)")


# --- snippet ATE by hand --------------------------------------------------------------------------


def test_snippet_ate_by_hand():
    gt = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    pred = np.array([[0.0, 0, 0], [1, 1, 0], [2, -1, 0]])
    # scale = (1 + 4) / (1 + 1 + 4 + 1) = 5/7; errors (0,0), (-2/7, 5/7), (-4/7, -5/7);
    # sqrt((4 + 25 + 16 + 25) / 49) / 3 = sqrt(10/7) / 3.
    expected = math.sqrt(10 / 7) / 3
    assert snippet_ate(pred, gt) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.398410, abs=1e-6)
    # Only the first position is aligned: a shifted prediction gives the same error.
    assert snippet_ate(pred + np.array([3.0, -2.0, 7.0]), gt) == pytest.approx(expected, rel=1e-12)


def test_snippet_ate_aligns_first_frames_by_hand():
    # The prediction is offset by (1, 0, 0): shifted to (0,0,0), (0,0,2) -> scale 1, error 0.
    gt = np.array([[0.0, 0, 0], [0, 0, 2]])
    pred = np.array([[1.0, 0, 0], [1, 0, 2]])
    assert snippet_ate(pred, gt) == 0.0
    # A prediction that does not move gets scale 0: error sqrt(4) / 2 = 1.
    assert snippet_ate(np.zeros((2, 3)), gt) == pytest.approx(1.0)


def test_compute_ate_mean_and_std_by_hand():
    gt = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    pred_exact = 4.0 * gt  # scale aligned: error 0
    pred_noisy = np.array([[0.0, 0, 0], [1, 1, 0], [2, -1, 0]])  # sqrt(10/7)/3, see above
    mean, std = compute_ate([pred_exact, pred_noisy], [gt, gt])
    error = math.sqrt(10 / 7) / 3
    assert mean == pytest.approx(error / 2, rel=1e-12)
    assert std == pytest.approx(error / 2, rel=1e-12)  # population std of (0, e)


def test_compute_ate_accepts_pose_snippets():
    gt_poses = np.stack([_transform(translation=(0, 0, k)) for k in range(3)])
    pred_poses = np.stack([_transform((0, 0.1 * k, 0), (0, 0, 0.5 * k)) for k in range(3)])
    assert compute_ate([pred_poses[:, :3]], [gt_poses]) == (0.0, 0.0)  # [n, 3, 4] and [n, 4, 4]


# --- accumulation and relative poses --------------------------------------------------------------


def test_accumulate_snippet_by_hand():
    relative = np.stack([_transform(translation=(1, 0, 0)), _transform(translation=(0, 2, 0))])
    np.testing.assert_allclose(accumulate_snippet(relative), [[0, 0, 0], [1, 0, 0], [1, 2, 0]])
    # Right-multiplication in temporal order (the reference protocol): the second translation
    # is rotated by the first rotation, 90 degrees about z maps (1, 0, 0) to (0, 1, 0).
    relative = np.stack([_transform((0, 0, math.pi / 2)), _transform(translation=(1, 0, 0))])
    np.testing.assert_allclose(
        accumulate_snippet(relative), [[0, 0, 0], [0, 0, 0], [0, 1, 0]], atol=1e-12
    )


def test_relative_poses_from_global_by_hand():
    # Camera 1 is 1 m ahead (z) of camera 0: camera-0 points are 1 m closer in camera 1.
    global_poses = np.stack([np.eye(4), _transform(translation=(0, 0, 1))])
    relative = relative_poses_from_global(global_poses)
    np.testing.assert_allclose(relative, _transform(translation=(0, 0, -1))[None])


def test_relative_poses_match_the_reference_formula():
    # The reference evaluation writes the local ground truth as inv(inv(G[i-1]) @ G[i]).
    global_poses = _driving_sequence(frames=6, seed=3)
    expected = [
        np.linalg.inv(np.linalg.inv(global_poses[i - 1]) @ global_poses[i])
        for i in range(1, len(global_poses))
    ]
    np.testing.assert_allclose(relative_poses_from_global(global_poses), expected, atol=1e-12)


def test_make_snippets_lengths_and_content():
    relative = relative_poses_from_global(_driving_sequence(frames=8))
    snippets = make_snippets(relative)
    assert len(snippets) == 7
    assert [len(s) for s in snippets] == [5, 5, 5, 5, 4, 3, 2]
    np.testing.assert_allclose(snippets[2], accumulate_snippet(relative[2:6]))


# --- protocol properties --------------------------------------------------------------------------


def test_ground_truth_against_itself_is_zero():
    global_poses = _driving_sequence()
    relative = relative_poses_from_global(global_poses)
    assert evaluate_pose_sequence(relative, global_poses) == (0.0, 0.0)


def test_scaled_prediction_is_aligned_to_zero_error():
    global_poses = _driving_sequence(seed=1)
    relative = relative_poses_from_global(global_poses)
    scaled = relative.copy()
    scaled[:, :3, 3] *= 0.037  # a monocular network's arbitrary scale
    mean, std = evaluate_pose_sequence(scaled, global_poses)
    assert mean < 1e-12 and std < 1e-12


def test_sign_flip_is_absorbed_but_standing_still_is_not():
    global_poses = _driving_sequence(seed=2)
    relative = relative_poses_from_global(global_poses)
    flipped = relative.copy()
    flipped[:, :3, 3] *= -1.0
    mean, _ = evaluate_pose_sequence(flipped, global_poses)
    assert mean < 1e-9  # a global sign is a negative scale, which least squares absorbs
    still = np.tile(np.eye(4), (len(relative), 1, 1))
    mean_still, _ = evaluate_pose_sequence(still, global_poses)
    # Standing still: scale 0, error sqrt(sum |g_k|^2) / n; with 1 m steps that is over 0.5 m.
    assert mean_still > 0.5


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(MdkError, match="2 predicted snippets but 1 ground-truth"):
        compute_ate([np.zeros((5, 3))] * 2, [np.zeros((5, 3))])
    with pytest.raises(MdkError, match="differ in length"):
        snippet_ate(np.zeros((5, 3)), np.zeros((4, 3)))
    with pytest.raises(MdkError, match=r"expected 11 relative poses|expected \d+"):
        evaluate_pose_sequence(np.tile(np.eye(4), (3, 1, 1)), _driving_sequence())
    bad = tmp_path / "poses.txt"
    bad.write_text("1 0 0 0 0 1 0 0 0 0 1 0\n1 0 0 0 0 1 0 0 0 0 1\n")
    with pytest.raises(MdkError, match=r"poses.txt:2: expected 12 numbers .* found 11"):
        read_kitti_poses(bad)
    with pytest.raises(MdkError, match="not found"):
        read_kitti_poses(tmp_path / "missing.txt")


def test_read_kitti_poses_round_trip(tmp_path):
    global_poses = _driving_sequence(frames=4)
    path = tmp_path / "04.txt"
    np.savetxt(path, global_poses[:, :3].reshape(-1, 12), fmt="%.9e")
    np.testing.assert_allclose(read_kitti_poses(path), global_poses, atol=1e-8)


# --- KITTI odometry sequence 09 (real ground truth) ---------------------------------------------


def test_kitti_09_ground_truth_reads_and_matches_the_split():
    _need(ODOMETRY_POSES / "09.txt")
    _need(ODOMETRY_SPLIT)
    poses = read_kitti_poses(ODOMETRY_POSES / "09.txt")
    assert poses.shape == (1591, 4, 4)
    np.testing.assert_allclose(poses[0], np.eye(4), atol=1e-6)
    rotations = poses[:, :3, :3]
    np.testing.assert_allclose(
        rotations @ rotations.transpose(0, 2, 1),
        np.broadcast_to(np.eye(3), rotations.shape),
        atol=1e-5,
    )
    # Monodepth2's odometry split lists one line per consecutive pair of sequence 09.
    split = [line.split() for line in ODOMETRY_SPLIT.read_text().splitlines() if line.strip()]
    assert len(split) == len(poses) - 1
    assert [int(s[1]) for s in split] == list(range(len(poses) - 1))
    steps = np.linalg.norm(relative_poses_from_global(poses)[:, :3, 3], axis=1)
    assert 0.5 < np.median(steps) < 2.0  # a car at 10 Hz: about a metre per frame


def test_kitti_09_ate_of_itself_scaled_and_perturbed():
    _need(ODOMETRY_POSES / "09.txt")
    gt_global = read_kitti_poses(ODOMETRY_POSES / "09.txt")
    gt_relative = relative_poses_from_global(gt_global)
    assert evaluate_pose_sequence(gt_relative, gt_global) == (0.0, 0.0)
    scaled = gt_relative.copy()
    scaled[:, :3, 3] *= 0.02
    mean, _ = evaluate_pose_sequence(scaled, gt_global)
    assert mean < 1e-9

    rng = np.random.default_rng(0)

    def perturbed(sigma_translation: float, sigma_rotation: float) -> np.ndarray:
        noise = np.stack(
            [
                _transform(rng.normal(0, sigma_rotation, 3), rng.normal(0, sigma_translation, 3))
                for _ in gt_relative
            ]
        )
        return noise @ gt_relative

    small_mean, small_std = evaluate_pose_sequence(perturbed(0.02, 0.002), gt_global)
    large_mean, _ = evaluate_pose_sequence(perturbed(0.08, 0.008), gt_global)
    # Published pose networks score about 0.01-0.02 m on 09; 2 cm / 0.1 degree noise per frame
    # lands in the same range, four times more noise gives about four times the error.
    assert 0.003 < small_mean < 0.03, (small_mean, small_std)
    assert 0.0 < small_std < small_mean * 2
    assert 2.5 < large_mean / small_mean < 6.0, (small_mean, large_mean)
