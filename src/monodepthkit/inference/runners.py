"""One runner per backend: the network as a function of an image batch.

Every runner maps an image batch [B, 3, H, W] float32 in [0, 1] to the network output
[B, 1, H, W] float32 (depth in metres, or disparity for relative models; see `InferenceNet`):

- `TorchRunner`: the PyTorch `InferenceNet`, with a precision (autocast) and memory format;
- `OnnxRunner`: an ONNX file in onnxruntime (`write_onnx` writes one from a net);
- `OpenVinoRunner`: the same ONNX file in OpenVINO (faster on x86 CPUs, in float32 and int8);
- `TorchScriptRunner`: a traced TorchScript file.

The `Predictor` resizes, batches and flips around whichever runner it holds; export compares
runners with PyTorch.
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from monodepthkit.errors import MdkError
from monodepthkit.eval.modes import PREDICTION_KINDS
from monodepthkit.inference.metadata import write_onnx_metadata

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
"""Names of the PyTorch runner's precisions."""

DEFAULT_OPSET = 17
"""ONNX opset of exported files."""

OTHER_SIZE_TOLERANCE = 1e-3
"""Largest difference at a second size, as a fraction of the output's largest absolute value,
for which an export is kept with dynamic height and width (`works_at_other_size`)."""


class InferenceNet(nn.Module):
    """A task or model reduced to one tensor output: image [B, 3, H, W] in [0, 1] ->
    [B, 1, H, W] depth in metres (``kind="depth"``) or disparity ``1 / depth``
    (``kind="disparity"``). This is what the runners run and what export writes."""

    def __init__(self, model: nn.Module, kind: str = "depth") -> None:
        super().__init__()
        if kind not in PREDICTION_KINDS:
            raise MdkError(
                f"output kind must be one of {', '.join(PREDICTION_KINDS)}, got '{kind}'"
            )
        self.model = model
        self.kind = kind

    def forward(self, image: Tensor) -> Tensor:
        depth = self.model(image)["depth"]
        return 1.0 / depth if self.kind == "disparity" else depth


class TorchRunner:
    """Run an `InferenceNet` in PyTorch.

    Args:
        net: the network, already on ``device``.
        device: where batches run.
        precision: a key of `PRECISIONS` (autocast below fp32; the `Predictor` checks that
            fp16 runs on a GPU).
        channels_last: run convolutions in the channels-last memory format.
    """

    def __init__(
        self,
        net: InferenceNet,
        device: torch.device,
        precision: str = "fp32",
        channels_last: bool = False,
    ) -> None:
        self.net = net.eval()
        self.device = device
        self.precision = precision
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def __call__(self, batch: Tensor) -> Tensor:
        """[B, 3, H, W] on ``device`` -> [B, 1, H, W] float32 on ``device``."""
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


class OnnxRunner:
    """Run an ONNX file with onnxruntime (CUDA when asked for and available, else CPU).

    Args:
        path: an ONNX file with one input, the image batch.
        device: ``cuda`` asks for onnxruntime's CUDA provider; anything else runs on the CPU.
        threads: intra-op threads; None: PyTorch's (``torch.get_num_threads()``, which follows
            ``OMP_NUM_THREADS``), so that both backends use the same cores.

    Raises:
        MdkError: onnxruntime is not installed, or the file is missing or unreadable.
    """

    def __init__(
        self, path: str | Path, device: torch.device | None = None, threads: int | None = None
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise MdkError(
                "backend 'onnxruntime' needs the onnxruntime package: "
                "pip install monodepthkit[export]"
            ) from None
        self.path = Path(path)
        if not self.path.is_file():
            raise MdkError(f"{self.path}: ONNX file not found")
        providers = ["CPUExecutionProvider"]
        if (
            device is not None
            and device.type == "cuda"
            and "CUDAExecutionProvider" in ort.get_available_providers()
        ):
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        # Every graph optimisation (onnxruntime's default, stated): batch norms folded into
        # convolutions, activations fused, and on CPU the blocked NCHWc layout for convolutions.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise MdkError(f"{self.path}: onnxruntime cannot load this file ({exc})") from None
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: Tensor) -> Tensor:
        """[B, 3, H, W] on any device -> [B, 1, H, W] float32 on the batch's device."""
        array = np.ascontiguousarray(batch.detach().float().cpu().numpy())
        (output,) = self.session.run(None, {self.input_name: array})
        return torch.from_numpy(output).to(batch.device)


