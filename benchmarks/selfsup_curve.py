"""Learning curve of self-supervised (Monodepth2, mono) training on the synthetic driving world.

    nice -n 10 python benchmarks/selfsup_curve.py [--minutes 14] [--size 64x224] [--batch 4]
        [--pose posecnn|separate|shared]

Renders (or reuses) a synthetic driving world, trains `SelfSupervisedTask` from scratch (random
ResNet-18 depth network, a random pose network, frames -1/0/+1, flips and colour jitter with the
loss on the un-jittered images) for a fixed wall-clock budget, and evaluates the held-out test
frames at regular steps with the KITTI protocol and per-image median scaling. Prints a markdown
table ``step | seconds | loss | AbsRel | RMSE | d1`` and the two baselines it must beat: the
untrained network (step 0) and a constant depth (median-scaled: the ground truth's median
everywhere). No ground truth is used for training.

Note on ``--min-depth``: from random weights the pose network's translations start tiny (its
outputs are multiplied by 0.01), so the parallax the depth must explain is tiny too. With
Monodepth2's min_depth 0.1 the depth network then drives every disparity to its bound 1 (depth
0.1) within a few dozen steps and the sigmoid saturates: the depth stays constant (measured).
A min_depth of 0.001 starts the depth (about 0.002 at disparity 0.5) in proportion to those
translations; with pretrained networks Monodepth2's 0.1 is fine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from monodepthkit.data import batch as keys
from monodepthkit.data.folder import FolderDataset
from monodepthkit.data.synthetic import generate_world
from monodepthkit.data.transforms import AugmentOptions
from monodepthkit.eval import get_protocol
from monodepthkit.tasks import SelfSupervisedTask
from monodepthkit.tasks.metrics import batch_depth_metrics

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("abs_rel", "rmse", "d1")


def parse_size(text: str) -> tuple[int, int]:
    height, width = (int(v) for v in text.lower().split("x"))
    return height, width


def evaluate(task: SelfSupervisedTask, loader: DataLoader, constant: bool = False) -> dict:
    """Mean median-scaled metrics over the loader's frames (KITTI protocol)."""
    protocol = get_protocol("kitti")
    rows = []
    task.eval()
    with torch.no_grad():
        for batch in loader:
            image, gt = batch[keys.IMAGE], batch[keys.DEPTH]
            depth = torch.ones_like(gt) if constant else task(image)["depth"]
            rows += batch_depth_metrics(depth, gt, protocol, align="median")
    task.train()
    return {name: float(np.mean([row[name] for row in rows])) for name in SHOWN}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=14.0, help="training wall-clock budget")
    parser.add_argument("--size", type=parse_size, default=(64, 224), help="HxW, multiples of 32")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument(
        "--min-depth",
        type=float,
        default=0.001,
        help="depth at disparity 1 (Monodepth2: 0.1); see the note below",
    )
    parser.add_argument(
        "--pose", default="posecnn", help="pose network (posecnn is the cheapest on a CPU)"
    )
    parser.add_argument("--eval-every", type=int, default=50, help="steps between evaluations")
    parser.add_argument("--eval-frames", type=int, default=48, help="test frames evaluated")
    parser.add_argument("--sequences", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", type=Path, help="world folder (default: per size in .cache)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    height, width = args.size
    if args.root is None:
        args.root = ROOT / f".cache/synthetic/selfsup_curve_{height}x{width}"

    generate_world(
        args.root,
        preset="driving",
        num_sequences=args.sequences,
        frames_per_sequence=30,
        seed=args.seed,
        width=width,
        height=height,
        progress=False,
    )
    augment = AugmentOptions(flip=True, color_jitter=0.5, keep_unjittered=True)
    train = FolderDataset(args.root, "train", frame_offsets=(-1, 1), augment=augment)
    test = FolderDataset(args.root, "test", require_depth=True)
    picked = np.linspace(0, len(test) - 1, min(args.eval_frames, len(test))).round().astype(int)
    test_loader = DataLoader(torch.utils.data.Subset(test, picked.tolist()), batch_size=8)
    loader = DataLoader(train, batch_size=args.batch, shuffle=True, drop_last=True, num_workers=0)

    pose_kwargs = {"num_layers": 18, "pretrained": False} if args.pose == "separate" else {}
    task = SelfSupervisedTask(
        depth_model_kwargs={"num_layers": 18, "pretrained": False, "min_depth": args.min_depth},
        pose_model=args.pose,
        pose_model_kwargs=pose_kwargs,
        mode="mono",
        lr=args.lr,
    )
    optimizer = torch.optim.Adam(task.parameters(), lr=args.lr)
    constant = evaluate(task, test_loader, constant=True)
    rows = [(0, 0.0, float("nan"), evaluate(task, test_loader))]
    print(f"train frames {len(train)}, test frames evaluated {len(picked)}, {height}x{width}")
    print(f"step 0: {rows[0][3]}", flush=True)

    budget = args.minutes * 60.0
    start = time.perf_counter()
    step, losses = 0, []
    task.train()
    while time.perf_counter() - start < budget:
        for batch in loader:
            loss, _, _ = task.model_step(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            step += 1
            elapsed = time.perf_counter() - start
            if step % args.eval_every == 0 or elapsed >= budget:
                metrics = evaluate(task, test_loader)
                mean_loss = float(np.mean(losses[-args.eval_every :]))
                rows.append((step, elapsed, mean_loss, metrics))
                print(f"step {step} ({elapsed:.0f} s, loss {mean_loss:.4f}): {metrics}", flush=True)
            if elapsed >= budget:
                break

    print()
    print(
        f"Self-supervised Monodepth2 (mono, ResNet-18 from scratch, {args.pose} pose network, "
        f"batch {args.batch}, "
        f"{height}x{width}, Adam lr {args.lr:g}, {torch.get_num_threads()} threads), synthetic "
        f"driving world, {len(picked)} test frames, KITTI protocol, per-image median scaling"
    )
    print()
    print("| step | seconds | train loss | AbsRel | RMSE | d1 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for step, seconds, loss, metrics in rows:
        shown = "-" if np.isnan(loss) else f"{loss:.4f}"
        print(
            f"| {step} | {seconds:.0f} | {shown} | {metrics['abs_rel']:.4f} | "
            f"{metrics['rmse']:.3f} | {metrics['d1']:.3f} |"
        )
    print()
    print("| baseline | AbsRel | RMSE | d1 |")
    print("|---|---:|---:|---:|")
    for label, metrics in (("untrained network", rows[0][3]), ("constant depth", constant)):
        print(
            f"| {label} | {metrics['abs_rel']:.4f} | {metrics['rmse']:.3f} | {metrics['d1']:.3f} |"
        )


if __name__ == "__main__":
    main()
