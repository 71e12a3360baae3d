"""Inference throughput of the predictor's network on the paths a user can choose.

    python benchmarks/bench_inference.py [--models unet monodepth2] [--device cpu|cuda]
        [--sizes 192x640 480x640] [--seconds 3] [--no-compile]

Speeds are batch / median time of one call (at least 5 calls), which stays meaningful when other
processes share the CPU. CPU (batch 1): PyTorch eager fp32, channels_last, torch.compile, ONNX
Runtime fp32, and two lower-precision paths, ONNX Runtime dynamic int8 quantisation and PyTorch
bf16 autocast. Each row gives images/s, the speed-up over eager fp32, and the max abs difference
of the disparity (1 / depth, 1/m) from eager fp32 on a synthetic driving frame, plus the depth
AbsRel between the two. CUDA: eager fp32 and AMP (fp16, bf16) at batch 1 and 16.

Models have random weights (the speed does not depend on them); "unet" is the U-Net of
`mdk demo` (width 16, 4 levels), "monodepth2" the ResNet-18 Monodepth2 depth network.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from monodepthkit.data.synthetic import render_sequence
from monodepthkit.inference.runners import InferenceNet, export_onnx_graph
from monodepthkit.models import create_model

MODELS = {
    "unet": ("unet", {"width": 16, "depth": 4, "head": "log", "min_depth": 0.5, "max_depth": 80.0}),
    "monodepth2": ("monodepth2", {"num_layers": 18, "pretrained": False}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--sizes", nargs="+", default=["192x640", "480x640"], help="HxW")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--seconds", type=float, default=3.0, help="timing budget per row")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--threads", type=int, default=None, help="torch/ORT threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for size_text in args.sizes:
        height, width = (int(v) for v in size_text.split("x"))
        for name in args.models:
            torch.manual_seed(0)
            model_name, kwargs = MODELS[name]
            net = InferenceNet(create_model(model_name, **kwargs), "depth").eval()
            frame = _frame(height, width)
            if args.device == "cpu":
                rows = bench_cpu(net, frame, args.seconds, not args.no_compile, args.threads)
            else:
                rows = bench_cuda(net, frame, args.seconds)
            print(f"\n### {name}, {height}x{width}, {args.device}\n")
            print(_table(rows))


def bench_cpu(
    net: torch.nn.Module, frame: torch.Tensor, seconds: float, compile_: bool, threads
) -> list[dict]:
    """Every CPU path at batch 1."""
    with torch.no_grad():
        reference = net(frame)
    rows = []

    def add(name: str, run: Callable[[torch.Tensor], torch.Tensor], note: str = "") -> None:
        try:
            output = torch.as_tensor(np.asarray(run(frame))).float()
            speed = _images_per_second(lambda: run(frame), seconds, batch=1)
        except Exception as exc:  # a path that does not work here is reported, not fatal
            rows.append({"path": name, "error": f"{type(exc).__name__}: {str(exc)[:80]}"})
            return
        rows.append({"path": name, "speed": speed, **_errors(output, reference), "note": note})

    add("PyTorch eager fp32", lambda x: _no_grad(net, x))
    fast = InferenceNet(net.model, net.kind).eval().to(memory_format=torch.channels_last)
    add(
        "PyTorch channels_last fp32",
        lambda x: _no_grad(fast, x.contiguous(memory_format=torch.channels_last)),
    )
    if compile_:
        import torch._inductor.config as inductor_config

        # Inductor's freezing folds the (inference-only) weights into constants and pre-packs
        # them for oneDNN, the main CPU gain of compilation.
        for freezing in (False, True):
            name = "torch.compile + channels_last" + (" + freezing" if freezing else "")
            try:
                torch._dynamo.reset()
                with inductor_config.patch(freezing=freezing):
                    compiled = torch.compile(fast)
                    _no_grad(compiled, frame.contiguous(memory_format=torch.channels_last))
                add(
                    name,
                    lambda x, c=compiled: _no_grad(
                        c, x.contiguous(memory_format=torch.channels_last)
                    ),
                )
            except Exception as exc:
                rows.append({"path": name, "error": f"{type(exc).__name__}: {exc}"[:90]})
    with tempfile.TemporaryDirectory() as folder:
        onnx_path = Path(folder) / "model.onnx"
        export_onnx_graph(net, frame, onnx_path, 17, dynamic=True)
        session = _ort_session(onnx_path, threads)
        add("ONNX Runtime fp32", lambda x: session.run(None, {"image": x.numpy()})[0])
        try:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            int8_path = Path(folder) / "model_int8.onnx"
            # The quantiser logs a warning per tensor it leaves in float (shape arithmetic).
            logging.getLogger().setLevel(logging.ERROR)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize_dynamic(str(onnx_path), str(int8_path), weight_type=QuantType.QUInt8)
            int8 = _ort_session(int8_path, threads)
            add(
                "ONNX Runtime dynamic int8",
                lambda x: int8.run(None, {"image": x.numpy()})[0],
                "weights uint8, activations quantised per call",
            )
        except Exception as exc:
            rows.append({"path": "ONNX Runtime int8", "error": f"{type(exc).__name__}: {exc}"[:90]})

    def bf16(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            return fast(x.contiguous(memory_format=torch.channels_last)).float()

    add("PyTorch bf16 autocast", bf16, "needs AVX512-BF16/AMX for speed")
    eager = rows[0].get("speed")
    for row in rows:
        if eager and "speed" in row:
            row["speedup"] = row["speed"] / eager
    return rows


def bench_cuda(net: torch.nn.Module, frame: torch.Tensor, seconds: float) -> list[dict]:
    """Eager fp32 and AMP at batch 1 and 16 on the GPU."""
    net = net.cuda().to(memory_format=torch.channels_last)
    rows = []
    for batch in (1, 16):
        images = frame.expand(batch, -1, -1, -1).contiguous(memory_format=torch.channels_last)
        images = images.cuda()
        with torch.no_grad():
            reference = net(images).float()
        for name, dtype in (
            ("fp32", None),
            ("AMP fp16", torch.float16),
            ("AMP bf16", torch.bfloat16),
        ):

            def run(dtype=dtype, images=images) -> torch.Tensor:
                with (
                    torch.no_grad(),
                    torch.autocast("cuda", dtype=dtype, enabled=dtype is not None),
                ):
                    return net(images).float()

            output = run()
            speed = _images_per_second(run, seconds, batch, sync=torch.cuda.synchronize)
            row = {"path": f"CUDA {name}, batch {batch}", "speed": speed}
            rows.append({**row, **_errors(output.cpu(), reference.cpu()), "note": ""})
    return rows


def _no_grad(net, x):
    with torch.no_grad():
        return net(x)


def _ort_session(path: Path, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _images_per_second(run, seconds: float, batch: int, sync=None) -> float:
    """batch / median time of one call, over at least 5 calls and ``seconds``.

    The median (not the mean) keeps the figure stable when other processes share the CPU.
    """
    run()  # warm-up (allocations, autotuning)
    if sync:
        sync()
    times, start = [], time.perf_counter()
    while True:
        tick = time.perf_counter()
        run()
        if sync:
            sync()
        times.append(time.perf_counter() - tick)
        if time.perf_counter() - start >= seconds and len(times) >= 5:
            return batch / float(np.median(times))


def _errors(output: torch.Tensor, reference: torch.Tensor) -> dict:
    disparity, reference_disparity = 1.0 / output, 1.0 / reference
    return {
        "disp_diff": float((disparity - reference_disparity).abs().max()),
        "abs_rel": float(((output - reference).abs() / reference).mean()),
    }


def _frame(height: int, width: int) -> torch.Tensor:
    frame = render_sequence("driving", 0, 0, 1, width=416, height=128)["images"][0]
    image = torch.from_numpy(frame).permute(2, 0, 1).float()[None] / 255.0
    return F.interpolate(image, size=(height, width), mode="bilinear", align_corners=False)


def _table(rows: list[dict]) -> str:
    lines = [
        "| path | images/s | vs eager | max abs disparity diff (1/m) | depth AbsRel vs fp32 "
        "| note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['path']} | - | - | - | - | does not run here: {row['error']} |")
            continue
        speedup = f"{row['speedup']:.2f}x" if "speedup" in row else "-"
        lines.append(
            f"| {row['path']} | {row['speed']:.2f} | {speedup} | {row['disp_diff']:.2g} | "
            f"{row['abs_rel']:.2g} | {row['note']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
