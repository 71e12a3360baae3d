"""Pose evaluation: absolute trajectory error (ATE) on short snippets, KITTI odometry poses.

The protocol is the one of Zhou et al. (SfMLearner) as run by Monodepth2 on KITTI odometry
sequences 09 and 10:

1. The pose network predicts the relative pose of every consecutive frame pair (i, i+1): a
   4x4 transform that maps frame-i camera points into the frame-(i+1) camera (`T_{i+1,i}`,
   what `transformation_from_parameters(axis_angle, translation)` gives for the pair).
   The ground truth relative poses are made the same way from the global poses
   (`relative_poses_from_global`).
2. Every run of ``track_length - 1 = 4`` consecutive relative poses is accumulated into a
   snippet of 5 camera positions, the first at the origin (`accumulate_snippet`); the last
   snippets of a sequence are shorter.
3. For each snippet, the prediction is shifted so that its first position coincides with the
   ground truth's, scaled by the least-squares factor onto the ground truth positions, and the
   error is ``sqrt(sum of squared position errors) / number of positions`` (`snippet_ate`).
4. The mean and standard deviation over snippets are reported (`compute_ate`).

Two quirks of the reference code are kept on purpose so that numbers match published tables:
snippets are accumulated by right-multiplying the relative transforms in temporal order (the
same for prediction and ground truth), and step 3 divides the root of the summed squared errors
by the number of positions instead of taking a root mean square.

Units: positions in the ground truth's units (metres for KITTI); the prediction's scale is free.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monodepthkit.errors import MdkError

TRACK_LENGTH = 5


def read_kitti_poses(path: str | Path) -> np.ndarray:
    """Read a KITTI odometry ground-truth pose file.

    Each line holds 12 numbers: a 3x4 row-major matrix ``[R | t]`` that maps camera-0 points of
    that frame into the world frame (the first camera), translations in metres.

    Args:
        path: the pose file (e.g. ``poses/09.txt``).

    Returns:
        [N, 4, 4] float64 camera-to-world transforms, one per frame.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"KITTI pose file {path} not found; pass the path of poses/<sequence>.txt")
    rows = []
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                values = [float(value) for value in line.split()]
            except ValueError:
                raise MdkError(
                    f"{path}:{number}: expected 12 numbers (a 3x4 pose), found {line.strip()!r}"
                ) from None
            if len(values) != 12:
                raise MdkError(
                    f"{path}:{number}: expected 12 numbers (a 3x4 row-major pose), "
                    f"found {len(values)}; is this a KITTI odometry pose file?"
                )
            rows.append(values)
    if not rows:
        raise MdkError(f"KITTI pose file {path} holds no poses")
    poses = np.zeros((len(rows), 4, 4))
    poses[:, :3, :] = np.asarray(rows).reshape(-1, 3, 4)
    poses[:, 3, 3] = 1.0
    return poses


def relative_poses_from_global(global_poses: np.ndarray) -> np.ndarray:
    """Relative poses of consecutive frames from camera-to-world poses.

    Args:
        global_poses: [N, 4, 4] camera-to-world transforms ``G_i`` (see `read_kitti_poses`).

    Returns:
        [N-1, 4, 4] transforms ``T_{i+1,i} = G_{i+1}^-1 @ G_i`` mapping frame-i camera points
        into the frame-(i+1) camera: the quantity a pose network predicts for the pair (i, i+1).
    """
    global_poses = _as_transforms(global_poses, "global_poses")
    if len(global_poses) < 2:
        raise MdkError(
            f"relative_poses_from_global needs at least 2 poses, got {len(global_poses)}"
        )
    return np.linalg.inv(global_poses[1:]) @ global_poses[:-1]


def accumulate_snippet(relative_poses: np.ndarray) -> np.ndarray:
    """Camera positions of a snippet from its consecutive relative poses (Monodepth2 protocol).

    Starts at the origin and right-multiplies the relative transforms in temporal order,
    ``P_k = T_1 @ T_2 @ ... @ T_k``, recording the translation of each product. Applied to
    prediction and ground truth alike, as in the reference evaluation.

    Args:
        relative_poses: [n, 4, 4] (or [n, 3, 4]) relative transforms ``T_{i+1,i}``.

    Returns:
        [n+1, 3] positions, the first one (0, 0, 0).
    """
    relative_poses = _as_transforms(relative_poses, "relative_poses")
    positions = [np.zeros(3)]
    pose = np.eye(4)
    for transform in relative_poses:
        pose = pose @ transform
        positions.append(pose[:3, 3].copy())
    return np.stack(positions)


def make_snippets(relative_poses: np.ndarray, track_length: int = TRACK_LENGTH) -> list[np.ndarray]:
    """Cut a sequence of relative poses into overlapping snippets of camera positions.

    Snippet ``i`` accumulates ``relative_poses[i : i + track_length - 1]``, for every ``i``, so
    the last ``track_length - 2`` snippets are shorter (as in the reference evaluation).

    Args:
        relative_poses: [N-1, 4, 4] relative transforms of the consecutive frame pairs.
        track_length: frames per snippet (5 in the protocol).

    Returns:
        N-1 arrays of positions [<= track_length, 3].
    """
    if track_length < 2:
        raise MdkError(f"track_length must be at least 2 frames, got {track_length}")
    relative_poses = _as_transforms(relative_poses, "relative_poses")
    return [
        accumulate_snippet(relative_poses[start : start + track_length - 1])
        for start in range(len(relative_poses))
    ]


