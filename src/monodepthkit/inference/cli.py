"""`mdk predict` and `mdk export`: parsers and handlers (registered by `monodepthkit.cli`)."""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

from monodepthkit.errors import MdkError

DEFAULT_FORMATS = ("npy", "color")
AUTO_ONNX_MIN_IMAGES = 8
"""Images from which `mdk predict --backend auto` exports to ONNX on a CPU (the export and its
check take a few seconds; each image then runs faster, see `choose_backend`)."""
CALIBRATION_COUNT = 32
"""Calibration images `mdk export --quantize` uses by default (spread over those given)."""


def add_parser(commands) -> None:
    """Add ``predict`` and ``export`` to the `mdk` subcommands."""
    add_predict_parser(commands)
    add_export_parser(commands)


# --- predict ----------------------------------------------------------------------------------


def add_predict_parser(commands) -> None:
    from monodepthkit.inference.writers import COLORMAPS, FORMATS

    parser = commands.add_parser(
        "predict",
        help="predict depth for images, folders, globs or videos",
        description=(
            "Run a model on images (png/jpg), folders of them, glob patterns (quote them) or "
            "videos (mp4/avi/mov). Images give one file per --format; videos give "
            "NAME_depth.mp4 and NAME_side_by_side.mp4. Metric models write depth in metres; "
            "relative models (self-supervised mono) write disparity 1/depth of unknown scale. "
            "Inputs that cannot be read are listed at the end (exit status 2); the others are "
            "still processed."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image, folder, glob or video")
    parser.add_argument(
        "--checkpoint",
        required=True,
        help=".ckpt, exported .onnx, a save_pretrained folder or a Hub id user/repo",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--format",
        nargs="+",
        default=list(DEFAULT_FORMATS),
        choices=FORMATS,
        help="output formats, several allowed (default: npy color); png16 = metres x256 "
        "(KITTI convention)",
    )
    parser.add_argument("--cmap", default="magma", choices=COLORMAPS, help="colour map")
    parser.add_argument(
        "--range",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="fixed colour range (metres or disparity); default: robust percentiles per image, "
        "smoothed over time for videos",
    )
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu) | cpu | cuda")
    parser.add_argument(
        "--precision", default="fp32", choices=("fp32", "fp16", "bf16"), help="autocast dtype"
    )
    parser.add_argument("--flip", action="store_true", help="flip test-time augmentation")
    parser.add_argument(
        "--resolution",
        default="auto",
        help="network input size: auto (training size if known), train, input (rounded to 32) "
        "or HxW",
    )
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "pytorch", "onnxruntime", "openvino"),
        help="auto (default): on a CPU with at least "
        f"{AUTO_ONNX_MIN_IMAGES} images (or a video), export to ONNX and run it with OpenVINO "
        "(the fastest exact CPU path), else onnxruntime, whichever is installed, checked "
        "against PyTorch first; else PyTorch; an .onnx checkpoint runs in OpenVINO when it is "
        "installed. onnxruntime and openvino export the checkpoint to ONNX first (or give an "
        ".onnx checkpoint, e.g. an int8 one from `mdk export --quantize`)",
    )
    camera = parser.add_argument_group("camera for --format ply (default: the checkpoint's)")
    for name in ("fx", "fy", "cx", "cy"):
        camera.add_argument(f"--{name}", type=float, help=f"{name} in pixels of the input image")
    camera.add_argument("--fov", type=float, help="horizontal field of view in degrees")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=predict_command)


