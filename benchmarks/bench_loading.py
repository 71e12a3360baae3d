"""Loader throughput at KITTI size: samples/s against DataLoader workers, with and without cache.

    python benchmarks/bench_loading.py [--frames 120] [--workers 0 1 2] [--batch-size 8]

Writes a temporary folder-format tree of 1242x375 RGB PNGs (real KITTI frames from
../shared/realdata when present, else a procedural texture) with sparse LiDAR-like 16-bit depth
PNGs, then times `FolderDataset` at 640x192 with Monodepth2's augmentation (flips, colour jitter
with probability 0.5) for a supervised sample (image + depth) and a self-supervised triplet
(frames -1, 0, +1), reading the PNGs every time or from a `ResizeCache` of 640x192 ``.npy``
copies. Every process runs torch with one thread, as DataLoader workers do. It prints the cost
of each step of one sample, the throughput table, and how fast `mdk data check` goes through
the same tree.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from monodepthkit.data.check import run_check
from monodepthkit.data.folder import FolderDataset
from monodepthkit.data.io import (
    read_depth_png,
    read_rgb,
    write_depth_png,
    write_matrix,
    write_rgb,
)
from monodepthkit.data.transforms import (
    AugmentOptions,
    augment_sample,
    resize_depth,
    resize_image,
    to_depth_tensor,
    to_image_tensor,
)

SOURCE_SIZE = (375, 1242)  # KITTI (height, width)
TARGET_SIZE = (192, 640)
KITTI_FRAMES = Path(__file__).resolve().parents[2] / "shared/realdata/kitti_object_frames/image_2"
AUGMENT = AugmentOptions(flip=True, color_jitter=0.5)  # Monodepth2's


def write_kitti_like_tree(root: Path, frames: int) -> str:
    """A one-sequence folder tree of KITTI-sized frames; returns where the images came from."""
    sources = sorted(KITTI_FRAMES.glob("*.png")) if KITTI_FRAMES.is_dir() else []
    if sources:
        bases = [cv2.resize(read_rgb(p), SOURCE_SIZE[::-1]) for p in sources]
        origin = f"{len(bases)} real KITTI frames, shifted"
    else:
        rng = np.random.default_rng(0)
        noise = rng.normal(0, 1, (SOURCE_SIZE[0] // 8, SOURCE_SIZE[1] // 8, 3))
        smooth = cv2.resize(noise, SOURCE_SIZE[::-1], interpolation=cv2.INTER_CUBIC)
        bases = [np.clip(smooth * 60 + 120, 0, 255).astype(np.uint8)]
        origin = "procedural texture (no ../shared/realdata)"
    rng = np.random.default_rng(1)
    for index in range(frames):
        # Shifted copies: every file differs, the content (and PNG size) stays realistic.
        image = np.roll(bases[index % len(bases)], 7 * index, axis=1)
        write_rgb(root / "image" / f"{index:06d}.png", image)
        depth = np.zeros(SOURCE_SIZE, np.float32)
        rows = rng.integers(150, SOURCE_SIZE[0], 19000)
        cols = rng.integers(0, SOURCE_SIZE[1], 19000)
        depth[rows, cols] = rng.uniform(2.0, 80.0, rows.size)
        write_depth_png(root / "depth" / f"{index:06d}.png", depth)
    K = np.array([[721.5377, 0.0, 609.5593], [0.0, 721.5377, 172.854], [0.0, 0.0, 1.0]])
    write_matrix(root / "intrinsics.txt", K)
    return origin


def step_costs(root: Path, cache_dir: Path, repeats: int = 20) -> list[tuple[str, float]]:
    """Milliseconds per sample of each step, in one process."""
    image_path, depth_path = root / "image" / "000000.png", root / "depth" / "000000.png"
    image, depth = read_rgb(image_path), read_depth_png(depth_path)
    small = resize_image(image, TARGET_SIZE)
    sample = {
        "image": to_image_tensor(small),
        "depth": to_depth_tensor(resize_depth(depth, TARGET_SIZE)),
        "K": torch.eye(3),
    }
    no_hue = AugmentOptions(flip=True, color_jitter=1.0, hue=0.0)
    hue_only = AugmentOptions(
        flip=False, color_jitter=1.0, brightness=0.0, contrast=0.0, saturation=0.0
    )
    cached = FolderDataset(root, image_size=TARGET_SIZE, cache_dir=cache_dir)
    cached[0]
    rows = [
        ("decode 1242x375 RGB PNG", lambda: read_rgb(image_path)),
        ("decode 1242x375 depth PNG (16-bit)", lambda: read_depth_png(depth_path)),
        ("resize RGB to 640x192 (area)", lambda: resize_image(image, TARGET_SIZE)),
        ("resize depth to 640x192 (nearest)", lambda: resize_depth(depth, TARGET_SIZE)),
        ("to tensors", lambda: (to_image_tensor(small), to_depth_tensor(depth))),
        ("flip + brightness/contrast/saturation", lambda: augment_sample(sample, no_hue)),
        ("hue jitter (torchvision, when drawn)", lambda: augment_sample(sample, hue_only)),
        (
            "load cached 640x192 RGB + depth (.npy)",
            lambda: (cached._read_image(image_path), cached._read_depth(depth_path)),
        ),
    ]
    return [(name, _milliseconds(fn, repeats)) for name, fn in rows]


def throughput(dataset: FolderDataset, workers: int, batch_size: int) -> float:
    """Samples per second over one pass, after the first batch (worker start-up excluded)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)
    iterator = iter(loader)
    next(iterator)
    count, start = 0, time.perf_counter()
    for batch in iterator:
        count += batch["image"].shape[0]
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="frames in the tree (default 120)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    # DataLoader workers run torch with one thread; the 0-worker column does the same, so that it
    # measures the loading work and not thread contention (small tensor ops on 2+ threads of a
    # busy machine were 100x slower here).
    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp(prefix="mdk_bench_loading_"))
    try:
        root, cache_dir = folder / "kitti", folder / "cache"
        origin = write_kitti_like_tree(root, args.frames)
        costs = step_costs(root, cache_dir)
        shutil.rmtree(cache_dir)
        setups = {
            "image + depth, PNG": dict(require_depth=True),
            "image + depth, cache": dict(require_depth=True, cache_dir=cache_dir),
            "triplet (-1, 0, +1), PNG": dict(frame_offsets=(-1, 1)),
            "triplet (-1, 0, +1), cache": dict(frame_offsets=(-1, 1), cache_dir=cache_dir),
        }
        table = {}
        for name, options in setups.items():
            dataset = FolderDataset(root, image_size=TARGET_SIZE, augment=AUGMENT, **options)
            if "cache_dir" in options:
                for index in range(len(dataset)):  # the first epoch makes the copies
                    dataset[index]
            table[name] = [throughput(dataset, w, args.batch_size) for w in args.workers]
        start = time.perf_counter()
        report = run_check("folder", root, workers=8)
        check_seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    machine = platform.processor() or platform.machine()
    print(
        f"\nLoader throughput, {SOURCE_SIZE[1]}x{SOURCE_SIZE[0]} PNG -> {TARGET_SIZE[1]}x"
        f"{TARGET_SIZE[0]} + flip + colour jitter (p 0.5), {args.frames} frames ({origin}), "
        f"batch {args.batch_size}; {os.cpu_count()} CPUs ({machine}), "
        f"torch {torch.__version__}, OpenCV {cv2.__version__}\n"
    )
    print("| step (one process) | ms per sample |\n|:--|--:|")
    for name, value in costs:
        print(f"| {name} | {value:.2f} |")
    print()
    header = " | ".join(f"{w} workers" for w in args.workers)
    print(f"| samples/s | {header} |\n|:--|" + "--:|" * len(args.workers))
    for name, values in table.items():
        print(f"| {name} | " + " | ".join(f"{v:.0f}" for v in values) + " |")
    files = report.counts["frames"] + report.counts["depth maps"]
    print(
        f"\n`mdk data check` on the same tree (8 threads): {files} files in {check_seconds:.2f} s "
        f"({files / check_seconds:.0f} files/s), {len(report.problems)} problems"
    )


def _milliseconds(fn: Callable[[], object], repeats: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000.0


if __name__ == "__main__":
    main()