class OpenVinoRunner:
    """Run an ONNX file with OpenVINO on the CPU.

    OpenVINO fuses what onnxruntime's CPU provider runs as separate passes in Monodepth2-like
    networks (reflection padding and ELU around every decoder convolution; in a quantised QDQ
    file the ELU between quantise/dequantise pairs), so the same file runs faster. Float32 files
    run in float32 (``INFERENCE_PRECISION_HINT`` f32: OpenVINO would otherwise pick bf16 on
    CPUs that have it), so their output matches PyTorch within rounding (~1e-6); a QDQ int8
    file (`monodepthkit.inference.quantize`) runs its convolutions in int8.

    The network is compiled once per input shape (the `Predictor` runs one network size; a
    few hundred milliseconds each).

    Args:
        path: an ONNX file with one input, the image batch.
        threads: inference threads; None: PyTorch's (``torch.get_num_threads()``, which follows
            ``OMP_NUM_THREADS``), as for `OnnxRunner`.

    Raises:
        MdkError: openvino is not installed, or the file is missing or unreadable.
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        try:
            import openvino
        except ImportError:
            raise MdkError(
                "backend 'openvino' needs the openvino package: pip install monodepthkit[openvino]"
            ) from None
        self.path = Path(path)
        if not self.path.is_file():
            raise MdkError(f"{self.path}: ONNX file not found")
        self.core = openvino.Core()
        try:
            self.model = self.core.read_model(str(self.path))
        except Exception as exc:  # openvino raises its own RuntimeError subclasses
            raise MdkError(f"{self.path}: OpenVINO cannot read this file ({exc})") from None
        self.config = {
            "INFERENCE_NUM_THREADS": int(threads or torch.get_num_threads()),
            "INFERENCE_PRECISION_HINT": "f32",
            "PERFORMANCE_HINT": "LATENCY",
        }
        self.input_name = self.model.inputs[0].get_any_name()
        self._requests: dict[tuple[int, ...], object] = {}

    def _request(self, shape: tuple[int, ...]):
        """The infer request of the network compiled for one input shape."""
        if shape not in self._requests:
            model = self.model.clone()
            model.reshape({self.input_name: list(shape)})
            compiled = self.core.compile_model(model, "CPU", self.config)
            self._requests[shape] = compiled.create_infer_request()
        return self._requests[shape]

    def __call__(self, batch: Tensor) -> Tensor:
        """[B, 3, H, W] on any device -> [B, 1, H, W] float32 on the batch's device."""
        array = np.ascontiguousarray(batch.detach().float().cpu().numpy())
        request = self._request(tuple(array.shape))
        output = request.infer({0: array})[0]  # a copy (``share_outputs`` is off)
        return torch.from_numpy(np.asarray(output, dtype=np.float32)).to(batch.device)