def predict_command(args: argparse.Namespace) -> int:
    """Handler of `mdk predict`; returns 2 when some inputs could not be read."""
    from tqdm import tqdm

    from monodepthkit.inference.predictor import Predictor
    from monodepthkit.inference.video import is_video, predict_video
    from monodepthkit.inference.writers import check_formats, write_prediction

    formats = check_formats(args.format)
    camera = _camera_args(args)
    if "ply" in formats and camera is None:
        raise MdkError("--format ply needs a camera: --fx --fy [--cx --cy] or --fov")
    backend = args.backend
    if backend == "auto":
        # An exported file runs in the fastest installed runtime; anything else starts in
        # PyTorch, and `choose_backend` decides once the number of inputs is known.
        is_onnx = Path(args.checkpoint).suffix.lower() == ".onnx"
        backend = (fastest_onnx_backend() or "onnxruntime") if is_onnx else "pytorch"
        if backend == "openvino":
            print(
                "backend: openvino (faster than onnxruntime on this file; --backend onnxruntime "
                "to keep onnxruntime)",
                file=sys.stderr,
            )
    predictor = Predictor.load(
        args.checkpoint,
        resolution=_parse_resolution(args.resolution),
        flip=args.flip,
        device=args.device,
        precision=args.precision,
        batch_size=args.batch_size,
        backend=backend,
    )
    if "ply" in formats and camera == "checkpoint" and predictor.intrinsics is None:
        raise MdkError(
            f"{args.checkpoint}: the checkpoint has no intrinsics; give --fx --fy [--cx --cy] "
            "or --fov for --format ply"
        )
    entries, failures = expand_inputs(args.inputs)
    images = [(path, name) for path, name in entries if not is_video(path)]
    videos = [(path, name) for path, name in entries if is_video(path)]
    if args.backend == "auto":
        predictor = choose_backend(predictor, len(images), bool(videos))
    value_range = tuple(args.range) if args.range else None
    out = Path(args.out)
    bar = tqdm(total=len(images), desc="predicting", unit="image", disable=args.no_progress)
    written = 0
    for start in range(0, len(images), args.batch_size):
        batch = []
        for path, name in images[start : start + args.batch_size]:
            try:
                batch.append((path, name, _read_image(path)))
            except MdkError as exc:
                failures.append((str(path), str(exc)))
        if batch:
            predictions = predictor([image for _, _, image in batch])
            for (_, name, image), values in zip(batch, predictions, strict=True):
                K = _intrinsics(camera, predictor, image.shape[:2]) if "ply" in formats else None
                write_prediction(
                    out,
                    name,
                    values,
                    image,
                    formats,
                    predictor.output_kind,
                    args.cmap,
                    value_range,
                    K,
                )
                written += 1
        bar.update(len(images[start : start + args.batch_size]))
    bar.close()
    for path, name in videos:
        frames_bar = tqdm(desc=f"video {Path(path).name}", unit="frame", disable=args.no_progress)
        try:
            result = predict_video(
                predictor, path, out, name, args.cmap, value_range, on_frame=frames_bar.update
            )
            written += 1
            print(
                f"{path}: {result['frames']} frames -> {result['depth_video']}, "
                f"{result['side_by_side_video']}"
            )
        except MdkError as exc:
            failures.append((str(path), str(exc)))
        finally:
            frames_bar.close()
    print(f"wrote {written} prediction(s) to {out} ({predictor.output_description})")
    if failures:
        print(f"could not read {len(failures)} input(s):", file=sys.stderr)
        for path, message in failures:
            line = message if message.startswith(path) else f"{path}: {message}"
            print(f"  {line}", file=sys.stderr)
        return 2
    return 0


def fastest_onnx_backend() -> str | None:
    """The fastest installed ONNX runtime on a CPU: ``"openvino"`` (it fuses the padding and
    activations that onnxruntime runs as separate passes), else ``"onnxruntime"``, else None."""
    import importlib.util

    for backend in ("openvino", "onnxruntime"):
        if importlib.util.find_spec(backend) is not None:
            return backend
    return None


def choose_backend(predictor, num_images: int, has_video: bool):
    """`mdk predict --backend auto`: the fastest exact path for this job.

    On a CPU, for at least `AUTO_ONNX_MIN_IMAGES` images or a video, a float32 PyTorch predictor
    is exported to ONNX and run by the `fastest_onnx_backend` when the export matches PyTorch
    within 1e-4 of the output's magnitude; otherwise (a GPU, few images, no ONNX runtime, an
    export that fails or differs) the predictor is kept (an .onnx checkpoint is already loaded
    in the fastest runtime by `predict_command`). Says on stderr what it chose and how to
    choose otherwise.

    Args:
        predictor: the loaded `Predictor`.
        num_images: images to predict.
        has_video: whether a video is among the inputs.

    Returns:
        The predictor to use.
    """
    backend = fastest_onnx_backend()
    if predictor.backend != "pytorch" or predictor.device.type != "cpu":
        return predictor
    if predictor.precision != "fp32" or backend is None:
        return predictor
    if num_images < AUTO_ONNX_MIN_IMAGES and not has_video:
        if num_images > 1:
            print(
                f"note: running PyTorch on the CPU; from {AUTO_ONNX_MIN_IMAGES} images on, "
                f"{backend} is used (exact, faster): --backend {backend} forces it",
                file=sys.stderr,
            )
        return predictor
    from monodepthkit.inference.export import verify_export

    try:
        fast = predictor.to_onnx(backend=backend)
        size = predictor.network_size(predictor.input_size or (192, 640))
        checks = verify_export(fast.runner, predictor.cpu_net(), size, False)
    except Exception as exc:  # any export failure falls back to the working PyTorch path
        print(f"note: ONNX export failed ({exc}); running PyTorch", file=sys.stderr)
        return predictor
    if not all(check["ok"] for check in checks):
        worst = max(check["max_abs_diff"] for check in checks)
        print(
            f"note: the ONNX export differs from PyTorch by {worst:.3g}; running PyTorch",
            file=sys.stderr,
        )
        return predictor
    print(
        f"backend: {backend} float32 (the fastest exact CPU path installed, checked against "
        "PyTorch; --backend pytorch to turn it off; `mdk export --quantize` for a faster int8 "
        "model)",
        file=sys.stderr,
    )
    return fast


