"""Training and inference throughput of every model of the report configs, on one device.

    python benchmarks/bench_models.py [--device cpu|cuda] [--sizes 128x416 480x640]
        [--only packnet densenet]

Each model is built as its report config builds it (pretrained weights off: throughput does not
depend on them). Prints a markdown table of images/s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from monodepthkit.models import create_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def report_models() -> dict[str, tuple[str, dict]]:
    """{label: (registry name, kwargs)} of the distinct models of the report configs.

    Each experiment is ``configs/reportN/base.yaml`` + a variant file of the same folder; the
    variant's options replace the base's (as `mdk fit --config BASE --config VARIANT` does).
    """
    models = {}
    for path in sorted(CONFIGS.glob("report*/*.yaml")):
        if path.name == "base.yaml":
            continue
        base = yaml.safe_load((path.parent / "base.yaml").read_text()).get("model", {})
        variant = yaml.safe_load(path.read_text()).get("model", {})
        args = {**base.get("init_args", {}), **variant.get("init_args", {})}
        # Supervised tasks name a `model`, the self-supervised task a `depth_model`.
        name = args.get("model") or args["depth_model"]
        kwargs = dict(args.get("model_kwargs") or args.get("depth_model_kwargs") or {})
        if "pretrained" in kwargs or name == "encoder_decoder":
            kwargs["pretrained"] = False
        label = name + (f"[{kwargs['backbone']}]" if "backbone" in kwargs else "")
        label += "" if "width" not in kwargs else f" w{kwargs['width']}d{kwargs.get('depth', '')}"
        label += f"[{kwargs['version']}]" if "version" in kwargs else ""  # PackNet A/B/C
        if path.stem in ("leaky_relu", "direct_depth"):
            continue  # report 4's head variants: PackNet B's network, another activation
        models.setdefault(label, (name, kwargs))
    return models


def throughput(
    model: torch.nn.Module,
    size: tuple[int, int],
    batch: int,
    train: bool,
    device: torch.device,
    steps: int,
) -> float:
    """Images per second of a training step (forward, L1 loss, backward, Adam) or inference."""
    image = torch.rand(batch, 3, *size, device=device)
    model.train(train)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5) if train else None

    def step() -> None:
        if train:
            loss = model(image)["depth"].mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                model(image)

    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", nargs="+", default=["128x416", "480x640"], help="HxW")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument(
        "--only", nargs="+", default=None, help="rows whose label contains one of these words"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes]
    header = ["model", "params (M)"]
    for height, width in sizes:
        header += [f"train {width}x{height}", f"infer {width}x{height}"]
    print(
        f"images/s on {args.device}, batch {args.batch}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads\n"
    )
    print("| " + " | ".join(header) + " |\n|:--|" + "--:|" * (len(header) - 1))
    for label, (name, kwargs) in report_models().items():
        if args.only and not any(word in label for word in args.only):
            continue
        model = create_model(name, **kwargs).to(device)
        cells = [label, f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}"]
        for size in sizes:
            for train in (True, False):
                cells.append(
                    f"{throughput(model, size, args.batch, train, device, args.steps):.2f}"
                )
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
