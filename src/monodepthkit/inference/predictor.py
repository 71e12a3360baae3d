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
rounded to the model's size multiple (``resolution``; ``input_multiple`` in the model
registry); its output is resized back to the input size bilinearly. A disparity is resized as a
disparity, and so is the depth of a metric model that predicts through a disparity (a
self-supervised task, e.g. a stereo Monodepth2): its ``1 / depth`` is resized and inverted
afterwards, as Monodepth2's ``evaluate_depth.py`` does.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from monodepthkit.errors import MdkError
from monodepthkit.geometry.camera import scale_intrinsics
from monodepthkit.inference.device import select_device
from monodepthkit.inference.images import (
    as_float_image,
    resize_image,
    resize_output,
    to_image_tensor,
)
from monodepthkit.inference.metadata import (
    as_size,
    checkpoint_facts,
    jsonable,
    read_onnx_metadata,
    size_or_none,
)
from monodepthkit.inference.runners import (
    DEFAULT_OPSET,
    PRECISIONS,
    InferenceNet,
    OnnxRunner,
    OpenVinoRunner,
    TorchRunner,
    write_onnx,
)
from monodepthkit.models.outputs import model_is_metric, model_predicts_disparity

BACKENDS = ("pytorch", "onnxruntime", "openvino")
ONNX_BACKENDS = ("onnxruntime", "openvino")
"""The backends that run an exported ONNX file (`Predictor.to_onnx`)."""


