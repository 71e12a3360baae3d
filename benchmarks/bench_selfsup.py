"""Throughput of self-supervised (Monodepth2) training and of its depth inference.

    python benchmarks/bench_selfsup.py                                  # CPU, batch 4, 640x192
    python benchmarks/bench_selfsup.py --device cuda --amp --batch 12   # a GPU, as in the paper

Training: one full `SelfSupervisedTask` step (depth network on the target, pose network on two
frame pairs, four-scale photometric + smoothness loss, backward, Adam) on random frames -1/0/+1,
in images (target frames) per second. Inference: the task's `forward` (scale 0 only) on one
image at a time, images per second. ``--amp`` runs both under `torch.autocast` (bfloat16 on the
CPU, float16 with a gradient scaler on CUDA); CUDA also uses channels-last memory. Random
weights: throughput does not depend on them. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import torch

from monodepthkit.tasks import SelfSupervisedTask


def parse_size(text: str) -> tuple[int, int]:
    """``"192x640"`` -> (192, 640): height x width."""
    height, width = (int(v) for v in text.lower().split("x"))
    return height, width


def make_batch(batch: int, size: tuple[int, int], mode: str, device: torch.device) -> dict:
    """Random frames -1/0/+1 (and a stereo partner) with KITTI-like intrinsics."""
    height, width = size
    K = torch.tensor([[0.58 * width, 0, width / 2], [0, 1.92 * height, height / 2], [0, 0, 1]])
    T = torch.eye(4)
    T[0, 3] = -0.54
    frames = {"image": torch.rand(batch, 3, height, width), "K": K.expand(batch, 3, 3).clone()}
    if mode != "stereo":
        frames["image_-1"] = torch.rand(batch, 3, height, width)
        frames["image_+1"] = torch.rand(batch, 3, height, width)
    if mode != "mono":
        frames["image_stereo"] = torch.rand(batch, 3, height, width)
        frames["T_stereo"] = T.expand(batch, 4, 4).clone()
    return {key: value.to(device) for key, value in frames.items()}


def autocast(device: torch.device, amp: bool):
    if not amp:
        return nullcontext()
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_throughput(
    task: SelfSupervisedTask, batch: dict, device: torch.device, amp: bool, steps: int
) -> float:
    """Target images per second of full training steps."""
    optimizer = torch.optim.Adam(task.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=amp and device.type == "cuda")
    task.train()

    def step() -> None:
        with autocast(device, amp):
            loss = task.model_step(batch)[0]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    step()  # warm-up (allocations, cuDNN autotuning)
    synchronise(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronise(device)
    return steps * batch["image"].shape[0] / (time.perf_counter() - start)


@torch.no_grad()
def inference_throughput(
    task: SelfSupervisedTask, image: torch.Tensor, device: torch.device, amp: bool, steps: int
) -> float:
    """Images per second of `forward` (depth at scale 0)."""
    task.eval()
    with autocast(device, amp):
        task(image)
    synchronise(device)
    start = time.perf_counter()
    for _ in range(steps):
        with autocast(device, amp):
            task(image)
    synchronise(device)
    return steps * image.shape[0] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--batch", type=int, default=4, help="training batch size")
    parser.add_argument("--size", type=parse_size, default=(192, 640), help="HxW (192x640)")
    parser.add_argument("--mode", default="mono", choices=("mono", "stereo", "mono+stereo"))
    parser.add_argument("--pose", default="separate", help="pose network kind")
    parser.add_argument("--layers", type=int, default=18, help="ResNet depth (18 or 50)")
    parser.add_argument("--amp", action="store_true", help="mixed precision (torch.autocast)")
    parser.add_argument("--steps", type=int, help="timed iterations (default: 3 CPU, 20 GPU)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps or (20 if device.type == "cuda" else 3)
    torch.manual_seed(0)
    layers = {"num_layers": args.layers, "pretrained": False}
    task = SelfSupervisedTask(
        depth_model_kwargs=layers,
        pose_model=args.pose,
        pose_model_kwargs=layers if args.pose == "separate" else {},
        mode=args.mode,
    ).to(device)
    batch = make_batch(args.batch, args.size, args.mode, device)
    image = batch["image"][:1].clone()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        task = task.to(memory_format=torch.channels_last)
        batch = {
            key: value.contiguous(memory_format=torch.channels_last) if value.dim() == 4 else value
            for key, value in batch.items()
        }
        image = image.contiguous(memory_format=torch.channels_last)
    train = train_throughput(task, batch, device, args.amp, steps)
    infer = inference_throughput(task, image, device, args.amp, steps * 3)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    height, width = args.size
    print(
        f"SelfSupervisedTask throughput on {name}{threads}, torch {torch.__version__}, "
        f"random weights"
    )
    print()
    print(
        "| device | mode | depth / pose | size (WxH) | AMP | train batch | train images/s "
        "| inference images/s (batch 1) |"
    )
    print("|---|---|---|---|---|---:|---:|---:|")
    print(
        f"| {name} | {args.mode} | ResNet-{args.layers} / {args.pose} | {width}x{height} | "
        f"{'yes' if args.amp else 'no'} | {args.batch} | {train:.2f} | {infer:.2f} |"
    )


if __name__ == "__main__":
    main()
