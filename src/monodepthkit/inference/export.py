"""Export a model to ONNX or TorchScript, and check the export against PyTorch.

The exported graph is the predictor's `InferenceNet`: input ``image`` [B, 3, H, W] float32 in
[0, 1]; output ``depth`` (metres) or ``disparity`` (relative models) [B, 1, H, W]. Batch, height
and width are dynamic axes when the model allows it (checked by running the export at a second
size); otherwise the file is exported at a fixed size and says so. ONNX files carry
monodepthkit metadata (output kind, training size, intrinsics, model-card facts) so that
``Predictor.from_onnx`` needs nothing else.
"""

from __future__ import annotations

import json
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import MdkError
from monodepthkit.inference.predictor import Predictor, to_image_tensor
from monodepthkit.inference.runners import (
    DEFAULT_OPSET,
    OnnxRunner,
    TorchScriptRunner,
    other_size,
    traces_dynamic_size,
    works_at_other_size,
    write_onnx,
)

EXPORT_FORMATS = ("onnx", "torchscript")


def export_model(
    predictor: Predictor,
    path: str | Path,
    fmt: str = "onnx",
    size: tuple[int, int] | None = None,
    dynamic: bool = True,
    verify: bool = True,
    real_image=None,
    opset: int = DEFAULT_OPSET,
) -> dict:
    """Export a predictor's network and (optionally) verify it.

    Args:
        predictor: a PyTorch `Predictor`.
        path: output file (``.onnx`` or ``.pt``).
        fmt: ``"onnx"`` or ``"torchscript"``.
        size: (height, width) of the example input; default the training size, else 192x640.
        dynamic: try dynamic batch and image-size axes.
        verify: compare the export with PyTorch (see `verify_export`).
        real_image: the real input of the verification (path, array or tensor); default a
            `gradient_image`.
        opset: ONNX opset.

    Returns:
        ``{"path", "format", "size", "dynamic_size", "checks": [...]}``.
    """
    if fmt not in EXPORT_FORMATS:
        raise MdkError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, got '{fmt}'")
    if fmt == "onnx":
        return export_onnx(predictor, path, size, dynamic, verify, real_image, opset)
    return export_torchscript(predictor, path, size, dynamic, verify, real_image)


def export_onnx(
    predictor: Predictor,
    path: str | Path,
    size: tuple[int, int] | None = None,
    dynamic: bool = True,
    verify: bool = True,
    real_image=None,
    opset: int = DEFAULT_OPSET,
) -> dict:
    """Export to ONNX (see `export_model`); runs the check with onnxruntime."""
    net, size = _prepare(predictor, size)
    path = Path(path)
    dynamic_size = write_onnx(net, path, size, opset, dynamic, facts=predictor.facts())
    report = {"path": path, "format": "onnx", "size": size, "dynamic_size": dynamic_size}
    if verify:
        report["checks"] = verify_export(OnnxRunner(path), net, size, dynamic_size, real_image)
    return report