class Predictor:
    """Run a depth model on images of any size and type.

    Args:
        model: a task (`SupervisedTask`, `SelfSupervisedTask`, ...) or any module mapping image
            [B, 3, H, W] in [0, 1] to ``{"depth": [B, 1, H, W]}``. Ignored (None) for the
            ONNX backends.
        input_size: (height, width) the model was trained at, or None if unknown.
        is_metric: whether the model's depth is metric; None reads ``model.is_metric`` (absent
            means metric). Relative models give ``output_kind == "disparity"``.
        resolution: where the network runs: ``"auto"`` (``input_size`` if known, else
            ``"input"``), ``"train"`` (``input_size``), ``"input"`` (the input's size rounded
            to ``multiple``) or an explicit (height, width).
        multiple: size multiple for ``"input"`` resolution; None: the model's
            ``input_multiple`` in the model registry (`monodepthkit.models.model_config`, read
            through ``info["model"]``), 32 for models the registry does not know.
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
        backend: ``"pytorch"``, or with ``onnx_path`` ``"onnxruntime"`` or ``"openvino"``
            (`ONNX_BACKENDS`; OpenVINO is the faster of the two on x86 CPUs).
        onnx_path: exported ONNX file for the ONNX backends.
        info: free-form facts about the model (architecture, training data, metrics) used by
            model cards.

    Attributes:
        resize_as_disparity: True for models whose depth comes from a disparity (tasks with
            ``predicts_disparity``, the self-supervised ones): their metric depth is resized as
            ``1 / depth`` and inverted afterwards, as Monodepth2's evaluation does. False for
            other models; an ONNX file carries it in its metadata.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        *,
        input_size: Sequence[int] | None = None,
        is_metric: bool | None = None,
        resolution: str | Sequence[int] = "auto",
        multiple: int | None = None,
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
        if backend not in BACKENDS:
            raise MdkError(f"backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
        if precision not in PRECISIONS:
            raise MdkError(f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
        self.info = dict(info or {})
        if multiple is None:
            multiple = _input_multiple(self.info.get("model"))
        if batch_size < 1 or multiple < 1:
            raise MdkError(f"batch_size and multiple must be >= 1, got {batch_size}, {multiple}")
        self.backend = backend
        self.input_size = size_or_none(input_size, "input_size")
        self.resolution = resolution if isinstance(resolution, str) else as_size(resolution)
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
        self.intrinsics = None if intrinsics is None else np.asarray(intrinsics, np.float64)
        self.intrinsics_size = size_or_none(intrinsics_size, "intrinsics_size")
        if self.intrinsics is not None and self.intrinsics.shape != (3, 3):
            raise MdkError(f"intrinsics must be a 3x3 matrix, got shape {self.intrinsics.shape}")
        if self.intrinsics is not None and self.intrinsics_size is None:
            raise MdkError("intrinsics need intrinsics_size=(H, W), the image size K belongs to")

        self.runner: TorchRunner | OnnxRunner | OpenVinoRunner
        if backend in ONNX_BACKENDS:
            if onnx_path is None:
                raise MdkError(f"backend '{backend}' needs onnx_path (see `mdk export`)")
            self.onnx_path = Path(onnx_path)
            self.device = torch.device("cpu")
            self.model = None
            self.net = None
            self.resize_as_disparity = False
            if backend == "openvino":
                self.runner = OpenVinoRunner(self.onnx_path)
            else:
                self.runner = OnnxRunner(self.onnx_path, select_device(device))
            self.is_metric = True if is_metric is None else bool(is_metric)
        else:
            if model is None:
                raise MdkError("Predictor needs a model (or an ONNX backend with onnx_path)")
            self.onnx_path = None
            self.device = select_device(device)
            if is_metric is None:
                is_metric = model_is_metric(model)
            self.is_metric = bool(is_metric)
            self.model = model.eval().to(self.device)
            self.resize_as_disparity = model_predicts_disparity(model)
            self.runner = TorchRunner(
                InferenceNet(self.model, self.output_kind),
                self.device,
                precision,
                self.channels_last,
            )
            self.net = self.runner.net
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
            **options: `Predictor` options; an ONNX backend (``"onnxruntime"``,
                ``"openvino"``) exports the model to a temporary ONNX file first.

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
        return predictor.to_onnx(backend=backend) if backend in ONNX_BACKENDS else predictor

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
        return predictor.to_onnx(backend=backend) if backend in ONNX_BACKENDS else predictor

    @classmethod
    def from_onnx(cls, path: str | Path, **options) -> Predictor:
        """Run an ONNX file written by `mdk export` with onnxruntime (or ``backend="openvino"``).

        The file's metadata (written by export) gives the output kind, training size, intrinsics
        and whether the image size may vary; a file exported with a fixed size runs at that size.
        """
        meta = read_onnx_metadata(path)
        backend = options.pop("backend", "onnxruntime")
        if backend not in ONNX_BACKENDS:  # "pytorch" (the default elsewhere) or "auto"
            backend = "onnxruntime"
        options.setdefault("input_size", meta.get("input_size"))
        options.setdefault("is_metric", meta.get("output_kind", "depth") == "depth")
        options.setdefault("intrinsics", meta.get("intrinsics"))
        options.setdefault("intrinsics_size", meta.get("intrinsics_size"))
        options.setdefault("info", meta.get("info"))
        if meta.get("dynamic_size") is False and meta.get("export_size") is not None:
            options["resolution"] = tuple(meta["export_size"])
        predictor = cls(None, backend=backend, onnx_path=path, **options)
        # Files written before this fact was stored resize the output as it comes.
        predictor.resize_as_disparity = bool(meta.get("resize_as_disparity", False))
        return predictor

    def to_onnx(
        self,
        path: str | Path | None = None,
        quantize: bool = False,
        calibration_images: Sequence | None = None,
        backend: str = "onnxruntime",
    ) -> Predictor:
        """This predictor's model exported to ONNX (``path`` or a temporary file) and run by
        ``backend`` (onnxruntime or OpenVINO), with the same options.

        Float32 (the default) is exact: its output matches this predictor's within about 1e-5.
        Both runtimes fold batch norms into convolutions and run them in a blocked memory
        layout; OpenVINO also fuses the reflection padding and ELU of Monodepth2's decoder, so
        it is the fastest exact CPU path on x86 (benchmarks/bench_vs_monodepth2.py).
        ``quantize`` writes a static int8 model instead (`monodepthkit.inference.quantize`),
        calibrated on ``calibration_images`` (the user's own images, resized as the predictor
        resizes); it is faster again but approximate: measure the loss with
        `monodepthkit.inference.quantize.compare_quantized`.

        Raises:
            MdkError: an unknown backend, ``quantize`` without calibration images, or an ONNX
                predictor asked to quantise.
        """
        if backend not in ONNX_BACKENDS:
            raise MdkError(
                f"ONNX backend must be one of {', '.join(ONNX_BACKENDS)}, got '{backend}'"
            )
        if self.net is None:
            if quantize:
                raise MdkError("quantize needs a PyTorch predictor (quantise the float file)")
            if backend == self.backend:
                return self
            return Predictor.from_onnx(self.onnx_path, backend=backend, **self.options())
        if path is None:
            folder = Path(tempfile.mkdtemp(prefix="mdk_onnx_"))
            path = folder / ("model_int8.onnx" if quantize else "model.onnx")
        size = self.input_size or (192, 640)
        if not quantize:
            write_onnx(self.cpu_net(), path, size, DEFAULT_OPSET, facts=self.facts())
            return Predictor.from_onnx(path, backend=backend, **self.options())
        from monodepthkit.inference.quantize import quantize_onnx

        if not calibration_images:
            raise MdkError("quantize needs calibration_images: a list of your own images")
        # Calibrate at the size the network will run at for these images.
        first = to_image_tensor(calibration_images[0])
        net_size = self.network_size(first.shape[-2:])
        with tempfile.TemporaryDirectory(prefix="mdk_onnx_") as folder:
            float_path = Path(folder) / "model.onnx"
            write_onnx(self.cpu_net(), float_path, net_size, DEFAULT_OPSET, facts=self.facts())
            quantize_onnx(float_path, path, calibration_images, size=net_size)
        return Predictor.from_onnx(path, backend=backend, **self.options())

    def to_onnxruntime(
        self,
        path: str | Path | None = None,
        quantize: bool = False,
        calibration_images: Sequence | None = None,
    ) -> Predictor:
        """`to_onnx` with onnxruntime."""
        return self.to_onnx(path, quantize, calibration_images, backend="onnxruntime")

    def to_openvino(
        self,
        path: str | Path | None = None,
        quantize: bool = False,
        calibration_images: Sequence | None = None,
    ) -> Predictor:
        """`to_onnx` with OpenVINO (``pip install monodepthkit[openvino]``)."""
        return self.to_onnx(path, quantize, calibration_images, backend="openvino")

    def cpu_net(self) -> InferenceNet:
        """A float32 CPU copy of the network (what export writes; the predictor's own network
        stays on its device).

        Raises:
            MdkError: an ONNX predictor (it has no PyTorch network).
        """
        if self.model is None:
            raise MdkError("export needs a PyTorch predictor (this one runs an ONNX file already)")
        model = copy.deepcopy(self.model).float().cpu().eval()
        return InferenceNet(model, self.output_kind).eval()

    def facts(self) -> dict:
        """What export stores next to the network (JSON types): ``output_kind``,
        ``input_size``, ``intrinsics``, ``intrinsics_size``, ``info`` and
        ``resize_as_disparity``."""
        return jsonable(
            {
                "output_kind": self.output_kind,
                "input_size": self.input_size,
                "intrinsics": None if self.intrinsics is None else self.intrinsics.tolist(),
                "intrinsics_size": self.intrinsics_size,
                "info": self.info,
                "resize_as_disparity": self.resize_as_disparity,
            }
        )

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
                    [resize_image(tensors[i].to(self.device)[None], net_size) for i in chunk]
                )
                prediction = self._run(batch, flip)
                for offset, index in enumerate(chunk):
                    size = tuple(tensors[index].shape[-2:])
                    if output_sizes is not None:
                        size = as_size(output_sizes[index])
                    resized = self.resize_output(prediction[offset : offset + 1], size)
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
        images = as_float_image(images, "images")
        size = tuple(images.shape[-2:])
        net_size = self.network_size(size)
        outputs = []
        for start in range(0, images.shape[0], self.batch_size):
            batch = resize_image(images[start : start + self.batch_size].to(self.device), net_size)
            outputs.append(self.resize_output(self._run(batch, flip), size))
        return torch.cat(outputs)

    def resize_output(self, prediction: Tensor, size: Sequence[int]) -> Tensor:
        """Network output [B, 1, h, w] resized to ``size``, in disparity space when the model
        predicts through a disparity (see `resize_as_disparity`)."""
        if self.resize_as_disparity and self.output_kind == "depth":
            return 1.0 / resize_output(1.0 / prediction, size)
        return resize_output(prediction, size)

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
            doubled = self.runner(torch.cat([batch, batch.flip(-1)]))
            first, mirrored = doubled.chunk(2)
            return 0.5 * (first + mirrored.flip(-1))
        return self.runner(batch)


def _input_multiple(model_name: str | None) -> int:
    """The registry's ``input_multiple`` of a model name; 32 for unknown or missing names."""
    from monodepthkit.models.registry import list_models, model_config

    if model_name in list_models():
        return model_config(model_name).input_multiple
    return 32


__all__ = ["BACKENDS", "ONNX_BACKENDS", "Predictor", "to_image_tensor"]
