"""Static int8 quantisation of an exported ONNX model, calibrated on the user's own images.

ONNX Runtime's ``quantize_static`` in the QDQ format: weights int8 per output channel,
activations uint8 with ranges measured on calibration images (MinMax), which are prepared
exactly as the `Predictor` prepares its inputs (resized with antialiasing to the network size).
The convolutions whose rounding reaches the prediction most directly stay in float
(`float_nodes`): the first one (it sees the image itself) and the last three with everything
after them (for Monodepth2 the full-resolution decoder stage, the disparity head and its
sigmoid). On a trained stereo Monodepth2 (640x192 input, calibrated on 32 synthetic frames) this
took the int8 depth's AbsRel against float32 from 1.3-1.6 % (only the head in float) to 1.0-1.3 %
on synthetic, KITTI and Redwood frames (benchmarks/bench_vs_monodepth2.py); it costs about a fifth
of OpenVINO's int8 time and a third of ONNX Runtime's (30 -> 36 and 49 -> 66 ms of process CPU
time per 640x192 image, measured while other processes shared the CPU).

ONNX Runtime and OpenVINO both run the written file (``Predictor(backend=...)``); OpenVINO
fuses the ELU and padding between the quantised convolutions and is the faster of the two.

    quantize_onnx("model.onnx", "model_int8.onnx", sorted(Path("my_images").glob("*.jpg")))
    predictor = Predictor.load("model_int8.onnx")

`compare_quantized` measures what was lost: the depth AbsRel and the largest difference of the
quantised model against the float one, on images of the user's choice.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from monodepthkit.errors import MdkError
from monodepthkit.inference.images import resize_image, to_image_tensor
from monodepthkit.inference.metadata import read_onnx_metadata, write_onnx_metadata

MIN_CALIBRATION_IMAGES = 1
"""Fewest calibration images `quantize_onnx` accepts (16-64 representative images are better)."""


def quantize_onnx(
    source: str | Path,
    out: str | Path,
    calibration_images: Sequence,
    size: Sequence[int] | None = None,
    per_channel: bool = True,
    keep_float: Sequence[str] | None = None,
) -> dict:
    """Write an int8 (QDQ) copy of an exported ONNX file, calibrated on ``calibration_images``.

    Args:
        source: float ONNX file written by `mdk export` / `write_onnx`.
        out: the quantised ``.onnx`` file.
        calibration_images: images as the `Predictor` accepts them (paths, [H, W, 3] uint8
            arrays, [3, H, W] float tensors in [0, 1]); each is resized to ``size``.
        size: (height, width) of the network input during calibration, pixels; default the
            file's ``export_size`` when its size is fixed, else its training size, else 192x640.
        per_channel: one weight scale per output channel (much more accurate than per tensor).
        keep_float: names of nodes to keep in float; None: `float_nodes`.

    Returns:
        ``{"path", "size", "calibration_images", "float_nodes"}``.

    Raises:
        MdkError: onnxruntime missing, no calibration image, or an unreadable image.
    """
    try:
        import onnx
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError:
        raise MdkError(
            "quantisation needs onnx and onnxruntime: pip install monodepthkit[export]"
        ) from None
    if len(calibration_images) < MIN_CALIBRATION_IMAGES:
        raise MdkError(
            "quantisation needs calibration images: give a folder or glob of your own images "
            "(16-64 representative ones)"
        )
    source, out = Path(source), Path(out)
    meta = read_onnx_metadata(source)
    size = _calibration_size(meta, size)
    batches = [calibration_batch(image, size) for image in calibration_images]

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self) -> dict | None:
            batch = next(self._batches, None)
            return None if batch is None else {"image": batch}

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mdk_quant_") as folder:
        prepared = Path(folder) / "prepared.onnx"
        # The quantiser logs a line per tensor it leaves in float (shape arithmetic).
        level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # Shape inference and graph optimisation first (batch norms folded into their
                # convolutions), as onnxruntime recommends before static quantisation.
                quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
                model = onnx.load(str(prepared))
                kept = list(float_nodes(model) if keep_float is None else keep_float)
                quantize_static(
                    str(prepared),
                    str(out),
                    _Reader(),
                    quant_format=QuantFormat.QDQ,
                    per_channel=per_channel,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_exclude=kept,
                )
        finally:
            logging.getLogger().setLevel(level)
    quantization = {
        "format": "QDQ int8 (weights int8 per channel, activations uint8)",
        "calibration_images": len(batches),
        "calibration_size": list(size),
        "float_nodes": kept,
    }
    write_onnx_metadata(out, {**meta, "quantization": quantization})
    return {
        "path": out,
        "size": size,
        "calibration_images": len(batches),
        "float_nodes": kept,
    }


def float_nodes(model, first: int = 1, last: int = 3) -> list[str]:
    """Names of the nodes `quantize_onnx` keeps in float by default: the first ``first``
    ``Conv`` nodes, and the last ``last`` ``Conv`` nodes with every node after the earliest of
    them (for Monodepth2: the full-resolution decoder stage, the disparity head, the sigmoid and
    the disparity-to-depth arithmetic).

    Args:
        model: an ``onnx.ModelProto``.
        first: convolutions kept in float from the input side.
        last: convolutions kept in float from the output side.
    """
    nodes = list(model.graph.node)
    convs = [index for index, node in enumerate(nodes) if node.op_type == "Conv"]
    if not convs:
        return []
    kept = [nodes[index] for index in convs[:first]] + nodes[convs[-min(last, len(convs))] :]
    return list(dict.fromkeys(node.name for node in kept if node.name))


def calibration_batch(image, size: Sequence[int]) -> np.ndarray:
    """One image as the network sees it: [1, 3, H, W] float32 in [0, 1] at ``size``, resized as
    the `Predictor` resizes (bilinear with antialiasing)."""
    tensor = to_image_tensor(image)[None]
    return np.ascontiguousarray(resize_image(tensor, tuple(size)).numpy(), dtype=np.float32)


@torch.no_grad()
def compare_quantized(quantized, reference, images: Sequence) -> dict:
    """How far a quantised predictor's output is from its float reference.

    Args:
        quantized: a `Predictor` of the int8 file.
        reference: a `Predictor` of the float model (PyTorch or ONNX).
        images: images as the predictors accept them.

    Returns:
        ``{"images", "abs_rel", "max_abs_diff", "output_kind"}``: ``abs_rel`` the mean over
        images of mean |d_q - d_f| / d_f of the depth (1 / output for disparity models, whose
        scale cancels in the ratio), ``max_abs_diff`` the largest difference of the output
        (metres or disparity).
    """
    abs_rels, max_diff = [], 0.0
    for image in images:
        fast = np.asarray(quantized(image), dtype=np.float64)
        slow = np.asarray(reference(image), dtype=np.float64)
        if reference.output_kind == "disparity":
            depth_fast, depth_slow = 1.0 / fast, 1.0 / slow
        else:
            depth_fast, depth_slow = fast, slow
        valid = np.isfinite(depth_slow) & (depth_slow > 0)
        abs_rels.append(
            float(np.mean(np.abs(depth_fast[valid] - depth_slow[valid]) / depth_slow[valid]))
        )
        max_diff = max(max_diff, float(np.abs(fast - slow).max()))
    return {
        "images": len(abs_rels),
        "abs_rel": float(np.mean(abs_rels)) if abs_rels else float("nan"),
        "max_abs_diff": max_diff,
        "output_kind": reference.output_kind,
    }


def _calibration_size(meta: dict, size: Sequence[int] | None) -> tuple[int, int]:
    if size is not None:
        return int(size[0]), int(size[1])
    if meta.get("dynamic_size") is False and meta.get("export_size"):
        return tuple(int(v) for v in meta["export_size"])
    if meta.get("input_size"):
        return tuple(int(v) for v in meta["input_size"])
    return 192, 640


__all__ = ["calibration_batch", "compare_quantized", "float_nodes", "quantize_onnx"]