def export_torchscript(
    predictor: Predictor,
    path: str | Path,
    size: tuple[int, int] | None = None,
    dynamic: bool = True,
    verify: bool = True,
    real_image=None,
) -> dict:
    """Export to TorchScript by tracing (see `export_model`); load with ``torch.jit.load``.

    The file holds ``mdk_meta.json`` as an extra file with the same facts as the ONNX metadata.
    """
    net, size = _prepare(predictor, size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Tracing warns about shape arithmetic it records; the size check below catches any
        # shape it froze.
        warnings.simplefilter("ignore")
        with _lightning_tracing():
            traced = torch.jit.trace(net, torch.rand(1, 3, *size), check_trace=False)
    dynamic_size = dynamic and traces_dynamic_size(net) and works_at_other_size(traced, net, size)
    facts = {**predictor.facts(), "export_size": list(size), "dynamic_size": dynamic_size}
    meta = json.dumps(facts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch >= 2.9 deprecates TorchScript
        torch.jit.save(traced, str(path), _extra_files={"mdk_meta.json": meta})
    report = {"path": path, "format": "torchscript", "size": size, "dynamic_size": dynamic_size}
    if verify:
        report["checks"] = verify_export(
            TorchScriptRunner(path), net, size, dynamic_size, real_image
        )
    return report


@torch.no_grad()
def verify_export(run, net: nn.Module, size, dynamic_size: bool, real_image=None) -> list[dict]:
    """Compare an exported model with PyTorch.

    Inputs: a random batch of 2 at the export size, the real image (or a gradient image) at the
    export size, and (with dynamic axes) a random batch of 3 at a second size.

    Args:
        run: a runner of the exported file (`monodepthkit.inference.runners`): [B, 3, H, W]
            -> [B, 1, H, W].
        net: the PyTorch `InferenceNet`.
        size: export (height, width).
        dynamic_size: whether to check a second size.
        real_image: real input (path, array or tensor); None: a `gradient_image`.

    Returns:
        One dict per input: ``input``, ``shape``, ``max_abs_diff``, ``max_abs_value`` (of the
        PyTorch output) and ``ok`` (difference <= 1e-4 of the output's magnitude, at least
        1e-4).
    """
    generator = torch.Generator().manual_seed(0)
    inputs = [("random", torch.rand(2, 3, *size, generator=generator))]
    real = _real_input(real_image, size)
    inputs.append((real[0], real[1]))
    if dynamic_size:
        other = other_size(size)
        inputs.append(("random, second size", torch.rand(3, 3, *other, generator=generator)))
    checks = []
    for name, image in inputs:
        reference = net(image).float()
        exported = torch.as_tensor(np.asarray(run(image))).float()
        diff = float((exported - reference).abs().max())
        magnitude = float(reference.abs().max())
        checks.append(
            {
                "input": name,
                "shape": list(image.shape),
                "max_abs_diff": diff,
                "max_abs_value": magnitude,
                "ok": diff <= 1e-4 * max(1.0, magnitude),
            }
        )
    return checks


def format_checks(report: dict) -> str:
    """The verification of `export_model` as a markdown table."""
    lines = [
        f"exported {report['format']} to {report['path']} (example size {report['size'][0]}x"
        f"{report['size'][1]}, dynamic batch: yes, dynamic image size: "
        f"{'yes' if report['dynamic_size'] else 'no'})",
    ]
    if report.get("checks"):
        lines += ["", "| input | shape | max abs diff vs PyTorch | max abs output | ok |"]
        lines += ["|---|---|---|---|---|"]
        for check in report["checks"]:
            lines.append(
                f"| {check['input']} | {'x'.join(map(str, check['shape']))} | "
                f"{check['max_abs_diff']:.3g} | {check['max_abs_value']:.3g} | "
                f"{'yes' if check['ok'] else 'NO'} |"
            )
    return "\n".join(lines)


# --- helpers ----------------------------------------------------------------------------------


def _prepare(predictor: Predictor, size) -> tuple[nn.Module, tuple[int, int]]:
    # A copy: moving the predictor's own model to the CPU would break a GPU predictor.
    net = predictor.cpu_net()
    size = tuple(size or predictor.input_size or (192, 640))
    return net, (int(size[0]), int(size[1]))


@contextmanager
def _lightning_tracing():
    """Let the tracer walk LightningModules: their ``trainer`` property raises when detached,
    unless Lightning's own scripting flag is set (as its ``to_torchscript`` does)."""
    try:
        from lightning.pytorch.core.module import _jit_is_scripting
    except ImportError:  # pragma: no cover - older Lightning
        yield
        return
    with _jit_is_scripting():
        yield


def _real_input(real_image, size) -> tuple[str, Tensor]:
    """The named image input of `verify_export` at ``size``: the user's image, else
    `gradient_image`."""
    if real_image is None:
        return "gradient image", gradient_image(size)[None]
    label = Path(real_image).name if isinstance(real_image, (str, Path)) else "real image"
    image = to_image_tensor(real_image)
    image = F.interpolate(image[None], size=size, mode="bilinear", antialias=True)
    return label, image.clamp(0.0, 1.0)


def gradient_image(size: tuple[int, int]) -> Tensor:
    """A deterministic, smooth test image that needs no data: red rises left to right, green
    top to bottom, blue is a diagonal wave.

    Args:
        size: (height, width) in pixels.

    Returns:
        [3, H, W] float32 in [0, 1].
    """
    height, width = size
    rows = torch.linspace(0.0, 1.0, height).view(height, 1).expand(height, width)
    columns = torch.linspace(0.0, 1.0, width).view(1, width).expand(height, width)
    wave = 0.5 + 0.5 * torch.sin(2.0 * torch.pi * 3.0 * (rows + columns))
    return torch.stack([columns, rows, wave])
