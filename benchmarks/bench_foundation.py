"""CPU inference throughput of the foundation families at their native size, next to Monodepth2.

    python benchmarks/bench_foundation.py [--threads 1] [--repeats 3]
        [--only depth_anything_v2:small glpn:nyu] [--out benchmarks/results/foundation_cpu.md]

Each model is built with random weights from its published architecture (throughput does not
depend on the weights) and timed on one image at its family's native size (Depth Anything V2
518x518, DPT 384x384, ZoeDepth 384x512, GLPN 480x640; Monodepth2 ResNet-18 192x640), in eval mode
with ``torch.inference_mode``, after one warm-up pass. Prints a markdown table of images/s and
seconds per image, and writes it to ``--out`` when given.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from monodepthkit.models import count_parameters, create_model

# (label, registry name, kwargs, (height, width) at which the family's processor runs it)
MODELS = [
    ("monodepth2 (ResNet-18)", "monodepth2", {"num_layers": 18}, (192, 640)),
    ("depth_anything_v2:small", "depth_anything_v2", {"variant": "small"}, (518, 518)),
    ("depth_anything_v2:base", "depth_anything_v2", {"variant": "base"}, (518, 518)),
    ("depth_anything_v2:large", "depth_anything_v2", {"variant": "large"}, (518, 518)),
    ("dpt:large", "dpt", {"variant": "large"}, (384, 384)),
    ("zoedepth:nyu", "zoedepth", {"variant": "nyu"}, (384, 512)),
    ("glpn:nyu", "glpn", {"variant": "nyu"}, (480, 640)),
]


def time_model(name: str, kwargs: dict, size: tuple[int, int], repeats: int) -> dict:
    """Seconds per image (median of ``repeats`` passes after one warm-up) and parameters."""
    torch.manual_seed(0)
    model = create_model(name, **kwargs).eval()
    image = torch.rand(1, 3, *size)
    times = []
    with torch.inference_mode():
        model(image)
        for _ in range(repeats):
            started = time.perf_counter()
            model(image)
            times.append(time.perf_counter() - started)
    seconds = sorted(times)[len(times) // 2]
    return {"seconds": seconds, "parameters": count_parameters(model)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="labels to run (default: all)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [
        "| model | input (HxW) | parameters (M) | s / image | images / s |",
        "|---|---|---:|---:|---:|",
    ]
    print(rows[0], rows[1], sep="\n", flush=True)
    for label, name, kwargs, size in MODELS:
        if args.only and label not in args.only:
            continue
        result = time_model(name, kwargs, size, args.repeats)
        row = (
            f"| {label} | {size[0]}x{size[1]} | {result['parameters'] / 1e6:.1f} | "
            f"{result['seconds']:.3f} | {1 / result['seconds']:.2f} |"
        )
        rows.append(row)
        print(row, flush=True)
    footer = f"\nCPU, {args.threads} thread(s), batch 1, median of {args.repeats} after a warm-up."
    print(footer)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(rows) + "\n" + footer + "\n")


if __name__ == "__main__":
    main()
