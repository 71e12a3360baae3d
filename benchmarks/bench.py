"""Throughput on this machine: synthetic rendering, data loading, U-Net and GAN training, inference.

    python benchmarks/bench.py [--frames 1000] [--device cpu|cuda]

Prints a markdown table. All image work is at 416x128 (the driving preset's size).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from monodepthkit.data.folder import FolderDataset
from monodepthkit.data.synthetic import generate_world
from monodepthkit.models import create_model

HEIGHT, WIDTH = 128, 416


def bench_rendering(root: Path, frames: int, workers: int) -> tuple[str, float, str]:
    sequences = max(1, frames // 25)
    start = time.perf_counter()
    generate_world(
        root,
        preset="driving",
        num_sequences=sequences,
        frames_per_sequence=25,
        workers=workers,
        progress=False,
    )
    elapsed = time.perf_counter() - start
    total = sequences * 25
    return (
        f"synthetic rendering + PNG writing ({workers} processes)",
        total / elapsed,
        f"frames/s ({total} frames in {elapsed:.1f} s)",
    )


def bench_loading(
    root: Path, batch_size: int, workers: int, batches: int = 60
) -> tuple[str, float, str]:
    dataset = FolderDataset(root, split="train", require_depth=True)
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True
    )
    iterator = iter(loader)
    next(iterator)  # worker start-up is not throughput
    start = time.perf_counter()
    count = 0
    for _ in range(batches):
        try:
            next(iterator)
        except StopIteration:
            iterator = iter(loader)
            next(iterator)
        count += 1
    elapsed = time.perf_counter() - start
    return (f"data loading, batch {batch_size} ({workers} workers)", count / elapsed, "batches/s")


def bench_training(
    width: int, batch_size: int, device: torch.device, steps: int = 5
) -> tuple[str, float, str]:
    model = create_model("unet", width=width, depth=4, max_depth=80.0).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    image = torch.rand(batch_size, 3, HEIGHT, WIDTH, device=device)
    target = torch.rand(batch_size, 1, HEIGHT, WIDTH, device=device) * 80

    def step() -> None:
        loss = (model(image)["depth"] - target).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    elapsed = _timed(step, steps, device)
    return (
        f"U-Net width {width} training step, batch {batch_size}",
        batch_size * steps / elapsed,
        "images/s",
    )


def bench_gan_training(
    width: int, batch_size: int, device: torch.device, steps: int = 5
) -> tuple[str, float, str]:
    """Report 1's GAN: one generator step then one discriminator step (70x70 PatchGAN)."""
    from monodepthkit.tasks.adversarial import AdversarialTask

    task = AdversarialTask(
        model_kwargs={"width": width, "depth": 4, "head": "sigmoid", "max_depth": 80.0},
        loss_depth_scale=80.0,
    )
    task = task.to(device).train()
    g_optimizer, d_optimizer = task.configure_optimizers()
    image = torch.rand(batch_size, 3, HEIGHT, WIDTH, device=device)
    target = torch.rand(batch_size, 1, HEIGHT, WIDTH, device=device) * 80

    def step() -> None:
        task.discriminator.requires_grad_(False)
        depth = task(image)["depth"]
        g_loss, _ = task.generator_loss(image, depth, target)
        g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        g_optimizer.step()
        task.discriminator.requires_grad_(True)
        d_loss, _, _ = task.discriminator_loss(image, depth.detach(), target)
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optimizer.step()

    elapsed = _timed(step, steps, device)
    return (
        f"GAN (U-Net width {width} + PatchGAN 70x70) G+D training step, batch {batch_size}",
        batch_size * steps / elapsed,
        "images/s",
    )


@torch.no_grad()
def bench_inference(
    width: int, batch_size: int, device: torch.device, steps: int = 10
) -> tuple[str, float, str]:
    model = create_model("unet", width=width, depth=4, max_depth=80.0).to(device).eval()
    image = torch.rand(batch_size, 3, HEIGHT, WIDTH, device=device)
    elapsed = _timed(lambda: model(image), steps, device)
    return (
        f"U-Net width {width} inference, batch {batch_size}",
        batch_size * steps / elapsed,
        "images/s",
    )


def _timed(fn, steps: int, device: torch.device) -> float:
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000, help="frames to render (default 1000)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "world"
        rows.append(bench_rendering(root, args.frames, workers=2))
        rows.append(bench_loading(root, batch_size=8, workers=2))
    for width in (16, 32):
        rows.append(bench_training(width, 8, device))
    for width in (16, 32):
        rows.append(bench_gan_training(width, 8, device))
    for width in (16, 32):
        rows.append(bench_inference(width, 1, device))
        rows.append(bench_inference(width, 8, device))
    print(
        f"\nmonodepthkit benchmarks at {WIDTH}x{HEIGHT} on {args.device} "
        f"({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__})\n"
    )
    print("| what | throughput | unit |\n|:--|--:|:--|")
    for name, value, unit in rows:
        print(f"| {name} | {value:.1f} | {unit} |")


if __name__ == "__main__":
    main()