def snippet_ate(pred_positions: np.ndarray, gt_positions: np.ndarray) -> float:
    """ATE of one snippet after first-frame alignment and least-squares scaling.

    Args:
        pred_positions: [n, 3] predicted camera positions (any scale).
        gt_positions: [n, 3] ground-truth camera positions (metres).

    Returns:
        ``sqrt(sum_k |s * p_k - g_k|^2) / n`` where ``p_k`` are the predicted positions shifted
        so that ``p_0 = g_0`` and ``s = sum(g * p) / sum(p * p)`` (0 if the prediction does not
        move). In the ground truth's units.
    """
    pred = _as_positions(pred_positions, "pred_positions")
    gt = _as_positions(gt_positions, "gt_positions")
    if pred.shape != gt.shape:
        raise MdkError(
            f"snippet_ate: prediction and ground truth snippets differ in length, "
            f"{pred.shape} vs {gt.shape}"
        )
    pred = pred + (gt[0] - pred[0])
    energy = float(np.sum(pred * pred))
    scale = float(np.sum(gt * pred)) / energy if energy > 0 else 0.0
    return float(np.sqrt(np.sum((scale * pred - gt) ** 2)) / len(gt))


def compute_ate(
    pred_snippets: Sequence[np.ndarray], gt_snippets: Sequence[np.ndarray]
) -> tuple[float, float]:
    """Mean and standard deviation of the snippet ATE over a sequence.

    Args:
        pred_snippets: predicted snippets, each [n, 3] positions or [n, 4, 4] / [n, 3, 4] poses
            expressed relative to the snippet's first frame (e.g. from `make_snippets`).
        gt_snippets: the ground-truth snippets, same count and lengths.

    Returns:
        (mean ATE, population standard deviation), in the ground truth's units.
    """
    if len(pred_snippets) != len(gt_snippets):
        raise MdkError(
            f"compute_ate: {len(pred_snippets)} predicted snippets but {len(gt_snippets)} "
            "ground-truth snippets; predict one relative pose per consecutive frame pair"
        )
    if not pred_snippets:
        raise MdkError("compute_ate: no snippets to evaluate")
    errors = np.array(
        [
            snippet_ate(_positions_of(pred), _positions_of(gt))
            for pred, gt in zip(pred_snippets, gt_snippets, strict=True)
        ]
    )
    return float(errors.mean()), float(errors.std())


def evaluate_pose_sequence(
    pred_relative_poses: np.ndarray,
    gt_global_poses: np.ndarray,
    track_length: int = TRACK_LENGTH,
) -> tuple[float, float]:
    """ATE of a whole sequence: predicted pairwise poses against global ground truth poses.

    Args:
        pred_relative_poses: [N-1, 4, 4] predicted ``T_{i+1,i}`` for each consecutive pair.
        gt_global_poses: [N, 4, 4] ground-truth camera-to-world poses (`read_kitti_poses`).
        track_length: frames per snippet (5).

    Returns:
        (mean ATE, standard deviation) over the N-1 snippets, in metres.
    """
    gt_relative = relative_poses_from_global(gt_global_poses)
    pred_relative = _as_transforms(pred_relative_poses, "pred_relative_poses")
    if len(pred_relative) != len(gt_relative):
        raise MdkError(
            f"evaluate_pose_sequence: {len(pred_relative)} predicted relative poses for "
            f"{len(gt_global_poses)} ground-truth frames; expected {len(gt_relative)} "
            "(one per consecutive pair)"
        )
    return compute_ate(
        make_snippets(pred_relative, track_length), make_snippets(gt_relative, track_length)
    )


def _as_transforms(poses: np.ndarray, name: str) -> np.ndarray:
    """[n, 3, 4] or [n, 4, 4] -> [n, 4, 4] float64."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] not in ((3, 4), (4, 4)):
        raise MdkError(f"{name} must have shape [n, 4, 4] or [n, 3, 4], got {poses.shape}")
    if poses.shape[1] == 3:
        bottom = np.broadcast_to(np.array([0.0, 0.0, 0.0, 1.0]), (len(poses), 1, 4))
        poses = np.concatenate([poses, bottom], axis=1)
    return poses


def _as_positions(positions: np.ndarray, name: str) -> np.ndarray:
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3 or len(positions) == 0:
        raise MdkError(f"{name} must have shape [n, 3] with n >= 1, got {positions.shape}")
    return positions


def _positions_of(snippet: np.ndarray) -> np.ndarray:
    """Positions [n, 3] of a snippet given as positions or as [n, 4, 4] / [n, 3, 4] poses."""
    snippet = np.asarray(snippet, dtype=np.float64)
    if snippet.ndim == 3:
        return _as_transforms(snippet, "snippet")[:, :3, 3]
    return snippet