class TorchScriptRunner:
    """Run a TorchScript file (as `mdk export --format torchscript` writes) on the CPU."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch >= 2.9 deprecates TorchScript
            self.module = torch.jit.load(str(self.path), map_location="cpu")

    @torch.no_grad()
    def __call__(self, batch: Tensor) -> Tensor:
        """[B, 3, H, W] -> [B, 1, H, W] float32 on the CPU."""
        return self.module(batch.cpu()).detach().float()


# --- writing ONNX files -------------------------------------------------------------------------


def write_onnx(
    net: InferenceNet,
    path: str | Path,
    size: tuple[int, int],
    opset: int,
    dynamic: bool = True,
    facts: dict | None = None,
) -> bool:
    """Export a CPU `InferenceNet` to an ONNX file, with dynamic image size where it works.

    With ``dynamic`` the file is first written with dynamic batch, height and width axes and
    run at a second size (`works_at_other_size`); a model that froze a shape is written again
    at ``size`` (dynamic batch only). A model that declares it cannot trace another size
    (`traces_dynamic_size`) is written at ``size`` directly.

    Args:
        net: the network, on the CPU in eval mode.
        path: the ``.onnx`` file.
        size: (height, width) of the example input, pixels.
        opset: ONNX opset.
        dynamic: try dynamic height and width axes.
        facts: model facts stored as metadata (`write_onnx_metadata`), completed with
            ``export_size`` and ``dynamic_size``.

    Returns:
        Whether the file takes any image size.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(1, 3, *size)
    dynamic_size = dynamic and traces_dynamic_size(net)
    if dynamic:
        export_onnx_graph(net, example, path, opset, dynamic=True)
        if not works_at_other_size(OnnxRunner(path), net, size):
            dynamic_size = False
    if not dynamic_size:
        export_onnx_graph(net, example, path, opset, dynamic=False)
    if facts is not None:
        write_onnx_metadata(
            path, {**facts, "export_size": list(size), "dynamic_size": dynamic_size}
        )
    return dynamic_size


def export_onnx_graph(
    net: nn.Module, example: Tensor, path: Path, opset: int, dynamic: bool
) -> None:
    """``torch.onnx.export`` of ``net`` with input ``image`` and output ``depth`` or
    ``disparity`` (the net's ``kind``); dynamic batch axis, and height and width with
    ``dynamic``."""
    output = "depth" if net.kind == "depth" else "disparity"
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic else {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is noisy
        options = dict(
            input_names=["image"],
            output_names=[output],
            dynamic_axes={"image": axes, output: axes},
            opset_version=opset,
        )
        try:
            torch.onnx.export(net, (example,), str(path), dynamo=False, **options)
        except TypeError:  # torch < 2.5 has no ``dynamo`` argument
            torch.onnx.export(net, (example,), str(path), **options)


def traces_dynamic_size(net: nn.Module) -> bool:
    """Whether a traced ``net`` may take other image sizes than its example's: False when any
    of its modules declares ``traces_dynamic_size = False`` (e.g. the foundation models of
    Depth Anything V2 and DPT, whose forward sizes tensors with Python ints, which the tracer
    records as constants)."""
    return all(getattr(module, "traces_dynamic_size", True) for module in net.modules())


@torch.no_grad()
def works_at_other_size(run, net: nn.Module, size: tuple[int, int]) -> bool:
    """Whether an exported model ``run`` matches ``net`` at `other_size` of ``size`` (a model
    that froze the example's shape fails or differs there).

    The tolerance is relative to the output's magnitude (``OTHER_SIZE_TOLERANCE``), not
    absolute: a graph that froze its internal resolution but resizes its output back to the
    input size has the right shape and is wrong only in its values, and a random-weight
    relative model's disparities are ~1e-4-1e-2, where an absolute 1e-3 passed Depth Anything
    V2's and DPT's frozen graphs 2-98 % off. Such a graph can still be close enough at one
    second size to pass; models that know they freeze shapes say so (`traces_dynamic_size`).
    """
    image = torch.rand(2, 3, *other_size(size))
    try:
        exported = torch.as_tensor(np.asarray(run(image)))
    except Exception:  # runtimes raise their own error types on shape mismatches
        return False
    reference = net(image)
    if exported.shape != reference.shape:
        return False
    return bool((exported - reference).abs().max() <= OTHER_SIZE_TOLERANCE * reference.abs().max())


def other_size(size: tuple[int, int]) -> tuple[int, int]:
    """The second (height, width) exports are checked at: ``size`` + (32, 64) pixels."""
    return int(size[0]) + 32, int(size[1]) + 64
