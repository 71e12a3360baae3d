"""What a trained model carries besides its weights, and how it is written down.

The facts the Predictor, export and model folders share: the training size, the camera (K and
the image size it belongs to), the output kind and the model-card facts; read from Lightning
checkpoints (`checkpoint_facts`), written into and read from ONNX files
(`write_onnx_metadata`, `read_onnx_metadata`), and turned into JSON types (`jsonable`) for
``config.json`` files and ONNX metadata.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monodepthkit.errors import MdkError

INTRINSICS_KEY = "mdk_intrinsics"
"""Top-level checkpoint entry holding the camera of the training data (written by
`monodepthkit.training.TrainingCamera`): ``{"K": 3x3 list in pixels, "image_size": [H, W] of the
images K belongs to}``."""

ONNX_META_PREFIX = "mdk_"
"""Prefix of the metadata keys written into exported ONNX files."""


def checkpoint_facts(checkpoint: dict, path: Path | None = None) -> dict:
    """Training size, camera and model-card facts stored in (or next to) a checkpoint dict.

    Args:
        checkpoint: a loaded Lightning checkpoint of a monodepthkit task.
        path: the checkpoint's file, to find a ``metrics.json`` beside it.

    Returns:
        ``{"input_size": (H, W) | None, "intrinsics": [3, 3] K in pixels | None,
        "intrinsics_size": (H, W) | None, "info": dict}``. Intrinsics come from the
        checkpoint's `INTRINSICS_KEY` entry; a checkpoint without one (written before training
        stored it) gets the camera its DataModule configuration implies, if any
        (`monodepthkit.data.cameras.configured_camera`). ``info`` holds the task class, model
        name, training data and, when a ``metrics.json`` sits next to the checkpoint (as
        `mdk demo` writes), its metrics.
    """
    from monodepthkit.data.cameras import configured_camera
    from monodepthkit.tasks.loading import TASK_KEY

    data = checkpoint.get("datamodule_hyper_parameters") or {}
    input_size = size_or_none(data.get("image_size"), "image_size")
    stored = checkpoint.get(INTRINSICS_KEY)
    if stored:
        intrinsics = np.asarray(stored["K"], dtype=np.float64)
        intrinsics_size = as_size(stored["image_size"])
    else:
        intrinsics, intrinsics_size = configured_camera(data) or (None, None)
    hparams = checkpoint.get("hyper_parameters") or {}
    info: dict = {"task": checkpoint.get(TASK_KEY)}
    model_name = hparams.get("model") or hparams.get("depth_model")
    if model_name:
        info["model"] = model_name
        info["model_kwargs"] = jsonable(
            hparams.get("model_kwargs") or hparams.get("depth_model_kwargs") or {}
        )
    if data:
        info["training_data"] = _describe_data(data)
    if input_size is not None:
        info["input_size"] = list(input_size)
    if path is not None and (path.parent / "metrics.json").is_file():
        try:
            metrics = json.loads((path.parent / "metrics.json").read_text())
        except json.JSONDecodeError:
            metrics = None
        if isinstance(metrics, dict):
            info["metrics"] = metrics
    return {
        "input_size": input_size,
        "intrinsics": intrinsics,
        "intrinsics_size": intrinsics_size,
        "info": info,
    }


def jsonable(value: Any) -> Any:
    """Hyper-parameters as JSON types (tuples -> lists, dataclasses -> dicts, paths -> str).

    Raises:
        MdkError: a value of another type.
    """
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    raise MdkError(f"cannot store a {type(value).__name__} ({value!r}) in a JSON model config")


def write_onnx_metadata(path: str | Path, meta: dict) -> None:
    """Store ``meta`` (JSON-able values) in an ONNX file's metadata, keys prefixed ``mdk_``."""
    import onnx

    model = onnx.load(str(path))
    for key, value in jsonable(meta).items():
        prop = model.metadata_props.add()
        prop.key, prop.value = f"{ONNX_META_PREFIX}{key}", json.dumps(value)
    onnx.save(model, str(path))


def read_onnx_metadata(path: str | Path) -> dict:
    """The monodepthkit facts stored in an exported ONNX file (empty for other files).

    Raises:
        MdkError: a missing or unreadable file.
    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: ONNX file not found")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise MdkError(f"{path}: not a readable ONNX file ({exc})") from None
    meta = {}
    for prop in model.metadata_props:
        if prop.key.startswith(ONNX_META_PREFIX):
            meta[prop.key[len(ONNX_META_PREFIX) :]] = json.loads(prop.value)
    return meta


def as_size(value: Sequence[int]) -> tuple[int, int]:
    """A positive (height, width) in pixels from any pair of integers.

    Raises:
        MdkError: not a pair of positive integers.
    """
    try:
        height, width = (int(v) for v in value)
    except (TypeError, ValueError):
        raise MdkError(f"expected a size (height, width), got {value!r}") from None
    if height < 1 or width < 1:
        raise MdkError(f"expected a positive size (height, width), got {value!r}")
    return height, width


def size_or_none(value: Sequence[int] | None, name: str) -> tuple[int, int] | None:
    """`as_size` of ``value``, None for None; errors name the option ``name``."""
    if value is None:
        return None
    try:
        return as_size(value)
    except MdkError:
        raise MdkError(f"{name}: expected (height, width), got {value!r}") from None


def _describe_data(data: dict) -> str:
    name = data.get("dataset", "unknown")
    if name == "synthetic":
        options = data.get("synthetic")
        preset = getattr(options, "preset", None) or (
            options.get("preset") if isinstance(options, dict) else None
        )
        return f"monodepthkit synthetic world ({preset or 'driving'} preset)"
    root = data.get("root")
    return f"{name} ({root})" if root else str(name)
