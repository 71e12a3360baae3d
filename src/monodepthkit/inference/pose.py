"""Pose evaluation of a checkpoint on a KITTI odometry sequence (ATE on 5-frame snippets).

The sequence's files are read by `monodepthkit.eval.odometry.odometry_files` and the snippets
scored by `monodepthkit.eval.pose.evaluate_pose_sequence`.

`evaluate_pose_checkpoint` follows Monodepth2's ``evaluate_pose.py``: the pose network sees
every consecutive pair (frame i, frame i + 1) in temporal order, resized to the network's
training size; ``transformation_from_parameters(axis_angle, translation)`` of the first motion
is the predicted ``T_{i+1,i}``; the N - 1 predictions and ground-truth relative poses are cut
into snippets of 5 frames and scored by `monodepthkit.eval.pose.evaluate_pose_sequence`.
Where we differ: frames are resized with antialiased bilinear interpolation (Monodepth2: Pillow
Lanczos), and a ``posecnn`` pose network's translation is multiplied by the mean inverse depth
of frame i, as the training warp uses it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from monodepthkit.errors import MdkError
from monodepthkit.eval.odometry import odometry_files
from monodepthkit.eval.pose import evaluate_pose_sequence, read_kitti_poses
from monodepthkit.geometry.disparity import mean_inverse_depth
from monodepthkit.geometry.pose import transformation_from_parameters
from monodepthkit.inference.device import select_device
from monodepthkit.inference.predictor import to_image_tensor
from monodepthkit.tasks.loading import read_checkpoint, task_from_checkpoint


@torch.no_grad()
def predict_relative_poses(
    task: torch.nn.Module,
    images: list[Path],
    input_size: tuple[int, int],
    device: torch.device | str = "cpu",
    batch_size: int = 8,
    progress: bool = True,
) -> np.ndarray:
    """The pose network's ``T_{i+1,i}`` for every consecutive pair of frames.

    Args:
        task: a `SelfSupervisedTask` with a pose network (``pose_net``).
        images: frame paths in temporal order (N of them).
        input_size: (height, width) the networks run at, pixels.
        device: torch device.
        batch_size: pairs per forward pass.
        progress: show a progress bar.

    Returns:
        [N - 1, 4, 4] float64 transforms mapping frame-i camera points into frame i + 1
        (translation in the network's units).

    Raises:
        MdkError: a task without a pose network, or fewer than two frames.
    """
    pose_net = getattr(task, "pose_net", None)
    if pose_net is None:
        raise MdkError(
            "the checkpoint has no pose network (a stereo-only or supervised model); "
            "evaluate pose with a mono or mono+stereo self-supervised checkpoint"
        )
    if len(images) < 2:
        raise MdkError(f"pose evaluation needs at least 2 frames, found {len(images)}")
    task = task.eval().to(device)
    poses = []
    starts = range(0, len(images) - 1, batch_size)
    for start in tqdm(starts, desc="pose", disable=not progress):
        stop = min(start + batch_size, len(images) - 1)
        frames = _load(images[start : stop + 1], input_size).to(device)
        first, second = frames[:-1], frames[1:]
        features_a = features_b = None
        if pose_net.needs_depth_features:
            features_a = task.net.encode(first)
            features_b = task.net.encode(second)
        axis_angle, translation = pose_net(first, second, features_a, features_b)
        if getattr(pose_net, "translation_times_mean_inverse_depth", False):
            depth = task.net(first)["depth"]
            translation = translation * mean_inverse_depth(depth)
        poses.append(transformation_from_parameters(axis_angle, translation).double().cpu())
    return torch.cat(poses).numpy()


def evaluate_pose_checkpoint(
    checkpoint: str | Path,
    root: str | Path,
    sequence: str | int = "09",
    device: str = "auto",
    batch_size: int = 8,
    progress: bool = True,
) -> dict[str, float]:
    """ATE of a checkpoint's pose network on a KITTI odometry sequence.

    Args:
        checkpoint: a self-supervised ``.ckpt`` (``mdk fit`` or ``mdk convert monodepth2``
            with ``pose.pth``).
        root: KITTI odometry root.
        sequence: sequence number (09 and 10 are the usual test sequences).
        device: ``auto``, ``cpu``, ``cuda``, ...
        batch_size: pairs per forward pass.
        progress: show a progress bar.

    Returns:
        ``{"ate_mean": m, "ate_std": m, "snippets": count, "frames": N}`` (metres).
    """
    images, pose_file = odometry_files(root, sequence)
    gt = read_kitti_poses(pose_file)
    if len(gt) != len(images):
        raise MdkError(
            f"{pose_file}: {len(gt)} poses for {len(images)} images; use the pose file of "
            "this sequence"
        )
    contents = read_checkpoint(checkpoint)
    task = task_from_checkpoint(contents)
    size = contents.get("datamodule_hyper_parameters", {}).get("image_size")
    if size is None:
        raise MdkError(
            f"{checkpoint}: the checkpoint does not record its training image size "
            "(datamodule image_size); re-save it with `mdk fit` or `mdk convert`"
        )
    predicted = predict_relative_poses(
        task, images, tuple(size), select_device(device), batch_size, progress
    )
    mean, std = evaluate_pose_sequence(predicted, gt)
    return {"ate_mean": mean, "ate_std": std, "snippets": len(images) - 1, "frames": len(images)}


def _load(paths: list[Path], size: tuple[int, int]) -> torch.Tensor:
    """Frames [N, 3, H, W] in [0, 1] at ``size`` (antialiased bilinear)."""
    batch = torch.stack([to_image_tensor(path) for path in paths])
    if tuple(batch.shape[-2:]) == tuple(size):
        return batch
    return F.interpolate(batch, size=tuple(size), mode="bilinear", antialias=True)