def expand_inputs(inputs: list[str]) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """Expand files, folders (recursively) and glob patterns into (path, output name) pairs.

    Output names are file stems, with the sub-folder kept for folder inputs and a numeric suffix
    when two inputs would share a name.

    Returns:
        (entries, failures), failures as (input, reason) for inputs that match nothing.
    """
    from monodepthkit.data.io import IMAGE_SUFFIXES
    from monodepthkit.inference.video import VIDEO_SUFFIXES

    suffixes = (*IMAGE_SUFFIXES, ".ppm", ".bmp", ".tif", ".tiff", ".webp", *VIDEO_SUFFIXES)
    entries: list[tuple[Path, str]] = []
    failures: list[tuple[str, str]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes)
            if not files:
                failures.append((item, "folder holds no image or video"))
            entries += [(p, str(p.relative_to(path).with_suffix(""))) for p in files]
        elif path.is_file():
            entries.append((path, path.stem))
        elif glob.has_magic(item):
            files = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not files:
                failures.append((item, "pattern matches no file"))
            entries += [(p, p.stem) for p in files]
        else:
            failures.append((item, "file not found"))
    used: dict[str, int] = {}
    named = []
    for path, name in entries:
        count = used.get(name, 0)
        used[name] = count + 1
        named.append((path, name if count == 0 else f"{name}_{count}"))
    return named, failures


def _read_image(path: Path):
    from monodepthkit.data.io import read_rgb

    return read_rgb(path)


def _parse_resolution(text: str):
    if text in ("auto", "train", "input"):
        return text
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise MdkError(
            f"--resolution: expected auto, train, input or HxW (e.g. 192x640), got '{text}'"
        ) from None
    return height, width


def _camera_args(args: argparse.Namespace):
    """'checkpoint', ('fov', degrees), ('K', fx, fy, cx, cy) with None for missing cx/cy."""
    if args.fov is not None:
        return ("fov", args.fov)
    if args.fx is not None or args.fy is not None:
        if args.fx is None or args.fy is None:
            raise MdkError("give both --fx and --fy (and optionally --cx --cy)")
        return ("K", args.fx, args.fy, args.cx, args.cy)
    return "checkpoint"


def _intrinsics(camera, predictor, size):
    import numpy as np

    from monodepthkit.data.io import intrinsics_from_fov

    height, width = size
    if camera == "checkpoint":
        return predictor.intrinsics_for(size)
    if camera[0] == "fov":
        return intrinsics_from_fov(camera[1], size, "horizontal")
    _, fx, fy, cx, cy = camera
    cx = (width - 1) / 2.0 if cx is None else cx
    cy = (height - 1) / 2.0 if cy is None else cy
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


# --- export -----------------------------------------------------------------------------------


