"""Shared fixtures: tiny datasets written in the project's folder format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monodepthkit.data.io import write_depth_png, write_matrix, write_rgb

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    """A small synthetic driving world (4 sequences x 6 frames, 128x48, with stereo)."""
    from monodepthkit.data.synthetic import generate_world

    root = tmp_path_factory.mktemp("world") / "driving"
    return generate_world(
        root,
        preset="driving",
        num_sequences=4,
        frames_per_sequence=6,
        seed=3,
        width=128,
        height=48,
        stereo=True,
        workers=1,
        progress=False,
    )


def write_tree(
    root: Path, frames: int = 4, size: tuple[int, int] = (24, 32), depth: bool = True, seed: int = 0
) -> Path:
    """Write one random folder-format sequence (image, depth, K, poses, timestamps) in ``root``."""
    rng = np.random.default_rng(seed)
    height, width = size
    for index in range(frames):
        write_rgb(
            root / "image" / f"{index:06d}.png",
            rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
        )
        if depth:
            values = rng.uniform(1.0, 20.0, (height, width))
            values[0, 0] = 0.0
            write_depth_png(root / "depth" / f"{index:06d}.png", values)
    write_matrix(root / "intrinsics.txt", np.array([[20.0, 0, 15.5], [0, 20.0, 11.5], [0, 0, 1]]))
    poses = np.tile(np.eye(4)[:3].reshape(1, 12), (frames, 1))
    poses[:, 11] = np.arange(frames) * 0.5  # moves 0.5 m forward per frame
    write_matrix(root / "poses.txt", poses)
    write_matrix(root / "timestamps.txt", (np.arange(frames) * 0.1)[:, None])
    return root


@pytest.fixture
def folder_tree(tmp_path) -> Path:
    """A random single-sequence folder dataset (4 frames, 24x32)."""
    return write_tree(tmp_path / "data")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny U-Net checkpoint trained at 32x64 on the synthetic driving world (random weights)."""
    from infer_helpers import tiny_task, write_checkpoint

    return write_checkpoint(tiny_task(), tmp_path_factory.mktemp("ckpt") / "tiny.ckpt")
