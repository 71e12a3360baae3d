"""`mdk eval pose` on a miniature KITTI odometry sequence, against the ATE computed by hand."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import REALDATA
from monodepthkit.cli import main
from monodepthkit.data.io import read_rgb, write_rgb

FRAMES = 8
IMAGE_SIZE = (96, 312)


def write_odometry_replica(root: Path) -> Path:
    """ROOT/sequences/09/image_2/00000N.png (8 frames) and ROOT/poses/09.txt (the first 8 real
    poses of sequence 09 when ../shared/realdata has them, else a gentle left turn)."""
    rng = np.random.default_rng(1)
    photos = sorted((REALDATA / "kitti_object_frames" / "image_2").glob("*.png"))
    for frame in range(FRAMES):
        if photos:
            photo = read_rgb(photos[frame % len(photos)])
            image = cv2.resize(photo, IMAGE_SIZE[::-1], interpolation=cv2.INTER_AREA)
            image = np.roll(image, 5 * frame, axis=1)
        else:
            image = rng.integers(0, 256, (*IMAGE_SIZE, 3), dtype=np.uint8)
        write_rgb(root / "sequences" / "09" / "image_2" / f"{frame:06d}.png", image)
    real = REALDATA / "kitti_odom_gt_poses" / "09.txt"
    (root / "poses").mkdir(parents=True, exist_ok=True)
    if real.is_file():
        lines = real.read_text().splitlines()[:FRAMES]
    else:
        lines = []
        for frame in range(FRAMES):
            yaw = 0.02 * frame
            pose = np.array(
                [
                    [np.cos(yaw), 0, np.sin(yaw), 0.3 * frame * np.sin(yaw)],
                    [0, 1, 0, 0.01 * frame],
                    [-np.sin(yaw), 0, np.cos(yaw), 1.1 * frame],
                ]
            )
            lines.append(" ".join(f"{v:.6e}" for v in pose.ravel()))
    (root / "poses" / "09.txt").write_text("\n".join(lines) + "\n")
    return root


def rodrigues(axis_angle: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(axis_angle)
    if angle < 1e-12:
        return np.eye(3)
    k = axis_angle / angle
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def ate_by_hand(pred: list[np.ndarray], gt_global: np.ndarray) -> tuple[float, float]:
    """SfMLearner's snippet ATE as Monodepth2's evaluate_pose.py runs it."""
    gt_local = [
        np.linalg.inv(np.linalg.inv(gt_global[i - 1]) @ gt_global[i])
        for i in range(1, len(gt_global))
    ]

    def xyz(transforms):
        current, points = np.eye(4), [np.zeros(3)]
        for transform in transforms:
            current = current @ transform
            points.append(current[:3, 3])
        return np.array(points)

    errors = []
    for i in range(len(gt_global) - 1):
        p, g = xyz(pred[i : i + 4]), xyz(gt_local[i : i + 4])
        p = p + (g[0] - p[0])
        scale = np.sum(g * p) / np.sum(p**2)
        errors.append(np.sqrt(np.sum((p * scale - g) ** 2)) / len(g))
    return float(np.mean(errors)), float(np.std(errors))


def test_eval_pose_on_kitti_odometry(tmp_path, capsys):
    from checkpoints.test_import_monodepth2 import HEIGHT, WIDTH, _write_release

    root = write_odometry_replica(tmp_path / "KITTI_ODOM")
    nets = _write_release(tmp_path / "weights", use_stereo=False, pose="separate", seed=7)
    checkpoint = tmp_path / "mono.ckpt"
    argv = ["convert", "monodepth2", "--weights-dir", str(tmp_path / "weights")]
    assert main([*argv, "--out", str(checkpoint)]) == 0
    capsys.readouterr()
    argv = ["eval", "pose", "--checkpoint", str(checkpoint), "--root", str(root)]
    assert main([*argv, "--sequence", "09", "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "sequence 09: ATE" in printed and f"over {FRAMES - 1} snippets" in printed
    result = json.loads((tmp_path / "out" / "pose.json").read_text())

    # Monodepth2's networks on each pair (i, i + 1), resized as documented (antialiased bilinear)
    images = []
    for frame in range(FRAMES):
        path = root / "sequences" / "09" / "image_2" / f"{frame:06d}.png"
        image = torch.from_numpy(read_rgb(path)).permute(2, 0, 1)[None].float() / 255
        images.append(F.interpolate(image, (HEIGHT, WIDTH), mode="bilinear", antialias=True))
    for net in nets.values():
        net.eval()
    predicted = []
    with torch.no_grad():
        for first, second in itertools.pairwise(images):
            features = nets["pose_encoder"](torch.cat([first, second], 1))
            axis_angle, translation = nets["pose"]([features])
            transform = np.eye(4)
            transform[:3, :3] = rodrigues(axis_angle[0, 0, 0].double().numpy())
            transform[:3, 3] = translation[0, 0, 0].double().numpy()
            predicted.append(transform)
    gt = np.loadtxt(root / "poses" / "09.txt").reshape(-1, 3, 4)
    gt = np.concatenate([gt, np.tile([[[0, 0, 0, 1.0]]], (len(gt), 1, 1))], axis=1)
    mean, std = ate_by_hand(predicted, gt)
    assert result["ate_mean"] == pytest.approx(mean, rel=1e-4)
    assert result["ate_std"] == pytest.approx(std, rel=1e-4)
    assert result["snippets"] == FRAMES - 1 and mean > 0


def test_eval_pose_errors(tmp_path, capsys, tiny_checkpoint):
    root = write_odometry_replica(tmp_path / "KITTI_ODOM")
    argv = ["eval", "pose", "--checkpoint", str(tiny_checkpoint), "--root", str(root)]
    assert main(argv) == 2
    assert "no pose network" in capsys.readouterr().err
    assert main([*argv[:-1], str(tmp_path), "--sequence", "10"]) == 2
    assert "sequences/10/image_2" in capsys.readouterr().err
    (root / "poses" / "09.txt").unlink()
    assert main(argv) == 2
    assert "data_odometry_poses" in capsys.readouterr().err
