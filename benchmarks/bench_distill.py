"""Distillation of a foundation teacher into Monodepth2's ResNet-18 student on the synthetic world.

    python benchmarks/bench_distill.py [--teacher depth_anything_v2:small] [--pretrained]
        [--teacher-checkpoint CKPT] [--steps 2000] [--cpu-minutes 15] [--size 128x416]
        [--batch 4] [--lr 1e-4] [--threads 4] [--eval-images 32]
        [--world .cache/synthetic/bench_distill | --root WORLD] [--out FILE]

It renders (once; later runs reuse the cache) a synthetic driving world at ``--size`` (or uses
the world folder ``--root`` as it is, e.g. the one of ``benchmarks/selfsup_curve.py``), builds a
`monodepthkit.tasks.DistillationTask` (student ``monodepth2`` ResNet-18; teacher ``--teacher``
as ``family:variant``, or the task of ``--teacher-checkpoint``), trains the student for
``--steps`` steps of Adam or ``--cpu-minutes`` of process CPU time, whichever comes first, on
the training frames, and prints a markdown table (also written to ``--out``):

- parameters (of the depth networks: a checkpoint teacher's pose network is not counted) and
  CPU images/s of the student and the teacher at ``--size`` (batch 1, eval mode,
  ``torch.inference_mode``, median of ``--repeats`` passes after one warm-up: a timing, so run
  it on a quiet machine);
- the student's AbsRel against the teacher's predictions on held-out frames, before and after
  distillation: aligned per image by scale and shift in disparity for a relative teacher (as its
  loss is invariant to both), unaligned for a metric one;
- the student's and the teacher's AbsRel against the world's ground truth (per-image median
  scaling), before and after.

The teacher worth distilling offline is one that has learnt the world: a Depth Anything V2
small adapted self-supervised by ``selfsup_curve.py --configs foundation --checkpoints DIR``
(random weights to start with, as the Hub is out of reach here), distilled on the same world:

    python benchmarks/bench_distill.py --teacher-checkpoint DIR/dav2_mono_seed0.ckpt \
        --root .cache/synthetic/selfsup_curve_64x192_80x10 --size 64x192 --steps 100000 \
        --cpu-minutes 15 --eval-images 80 --out benchmarks/results/distill_cpu.md

A randomly initialised ``--teacher`` knows nothing of depth, so only its "vs teacher" rows mean
something: they show that the student learns to reproduce it. With the published weights
(``--pretrained``, on a machine that reaches the Hugging Face Hub or has them cached) the
teacher is the real one. A quick check that the script runs: ``--steps 3 --size 64x224
--eval-images 2 --sequences 3 --frames 4``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from monodepthkit.data.folder import FolderDataset
from monodepthkit.data.synthetic import generate_world
from monodepthkit.eval.protocol import evaluate_image, get_protocol
from monodepthkit.models import count_parameters
from monodepthkit.tasks import DistillationTask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="depth_anything_v2:small", help="family:variant")
    parser.add_argument("--pretrained", action="store_true", help="published teacher/student")
    parser.add_argument(
        "--teacher-checkpoint", type=Path, help="a monodepthkit checkpoint as the teacher"
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cpu-minutes", type=float, default=math.inf, help="process CPU cap")
    parser.add_argument("--size", default="128x416", help="HxW of the world and the networks")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per network")
    parser.add_argument("--eval-images", type=int, default=32, help="held-out frames scored")
    parser.add_argument("--sequences", type=int, default=20, help="synthetic sequences")
    parser.add_argument("--frames", type=int, default=20, help="frames per sequence")
    parser.add_argument("--world", type=Path, default=Path(".cache/synthetic/bench_distill"))
    parser.add_argument("--root", type=Path, help="an existing world folder, used as it is")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    height, width = (int(side) for side in args.size.lower().split("x"))
    family, _, variant = args.teacher.partition(":")

    world = args.root or generate_world(
        args.world / f"{height}x{width}",
        preset="driving",
        num_sequences=args.sequences,
        frames_per_sequence=args.frames,
        seed=0,
        width=width,
        height=height,
        workers=1,
        progress=False,
    )
    teacher_kwargs = {"pretrained": args.pretrained, **({"variant": variant} if variant else {})}
    torch.manual_seed(0)
    task = DistillationTask(
        model="monodepth2",
        model_kwargs={"num_layers": 18, "pretrained": args.pretrained},
        teacher_model=family,
        teacher_model_kwargs=teacher_kwargs,
        teacher_checkpoint=str(args.teacher_checkpoint) if args.teacher_checkpoint else None,
        lr=args.lr,
    )
    teacher_name = args.teacher_checkpoint.name if args.teacher_checkpoint else args.teacher
    test = FolderDataset(world, "test", require_depth=True)
    indices = range(0, len(test), max(1, len(test) // args.eval_images))[: args.eval_images]
    held_out = [test[index] for index in indices]

    speed = {
        "student": images_per_second(task.net, (height, width), args.repeats),
        "teacher": images_per_second(task.teacher, (height, width), args.repeats),
    }
    before = evaluate(task, held_out)
    cpu_start = time.process_time()
    losses = train(
        task, FolderDataset(world, "train"), args.steps, args.cpu_minutes, args.batch, args.lr
    )
    cpu_minutes = (time.process_time() - cpu_start) / 60
    after = evaluate(task, held_out)

    relative = not task.teacher_is_metric
    gt_align = "median" if relative else "none"
    teacher_align = "scale and shift in disparity" if relative else "none"
    rows = [
        f"| {args.size}, {len(losses)} steps ({cpu_minutes:.1f} CPU-min) | student: monodepth2 "
        f"(ResNet-18) | teacher: {teacher_name} |",
        "|---|---:|---:|",
        f"| parameters (M) | {count_parameters(task.net) / 1e6:.1f} | "
        f"{count_parameters(getattr(task.teacher, 'net', task.teacher)) / 1e6:.1f} |",
        f"| CPU images/s ({args.threads} thread(s), batch 1) | {speed['student']:.2f} | "
        f"{speed['teacher']:.2f} |",
        f"| AbsRel vs teacher ({teacher_align}), before | {before['vs_teacher']:.3f} | - |",
        f"| AbsRel vs teacher ({teacher_align}), after | {after['vs_teacher']:.3f} | - |",
        f"| AbsRel vs ground truth ({gt_align}), before | {before['student_vs_gt']:.3f} | "
        f"{before['teacher_vs_gt']:.3f} |",
        f"| AbsRel vs ground truth ({gt_align}), after | {after['student_vs_gt']:.3f} | "
        f"{after['teacher_vs_gt']:.3f} |",
    ]
    footer = (
        f"\nDistillation loss {task.loss_name}: {losses[0]:.4f} at step 1, "
        f"{statistics.mean(losses[-10:]):.4f} over the last {min(10, len(losses))} steps; "
        f"{len(held_out)} held-out frames; weights: "
        f"{weights(args)}."
    )
    print("\n".join(rows), footer, sep="\n", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(rows) + "\n" + footer + "\n")


def weights(args: argparse.Namespace) -> str:
    """Where the teacher's weights come from, for the table's footer."""
    if args.teacher_checkpoint is not None:
        return f"teacher from {args.teacher_checkpoint}"
    return "published" if args.pretrained else "random (offline)"


def images_per_second(net: torch.nn.Module, size: tuple[int, int], repeats: int) -> float:
    """Images per second of ``net`` on one [1, 3, H, W] image (median of ``repeats``)."""
    was_training = net.training
    net.eval()
    image = torch.rand(1, 3, *size)
    times = []
    with torch.inference_mode():
        net(image)
        for _ in range(repeats):
            started = time.perf_counter()
            net(image)
            times.append(time.perf_counter() - started)
    net.train(was_training)
    return 1.0 / statistics.median(times)


def evaluate(task: DistillationTask, samples: list[dict]) -> dict[str, float]:
    """Mean AbsRel of the student vs the teacher and of both vs ground truth."""
    relative = not task.teacher_is_metric
    protocol = get_protocol("none", max_depth=80.0)
    unbounded = get_protocol("none")
    task.net.eval()
    scores: dict[str, list[float]] = {"vs_teacher": [], "student_vs_gt": [], "teacher_vs_gt": []}
    with torch.no_grad():
        for sample in samples:
            image = sample["image"].unsqueeze(0)
            student = task(image)["depth"][0, 0]
            teacher = task.teacher(image)["depth"][0, 0]
            gt = sample["depth"][0]
            align = "scale_shift_disp" if relative else "none"
            to_teacher = evaluate_image(student, teacher, unbounded, align)
            scores["vs_teacher"].append(to_teacher["abs_rel"])
            gt_align = "median" if relative else "none"
            for name, depth in (("student_vs_gt", student), ("teacher_vs_gt", teacher)):
                metrics = evaluate_image(depth, gt, protocol, gt_align)
                if metrics:
                    scores[name].append(metrics["abs_rel"])
    task.net.train()
    return {name: statistics.mean(values) for name, values in scores.items() if values}


def train(
    task: DistillationTask, dataset, steps: int, cpu_minutes: float, batch: int, lr: float
) -> list[float]:
    """Adam steps of the student on shuffled training samples, ``steps`` of them or
    ``cpu_minutes`` of process CPU time, whichever comes first; the losses."""
    cpu_budget, cpu_start = cpu_minutes * 60.0, time.process_time()
    optimizer = torch.optim.Adam([p for p in task.parameters() if p.requires_grad], lr=lr)
    loader = DataLoader(
        dataset, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    task.train()
    losses: list[float] = []
    while len(losses) < steps:
        for sample in loader:
            loss = task.model_step(sample)[0]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            if len(losses) == steps or time.process_time() - cpu_start >= cpu_budget:
                return losses
    return losses


if __name__ == "__main__":
    main()
