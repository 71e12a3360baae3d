"""Self-supervised (Monodepth2) training step on the CPU: the plain path against the fast path.

    OMP_NUM_THREADS=1 python benchmarks/bench_train_fast_path.py --size 128x416 --rounds 5
    OMP_NUM_THREADS=1 python benchmarks/bench_train_fast_path.py --size 192x640 --rounds 5

One process, the two paths alternating step by step (so machine load hits both alike), mono,
ResNet-18 depth + separate ResNet-18 pose, random weights and frames. Plain: contiguous (NCHW)
tensors and Adam's per-parameter loop. Fast: channels-last weights and frames and Adam's
``foreach`` implementation; the loss and its gradients are the same numbers
(tests/tasks/test_fast_path.py). Prints a markdown table with the median step times and the ratio.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from bench_selfsup import make_batch, parse_size
from monodepthkit.tasks import SelfSupervisedTask


def build_step(task: SelfSupervisedTask, batch: dict, fast: bool):
    """One full training step (loss, backward, Adam) of ``task`` on ``batch``."""
    task = copy.deepcopy(task)
    if fast:
        task = task.to(memory_format=torch.channels_last)
        batch = {
            key: value.contiguous(memory_format=torch.channels_last) if value.dim() == 4 else value
            for key, value in batch.items()
        }
    optimizer = torch.optim.Adam(task.parameters(), lr=1e-4, foreach=fast)
    task.train()

    def step() -> None:
        loss = task.model_step(batch)[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=parse_size, default=(128, 416), help="HxW (128x416)")
    parser.add_argument("--rounds", type=int, default=5, help="timed steps per path")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layers = {"num_layers": 18, "pretrained": False}
    task = SelfSupervisedTask(depth_model_kwargs=layers, pose_model_kwargs=layers, mode="mono")
    batch = make_batch(args.batch, args.size, "mono", torch.device("cpu"))
    steps = {"plain": build_step(task, batch, False), "fast": build_step(task, batch, True)}
    for step in steps.values():
        step()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    height, width = args.size
    print(
        f"mono ResNet-18 depth + separate ResNet-18 pose, batch {args.batch}, {width}x{height}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, {args.rounds} steps each"
    )
    print()
    print("| path | median s/step | images/s | speed vs plain |")
    print("|---|---:|---:|---:|")
    for name, seconds in median.items():
        ratio = median["plain"] / seconds
        print(f"| {name} | {seconds:.3f} | {args.batch / seconds:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
