"""Self-supervised (Monodepth2) training step on the CPU: the plain path against the fast path.

    OMP_NUM_THREADS=1 python benchmarks/bench_train_fast_path.py --size 128x416 --rounds 5
    OMP_NUM_THREADS=1 python benchmarks/bench_train_fast_path.py --size 192x640 --rounds 5

One process, the two paths alternating step by step (so machine load hits both alike), mono,
ResNet-18 depth + separate ResNet-18 pose, random weights and frames. Plain: the task with
``channels_last: false`` and ``adam_implementation: null`` (NCHW weights, Adam's per-parameter
loop). Fast: the task's CPU defaults, as ``mdk fit`` applies them (``channels_last`` weights set
by `set_training_memory_format` when training starts, fused Adam from `configure_optimizers`);
the loss, its gradients and the update are the same numbers (tests/tasks/test_fast_path.py).
benchmarks/bench_train_vs_monodepth2.py times both against the original Monodepth2 code.
Prints a markdown table with the median step times and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench_selfsup import make_batch, parse_size
from monodepthkit.tasks import SelfSupervisedTask

LAYERS = {"num_layers": 18, "pretrained": False}


def build_step(state: dict, batch: dict, fast: bool):
    """One full training step (loss, backward, Adam) of a task with the weights ``state``."""
    options = {"channels_last": False, "adam_implementation": None}
    if fast:
        options = {"channels_last": None, "adam_implementation": "auto"}
    task = SelfSupervisedTask(
        depth_model_kwargs=LAYERS, pose_model_kwargs=LAYERS, mode="mono", **options
    )
    task.load_state_dict(state)
    task.set_training_memory_format(torch.device("cpu"))
    optimizer = task.configure_optimizers()
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
    state = SelfSupervisedTask(
        depth_model_kwargs=LAYERS, pose_model_kwargs=LAYERS, mode="mono"
    ).state_dict()
    batch = make_batch(args.batch, args.size, "mono", torch.device("cpu"))
    steps = {"plain": build_step(state, batch, False), "fast": build_step(state, batch, True)}
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
