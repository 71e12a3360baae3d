"""`Predictor`: one call from an image (file, PIL, array or tensor) to a depth map.

    predictor = Predictor.from_checkpoint("runs/demo/model.ckpt")
    depth = predictor("street.png")          # [H, W] float32 metres at the image's size

What comes out depends on the model (``predictor.output_kind``):

- ``"depth"``: metric models (every task without an ``is_metric`` attribute, or with
  ``is_metric`` True): z-depth in metres.
- ``"disparity"``: relative models (``is_metric`` False, e.g. a Monodepth2 trained on monocular
  video): ``1 / depth`` of the network, i.e. inverse depth up to an unknown global scale (larger is
  nearer). Multiply by a per-image or per-sequence factor (median scaling) to get metric inverse
  depth.

The network runs at the checkpoint's training size when it is known, otherwise at the input size
rounded to a multiple of 32 (``resolution``); its output is resized back to the input size
bilinearly. A disparity is resized as a disparity, and so is the depth of a metric model that
predicts through a disparity (a self-supervised task, e.g. a stereo Monodepth2): its ``1 / depth``
is resized and inverted afterwards, as Monodepth2's ``evaluate_depth.py`` does.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import MdkError
from monodepthkit.geometry.camera import scale_intrinsics

OUTPUT_KINDS = ("depth", "disparity")
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
BACKENDS = ("pytorch", "onnxruntime")
# Top-level checkpoint entry holding the camera of the training data, when known:
# {"K": 3x3 list in pixels, "image_size": [H, W] of the images K belongs to}.
INTRINSICS_KEY = "mdk_intrinsics"
# Metadata keys written into exported ONNX files (read back by `Predictor.from_onnx`).
ONNX_META_PREFIX = "mdk_"


class InferenceNet(nn.Module):
    """A task or model reduced to one tensor output: image [B, 3, H, W] in [0, 1] ->
    [B, 1, H, W] depth in metres (``kind="depth"``) or disparity ``1 / depth``
    (``kind="disparity"``). This is what the predictor runs and what export writes."""

    def __init__(self, model: nn.Module, kind: str = "depth") -> None:
        super().__init__()
        if kind not in OUTPUT_KINDS:
            raise MdkError(f"output kind must be one of {', '.join(OUTPUT_KINDS)}, got '{kind}'")
        self.model = model
        self.kind = kind

    def forward(self, image: Tensor) -> Tensor:
        depth = self.model(image)["depth"]
        return 1.0 / depth if self.kind == "disparity" else depth


class Predictor:
    """Run a depth model on images of any size and type.

    Args:
        model: a task (`SupervisedTask`, `SelfSupervisedTask`, ...) or any module mapping image
            [B, 3, H, W] in [0, 1] to ``{"depth": [B, 1, H, W]}``. Ignored (None) for the
            ``onnxruntime`` backend.
        input_size: (height, width) the model was trained at, or None if unknown.
        is_metric: whether the model's depth is metric; None reads ``model.is_metric`` (absent
            means metric). Relative models give ``output_kind == "disparity"``.
        resolution: where the network runs: ``"auto"`` (``input_size`` if known, else
            ``"input"``), ``"train"`` (``input_size``), ``"input"`` (the input's size rounded
            to ``multiple``) or an explicit (height, width).
        multiple: size multiple for ``"input"`` resolution (32 suits every registered model).
        min_size: smallest side for ``"input"`` resolution, pixels (64: ResNet encoders need
            at least 2 pixels at 1/32 scale).
        flip: flip test-time augmentation: average the prediction of the image and the mirrored
            prediction of its mirror image.
        device: ``"auto"`` (cuda > mps > cpu) or any torch device string.
        precision: ``"fp32"``, ``"fp16"`` or ``"bf16"`` (autocast; fp16 is for GPUs).
        batch_size: images per forward pass for list inputs.
        channels_last: run convolutions in the channels-last memory format (often faster on
            CPU and tensor cores).
        intrinsics: [3, 3] K in pixels of ``intrinsics_size`` images, for point clouds.
        intrinsics_size: (height, width) that ``intrinsics`` belong to.
        backend: ``"pytorch"``, or ``"onnxruntime"`` with ``onnx_path``.
        onnx_path: exported ONNX file for the ``onnxruntime`` backend.
        info: free-form facts about the model (architecture, training data, metrics) used by
            model cards.

    Attributes:
        resize_as_disparity: True for self-supervised tasks (they decode a disparity): their
            metric depth is resized as ``1 / depth`` and inverted afterwards, as Monodepth2's
            evaluation does. False for other models and for the ``onnxruntime`` backend.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        *,
        input_size: Sequence[int] | None = None,
        is_metric: bool | None = None,
        resolution: str | Sequence[int] = "auto",
        multiple: int = 32,
        min_size: int = 64,
        flip: bool = False,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        batch_size: int = 8,
        channels_last: bool = False,
        intrinsics: np.ndarray | None = None,
        intrinsics_size: Sequence[int] | None = None,
        backend: str = "pytorch",
        onnx_path: str | Path | None = None,
        info: dict | None = None,
    ) -> None:
        from monodepthkit.eval.checkpoint import select_device

        if backend not in BACKENDS:
            raise MdkError(f"backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
        if precision not in PRECISIONS:
            raise MdkError(f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
        if batch_size < 1 or multiple < 1:
            raise MdkError(f"batch_size and multiple must be >= 1, got {batch_size}, {multiple}")
        self.backend = backend
        self.input_size = _size_or_none(input_size, "input_size")
        self.resolution = resolution if isinstance(resolution, str) else _size(resolution)
        if self.resolution not in ("auto", "train", "input") and isinstance(self.resolution, str):
            raise MdkError(
                f"resolution must be 'auto', 'train', 'input' or (height, width), got "
                f"'{resolution}'"
            )
        if self.resolution == "train" and self.input_size is None:
            raise MdkError("resolution 'train' needs the training size; pass input_size=(H, W)")
        self.multiple = int(multiple)
        self.min_size = int(min_size)
        self.flip = bool(flip)
        self.batch_size = int(batch_size)
        self.precision = precision
        self.channels_last = bool(channels_last)
        self.info = dict(info or {})
        self.intrinsics = None if intrinsics is None else np.asarray(intrinsics, np.float64)
        self.intrinsics_size = _size_or_none(intrinsics_size, "intrinsics_size")
        if self.intrinsics is not None and self.intrinsics.shape != (3, 3):
            raise MdkError(f"intrinsics must be a 3x3 matrix, got shape {self.intrinsics.shape}")
        if self.intrinsics is not None and self.intrinsics_size is None:
            raise MdkError("intrinsics need intrinsics_size=(H, W), the image size K belongs to")

        if backend == "onnxruntime":
            if onnx_path is None:
                raise MdkError("backend 'onnxruntime' needs onnx_path (see `mdk export`)")
            self.onnx_path = Path(onnx_path)
            self.device = torch.device("cpu")
            self.model = None
            self.net = None
            self.resize_as_disparity = False
            self._session = _onnx_session(self.onnx_path, select_device(device))
            self.is_metric = True if is_metric is None else bool(is_metric)
        else:
            if model is None:
                raise MdkError("Predictor needs a model (or backend='onnxruntime')")
            self.onnx_path = None
            self.device = (
                select_device(str(device)) if not isinstance(device, torch.device) else device
            )
            if is_metric is None:
                is_metric = bool(getattr(model, "is_metric", True))
            self.is_metric = bool(is_metric)
            self.model = model.eval().to(self.device)
            self.net = InferenceNet(self.model, self.output_kind).eval()
            # Self-supervised tasks (the ones that say whether they are metric) decode a
            # disparity; their metric depth is resized as a disparity.
            self.resize_as_disparity = hasattr(model, "is_metric")
            if self.channels_last:
                self.net = self.net.to(memory_format=torch.channels_last)
        if precision == "fp16" and self.device.type == "cpu":
            raise MdkError("precision 'fp16' needs a GPU; use 'bf16' or 'fp32' on CPU")

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def load(cls, source: str | Path, **options) -> Predictor:
        """Load from whatever ``source`` is: a ``.ckpt`` checkpoint, an exported ``.onnx``
        file, a `save_pretrained` folder, or a Hugging Face Hub repository id (``user/repo``).

        Raises:
            MdkError: a path that does not exist and does not look like a Hub id.
        """
        path = Path(source)
        if path.is_dir():
            return cls.from_pretrained(path, **options)
        if path.suffix.lower() == ".onnx":
            return cls.from_onnx(path, **options)
        if path.is_file():
            return cls.from_checkpoint(path, **options)
        text = str(source)
        if text.count("/") == 1 and not path.suffix and not text.startswith((".", "/")):
            return cls.from_pretrained(text, **options)
        raise MdkError(
            f"{source}: not found; give a .ckpt checkpoint, an .onnx file, a model folder "
            "(save_pretrained) or a Hugging Face Hub id user/repo"
        )

    @classmethod
    def from_checkpoint(cls, path: str | Path, **options) -> Predictor:
        """Load a checkpoint written by `mdk fit`, `mdk demo` or an importer.

        Args:
            path: ``.ckpt`` file (a ``.onnx`` file goes to `from_onnx`).
            **options: `Predictor` options; ``backend="onnxruntime"`` exports the model to a
                temporary ONNX file first.

        Raises:
            MdkError: not a monodepthkit checkpoint.
        """
        from monodepthkit.tasks.loading import read_checkpoint, task_from_checkpoint

        path = Path(path)
        if path.suffix.lower() == ".onnx":
            return cls.from_onnx(path, **options)
        contents = read_checkpoint(path)
        task = task_from_checkpoint(contents)
        facts = checkpoint_facts(contents, path)
        backend = options.pop("backend", "pytorch")
        for key in ("input_size", "intrinsics", "intrinsics_size", "info"):
            options.setdefault(key, facts[key])
        predictor = cls(task, **options)
        if backend == "onnxruntime":
            return predictor.to_onnxruntime()
        return predictor

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, **options) -> Predictor:
        """Load a model folder written by `save_pretrained`, or a Hugging Face Hub repository id.

        Args:
            name_or_path: local folder, or ``user/repo`` on the Hub (downloaded and cached by
                huggingface_hub).
            **options: `Predictor` options.
        """
        from monodepthkit.inference.pretrained import PretrainedDepthModel

        hub_kwargs = {
            key: options.pop(key)
            for key in ("revision", "cache_dir", "force_download", "token", "local_files_only")
            if key in options
        }
        model = PretrainedDepthModel.from_pretrained(str(name_or_path), **hub_kwargs)
        backend = options.pop("backend", "pytorch")
        options.setdefault("input_size", model.input_size)
        options.setdefault("is_metric", model.is_metric)
        options.setdefault("intrinsics", model.intrinsics)
        options.setdefault("intrinsics_size", model.intrinsics_size)
        options.setdefault("info", model.info)
        predictor = cls(model.task, **options)
        return predictor.to_onnxruntime() if backend == "onnxruntime" else predictor

    @classmethod
    def from_onnx(cls, path: str | Path, **options) -> Predictor:
        """Run an ONNX file written by `mdk export` with onnxruntime.

        The file's metadata (written by export) gives the output kind, training size, intrinsics
        and whether the image size may vary; a file exported with a fixed size runs at that size.
        """
        meta = read_onnx_metadata(path)
        options.pop("backend", None)
        options.setdefault("input_size", meta.get("input_size"))
        options.setdefault("is_metric", meta.get("output_kind", "depth") == "depth")
        options.setdefault("intrinsics", meta.get("intrinsics"))
        options.setdefault("intrinsics_size", meta.get("intrinsics_size"))
        options.setdefault("info", meta.get("info"))
        if meta.get("dynamic_size") is False and meta.get("export_size") is not None:
            options["resolution"] = tuple(meta["export_size"])
        return cls(None, backend="onnxruntime", onnx_path=path, **options)

    def to_onnxruntime(self, path: str | Path | None = None) -> Predictor:
        """This predictor's model exported to ONNX (``path`` or a temporary file) and run by
        onnxruntime, with the same options."""
        from monodepthkit.inference.export import export_onnx

        if self.net is None:
            return self
        if path is None:
            folder = Path(tempfile.mkdtemp(prefix="mdk_onnx_"))
            path = folder / "model.onnx"
        size = self.input_size or (192, 640)
        export_onnx(self, path, size=size, verify=False)
        return Predictor.from_onnx(path, **self.options())

    def options(self) -> dict:
        """The run-time options of this predictor (to build a similar one)."""
        return {
            "resolution": self.resolution,
            "multiple": self.multiple,
            "min_size": self.min_size,
            "flip": self.flip,
            "device": str(self.device),
            "precision": self.precision,
            "batch_size": self.batch_size,
        }

    def save_pretrained(self, folder: str | Path, **card) -> Path:
        """Write a model folder: ``model.safetensors``, ``config.json`` (task class and
        hyper-parameters, training size, intrinsics) and a model card ``README.md``.

        Args:
            folder: output folder.
            **card: extra model-card facts, e.g. ``training_data="KITTI Eigen train"``,
                ``metrics={"abs_rel": 0.11}``, ``intended_use="..."``.
        """
        from monodepthkit.inference.pretrained import PretrainedDepthModel

        if self.model is None:
            raise MdkError("save_pretrained needs a PyTorch model (not an ONNX predictor)")
        model = PretrainedDepthModel.from_task(
            self.model,
            input_size=self.input_size,
            is_metric=self.is_metric,
            intrinsics=self.intrinsics,
            intrinsics_size=self.intrinsics_size,
            info={**self.info, **card},
        )
        model.save_pretrained(folder)
        return Path(folder)

    # --- what it returns ----------------------------------------------------------------------

    @property
    def output_kind(self) -> str:
        """``"depth"`` (metres) for metric models, ``"disparity"`` (1 / depth, relative scale)
        for relative ones."""
        return "depth" if self.is_metric else "disparity"

    @property
    def output_description(self) -> str:
        """One sentence on the unit and scale of the output."""
        if self.is_metric:
            return "depth: z-depth in metres"
        return (
            "disparity: 1 / depth of a relative model, up to an unknown global scale "
            "(larger is nearer); align it (e.g. median scaling) to get metric values"
        )

    def intrinsics_for(self, size: Sequence[int]) -> np.ndarray | None:
        """The model's camera K [3, 3] in pixels of an image of ``size`` (height, width),
        resized from the size it was given for with the data loaders' convention
        (`monodepthkit.geometry.camera.scale_intrinsics`); None if the model has none."""
        if self.intrinsics is None:
            return None
        return scale_intrinsics(self.intrinsics, self.intrinsics_size, size)

    # --- prediction ---------------------------------------------------------------------------

    def __call__(self, image, flip: bool | None = None):
        """Predict depth (or disparity, see `output_kind`) at the input's size.

        Args:
            image: a path, a PIL image, an [H, W, 3] uint8 (or float in [0, 1]) array, a
                [3, H, W] or [B, 3, H, W] tensor in [0, 1] (uint8 tensors are divided by 255),
                or a list of these (any sizes).
            flip: override the predictor's flip test-time augmentation.

        Returns:
            [H, W] float32 array for one image; [B, H, W] for a batched tensor; a list of
            [H_i, W_i] arrays for a list.
        """
        if isinstance(image, (list, tuple)):
            return self.predict_many(list(image), flip=flip)
        if isinstance(image, Tensor) and image.dim() == 4:
            return self.predict_tensor(image, flip=flip)[:, 0].float().cpu().numpy()
        return self.predict_many([image], flip=flip)[0]

    def predict_many(
        self,
        images: list,
        flip: bool | None = None,
        output_sizes: Sequence[Sequence[int]] | None = None,
    ) -> list[np.ndarray]:
        """Predict a list of images of any types and sizes.

        Args:
            images: images as accepted by `__call__`.
            flip: override the flip test-time augmentation.
            output_sizes: (height, width) of each output; None = each input's size. Evaluation
                asks for the ground truth's size, so that the network output is resized once,
                straight to it (Monodepth2's order).

        Returns:
            [H_i, W_i] float32 arrays (see `output_kind`).
        """
        tensors = [to_image_tensor(image) for image in images]
        if output_sizes is not None and len(output_sizes) != len(tensors):
            raise MdkError(
                f"predict_many: {len(output_sizes)} output sizes for {len(tensors)} images; "
                "give one (height, width) per image"
            )
        outputs: list[np.ndarray | None] = [None] * len(tensors)
        groups: dict[tuple[int, int], list[int]] = {}
        for index, tensor in enumerate(tensors):
            groups.setdefault(self.network_size(tensor.shape[-2:]), []).append(index)
        for net_size, indices in groups.items():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                batch = torch.cat(
                    [_resize_image(tensors[i].to(self.device)[None], net_size) for i in chunk]
                )
                prediction = self._run(batch, flip)
                for offset, index in enumerate(chunk):
                    size = tuple(tensors[index].shape[-2:])
                    if output_sizes is not None:
                        size = _size(output_sizes[index])
                    resized = self._resize_output(prediction[offset : offset + 1], size)
                    outputs[index] = resized[0, 0].float().cpu().numpy()
        return outputs

    def predict_tensor(self, images: Tensor, flip: bool | None = None) -> Tensor:
        """Predict a batch tensor.

        Args:
            images: [B, 3, H, W] float in [0, 1] (uint8 is divided by 255).
            flip: override the flip test-time augmentation.

        Returns:
            [B, 1, H, W] float32 depth in metres or disparity (see `output_kind`), on the
            predictor's device.
        """
        images = _as_float_image(images, "images")
        size = tuple(images.shape[-2:])
        net_size = self.network_size(size)
        outputs = []
        for start in range(0, images.shape[0], self.batch_size):
            batch = _resize_image(images[start : start + self.batch_size].to(self.device), net_size)
            outputs.append(self._resize_output(self._run(batch, flip), size))
        return torch.cat(outputs)

    def _resize_output(self, prediction: Tensor, size: Sequence[int]) -> Tensor:
        """Network output [B, 1, h, w] resized to ``size``, in disparity space when the model
        predicts through a disparity (see `resize_as_disparity`)."""
        if self.resize_as_disparity and self.output_kind == "depth":
            return 1.0 / _resize_output(1.0 / prediction, size)
        return _resize_output(prediction, size)

    def network_size(self, size: Sequence[int]) -> tuple[int, int]:
        """(height, width) the network runs at for an input of ``size``."""
        mode = self.resolution
        if mode == "auto":
            mode = "train" if self.input_size is not None else "input"
        if mode == "train":
            return self.input_size
        if mode == "input":
            lowest = max(self.multiple, self.min_size)
            return tuple(max(lowest, round(side / self.multiple) * self.multiple) for side in size)
        return mode

    @torch.no_grad()
    def _run(self, batch: Tensor, flip: bool | None) -> Tensor:
        """Network output [B, 1, h, w] float32 for a batch [B, 3, h, w] at the network size."""
        flip = self.flip if flip is None else flip
        if flip:
            doubled = self._forward(torch.cat([batch, batch.flip(-1)]))
            first, mirrored = doubled.chunk(2)
            return 0.5 * (first + mirrored.flip(-1))
        return self._forward(batch)

    def _forward(self, batch: Tensor) -> Tensor:
        if self.backend == "onnxruntime":
            array = np.ascontiguousarray(batch.float().cpu().numpy())
            (output,) = self._session.run(None, {self._session.get_inputs()[0].name: array})
            return torch.from_numpy(output).to(batch.device)
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        dtype = PRECISIONS[self.precision]
        autocast = (
            torch.autocast(self.device.type, dtype=dtype)
            if dtype != torch.float32
            else nullcontext()
        )
        with autocast:
            return self.net(batch).float()


# --- checkpoints ------------------------------------------------------------------------------


def checkpoint_facts(checkpoint: dict, path: Path | None = None) -> dict:
    """Training size, camera and model-card facts stored in (or next to) a checkpoint dict.

    Returns:
        ``{"input_size": (H, W) | None, "intrinsics": K | None, "intrinsics_size": (H, W) |
        None, "info": dict}``. Intrinsics come from the checkpoint's `INTRINSICS_KEY` entry,
        else from the synthetic preset the model was trained on. ``info`` holds the task class,
        model name, training data and, when a ``metrics.json`` sits next to the checkpoint (as
        `mdk demo` writes), its metrics.
    """
    from monodepthkit.tasks.loading import TASK_KEY

    data = checkpoint.get("datamodule_hyper_parameters") or {}
    input_size = _size_or_none(data.get("image_size"), "image_size")
    intrinsics = intrinsics_size = None
    stored = checkpoint.get(INTRINSICS_KEY)
    if stored:
        intrinsics = np.asarray(stored["K"], dtype=np.float64)
        intrinsics_size = tuple(int(v) for v in stored["image_size"])
    elif data.get("dataset") == "synthetic":
        intrinsics, intrinsics_size = _synthetic_camera(data.get("synthetic"))
    hparams = checkpoint.get("hyper_parameters") or {}
    info: dict = {"task": checkpoint.get(TASK_KEY)}
    model_name = hparams.get("model") or hparams.get("depth_model")
    if model_name:
        info["model"] = model_name
        info["model_kwargs"] = _jsonable(
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


def _synthetic_camera(options) -> tuple[np.ndarray | None, tuple[int, int] | None]:
    from monodepthkit.data.synthetic import PRESETS

    preset_name = getattr(options, "preset", None)
    width = getattr(options, "width", None)
    height = getattr(options, "height", None)
    if isinstance(options, dict):
        preset_name, width, height = (
            options.get("preset"),
            options.get("width"),
            options.get("height"),
        )
    preset = PRESETS.get(preset_name or "driving")
    if preset is None:
        return None, None
    width, height = width or preset.width, height or preset.height
    return preset.camera_matrix(width, height), (height, width)


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


def _jsonable(value):
    """Hyper-parameters as JSON types (tuples -> lists, dataclasses -> dicts, paths -> str)."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    raise MdkError(f"cannot store a {type(value).__name__} ({value!r}) in a JSON model config")


# --- ONNX runtime -----------------------------------------------------------------------------


def read_onnx_metadata(path: str | Path) -> dict:
    """The monodepthkit facts stored in an exported ONNX file (empty for other files)."""
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


def _onnx_session(path: Path, device: torch.device):
    try:
        import onnxruntime as ort
    except ImportError:
        raise MdkError(
            "backend 'onnxruntime' needs the onnxruntime package: pip install monodepthkit[export]"
        ) from None
    if not path.is_file():
        raise MdkError(f"{path}: ONNX file not found")
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise MdkError(f"{path}: onnxruntime cannot load this file ({exc})") from None


# --- input conversion -------------------------------------------------------------------------


def to_image_tensor(image) -> Tensor:
    """Any supported image to a float32 [3, H, W] tensor in [0, 1] (on the CPU for files/arrays).

    Raises:
        MdkError: an unsupported type or shape, or an unreadable file.
    """
    from monodepthkit.data.io import read_rgb

    if isinstance(image, (str, Path)):
        image = read_rgb(image)
    elif _is_pil(image):
        image = np.array(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise MdkError(f"expected an [H, W, 3] image array, got shape {image.shape}")
        image = torch.from_numpy(np.ascontiguousarray(image[:, :, :3])).permute(2, 0, 1)
    if not isinstance(image, Tensor):
        raise MdkError(
            f"expected a path, PIL image, [H, W, 3] array or [3, H, W] tensor, got "
            f"{type(image).__name__}"
        )
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] != 3:
        raise MdkError(f"expected an image tensor [3, H, W], got shape {tuple(image.shape)}")
    return _as_float_image(image, "image")


def _as_float_image(image: Tensor, name: str) -> Tensor:
    if image.dtype == torch.uint8:
        return image.float() / 255.0
    if not image.is_floating_point():
        raise MdkError(f"{name}: expected uint8 or float in [0, 1], got {image.dtype}")
    return image.float()


def _is_pil(image) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return False
    return isinstance(image, Image.Image)


def _resize_image(batch: Tensor, size: Sequence[int]) -> Tensor:
    if tuple(batch.shape[-2:]) == tuple(size):
        return batch
    # Antialiasing matters when shrinking large photos to a small training size.
    return F.interpolate(
        batch, size=tuple(size), mode="bilinear", antialias=True, align_corners=False
    )


def _resize_output(prediction: Tensor, size: Sequence[int]) -> Tensor:
    if tuple(prediction.shape[-2:]) == tuple(size):
        return prediction
    return F.interpolate(prediction, size=tuple(size), mode="bilinear", align_corners=False)


def _size(value: Sequence[int]) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in value)
    except (TypeError, ValueError):
        raise MdkError(f"expected a size (height, width), got {value!r}") from None
    if height < 1 or width < 1:
        raise MdkError(f"expected a positive size (height, width), got {value!r}")
    return height, width


def _size_or_none(value, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        return _size(value)
    except MdkError:
        raise MdkError(f"{name}: expected (height, width), got {value!r}") from None


__all__ = [
    "INTRINSICS_KEY",
    "OUTPUT_KINDS",
    "InferenceNet",
    "Predictor",
    "checkpoint_facts",
    "read_onnx_metadata",
    "to_image_tensor",
]