def add_export_parser(commands) -> None:
    parser = commands.add_parser(
        "export",
        help="export a checkpoint to ONNX, TorchScript or a model folder, and verify it",
        description=(
            "Write the model as ONNX (dynamic batch and image-size axes where the model allows "
            "them), TorchScript (traced) or a Hugging Face style model folder (save_pretrained). "
            "ONNX and TorchScript exports are checked against PyTorch on random inputs and a real "
            "frame; the maximum absolute differences are printed."
        ),
    )
    parser.add_argument("--checkpoint", required=True, help=".ckpt, model folder or Hub id")
    parser.add_argument(
        "--format", required=True, choices=("onnx", "torchscript", "pretrained"), help="target"
    )
    parser.add_argument("--out", type=Path, required=True, help="output file (folder: pretrained)")
    parser.add_argument(
        "--size",
        default=None,
        help="example input HxW (default: the training size, else 192x640)",
    )
    parser.add_argument("--static", action="store_true", help="fixed image size (batch dynamic)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument(
        "--verify-image",
        type=Path,
        default=None,
        help="real image for the check (default: a synthetic driving frame)",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the comparison")
    quant = parser.add_argument_group("int8 quantisation (ONNX only)")
    quant.add_argument(
        "--quantize",
        action="store_true",
        help="write a static int8 model (onnxruntime QDQ, weights per channel), calibrated on "
        "--calibration-images; faster than float32 on CPUs, approximate (the loss is printed)",
    )
    quant.add_argument(
        "--calibration-images",
        nargs="+",
        metavar="INPUT",
        help="your own images (files, folders, quoted globs) like those the model will see",
    )
    quant.add_argument(
        "--calibration-count",
        type=int,
        default=CALIBRATION_COUNT,
        help=f"calibration images used, spread over those given (default {CALIBRATION_COUNT})",
    )
    parser.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace) -> int:
    """Handler of `mdk export`; returns 1 when the verification finds a mismatch."""
    from monodepthkit.inference.export import export_model, format_checks
    from monodepthkit.inference.predictor import Predictor

    predictor = Predictor.load(args.checkpoint, device="cpu")
    if predictor.backend != "pytorch":
        raise MdkError(f"{args.checkpoint}: export needs a PyTorch checkpoint or model folder")
    if args.format == "pretrained":
        predictor.save_pretrained(args.out)
        print(f"wrote model folder {args.out} (model.safetensors, config.json, README.md)")
        return 0
    size = _parse_resolution(args.size) if args.size else None
    if isinstance(size, str):
        raise MdkError(f"--size: expected HxW, got '{args.size}'")
    if args.quantize:
        return _export_quantized(args, predictor, size)
    report = export_model(
        predictor,
        args.out,
        args.format,
        size=size,
        dynamic=not args.static,
        verify=not args.no_verify,
        real_image=args.verify_image,
        opset=args.opset,
    )
    print(format_checks(report))
    if report.get("checks") and not all(check["ok"] for check in report["checks"]):
        print("error: the export differs from PyTorch (see the table)", file=sys.stderr)
        return 1
    return 0


def _export_quantized(args: argparse.Namespace, predictor, size) -> int:
    """`mdk export --quantize`: float export (checked), int8 copy, and what int8 costs."""
    import tempfile

    import numpy as np

    from monodepthkit.inference.export import export_model, format_checks
    from monodepthkit.inference.predictor import Predictor
    from monodepthkit.inference.quantize import compare_quantized, quantize_onnx

    if args.format != "onnx":
        raise MdkError("--quantize needs --format onnx")
    if not args.calibration_images:
        raise MdkError(
            "--quantize needs --calibration-images: a folder or quoted glob of your own images "
            f"(the best {CALIBRATION_COUNT} or so are like those the model will see)"
        )
    if args.calibration_count < 1:
        raise MdkError(f"--calibration-count must be >= 1, got {args.calibration_count}")
    entries, failures = expand_inputs(args.calibration_images)
    paths = [path for path, _ in entries]
    if failures or not paths:
        listed = "; ".join(f"{item}: {why}" for item, why in failures) or "no image found"
        raise MdkError(f"--calibration-images: {listed}")
    if len(paths) > args.calibration_count:
        picks = np.linspace(0, len(paths) - 1, args.calibration_count).round().astype(int)
        paths = [paths[i] for i in sorted(set(picks.tolist()))]
    size = size or predictor.network_size(_read_image(paths[0]).shape[:2])
    with tempfile.TemporaryDirectory(prefix="mdk_export_") as folder:
        float_path = Path(folder) / "model.onnx"
        report = export_model(
            predictor,
            float_path,
            "onnx",
            size=size,
            dynamic=not args.static,
            verify=not args.no_verify,
            real_image=args.verify_image,
            opset=args.opset,
        )
        print(format_checks(report).replace(str(float_path), "float32 ONNX"))
        quantized = quantize_onnx(float_path, args.out, paths, size=size)
    int8 = Predictor.load(args.out, device="cpu")
    check = paths[: min(8, len(paths))]
    loss = compare_quantized(int8, predictor, check)
    print(
        f"wrote int8 model {args.out} (calibrated on {quantized['calibration_images']} images "
        f"at {size[0]}x{size[1]}; kept in float: {', '.join(quantized['float_nodes']) or '-'})"
    )
    print(
        f"int8 vs float32 on {loss['images']} calibration image(s): depth AbsRel "
        f"{100 * loss['abs_rel']:.2f}%, max abs {loss['output_kind']} difference "
        f"{loss['max_abs_diff']:.3g}; measure it on held-out images of yours before relying on it"
    )
    if report.get("checks") and not all(item["ok"] for item in report["checks"]):
        print("error: the float export differs from PyTorch (see the table)", file=sys.stderr)
        return 1
    return 0
