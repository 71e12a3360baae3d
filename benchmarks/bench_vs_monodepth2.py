"""Side by side on the CPU: Monodepth2's own test_simple path against monodepthkit's Predictor.

    python benchmarks/bench_vs_monodepth2.py [--repeats 30] [--threads 1]
        [--weights-dir mono_640x192] [--accuracy-checkpoint CKPT] [--calibration 32]

The original networks are rebuilt from Monodepth2's published layer layout (a torchvision
ResNet under ``encoder``, the depth decoder with reflection-padded 3x3 convolutions, ELU,
nearest upsampling and a sigmoid disparity at four scales), as the importer's tests do, with
random weights and non-trivial batch-norm statistics, or with a released weights folder
(``--weights-dir``). The same weights are converted with `import_monodepth2`, so both sides
compute the same function. On one 1242x375 frame (a real KITTI frame resized, or a synthetic
one) the script times, in one process, each path once per round and the rounds alternating:

- original test_simple: PIL LANCZOS resize to 640x192, ``ToTensor``, encoder, decoder, bilinear
  resize of ``("disp", 0)`` back to 1242x375, as NumPy;
- the Predictor (uint8 array in, disparity map at 1242x375 out) with PyTorch, PyTorch
  channels_last, ONNX Runtime and OpenVINO float32 (exact) and the static int8 file
  (calibrated on ``--calibration`` synthetic training frames) in both runtimes (OpenVINO rows
  when openvino is installed);
- the networks alone on the same 640x192 tensor.

Each row gives the median time, the speed ratio to the original path, and the largest
difference of the disparity from the Predictor's PyTorch path and from the original network
(Monodepth2's sigmoid disparity; the whole-path rows differ from the original by its LANCZOS
resize, the network rows by rounding only). The int8 section gives the depth AbsRel of int8
against float32 and the AbsRel against ground truth (median scaling) with both, on the
synthetic test split and on the real KITTI (LiDAR) and Redwood (RGB-D) frames of
``../shared/realdata`` when present; use ``--accuracy-checkpoint`` for a trained Monodepth2
checkpoint (random weights say little about accuracy).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import tempfile
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn

from monodepthkit.checkpoints import import_monodepth2
from monodepthkit.data.synthetic import generate_world
from monodepthkit.inference.predictor import Predictor
from monodepthkit.inference.quantize import compare_quantized

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
FEED_HEIGHT, FEED_WIDTH = 192, 640
FRAME_HEIGHT, FRAME_WIDTH = 375, 1242
MIN_DEPTH, MAX_DEPTH = 0.1, 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads")
    parser.add_argument("--weights-dir", type=Path, help="a Monodepth2 weights folder")
    parser.add_argument("--accuracy-checkpoint", type=Path, help="trained model for int8 rows")
    parser.add_argument("--calibration", type=int, default=32, help="int8 calibration frames")
    parser.add_argument("--world", type=Path, default=Path(".cache/synthetic/bench_md2"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, {args.threads} thread(s), load average "
        f"{os.getloadavg()[0]:.1f} (other processes inflate the times, not the ratios much)"
    )
    world = generate_world(args.world, "driving", 12, 10, seed=0, workers=1, progress=False)
    calibration, synthetic_test = _split_frames(world, args.calibration)
    with tempfile.TemporaryDirectory(prefix="bench_md2_") as folder:
        weights = args.weights_dir or _write_random_release(Path(folder) / "weights")
        encoder, decoder = load_original(weights)
        checkpoint = import_monodepth2(weights, Path(folder) / "model.ckpt")
        predictors = _predictors(checkpoint, calibration, args.threads)
        frame = _frame()
        rows = time_paths(encoder, decoder, predictors, frame, args.repeats)
        print(f"\n### 1242x375 frame -> 640x192 network, batch 1, {args.repeats} rounds\n")
        print(_speed_table(rows))
        if args.accuracy_checkpoint:
            predictors = _predictors(args.accuracy_checkpoint, calibration, args.threads)
        print(
            f"\n### int8 (calibrated on {len(calibration)} synthetic training frames) against "
            f"float32, {'the given checkpoint' if args.accuracy_checkpoint else 'random weights'}\n"
        )
        print(_accuracy_table(predictors, synthetic_test))


# --- the original networks (Monodepth2's layer layout) -----------------------------------------


class OriginalResnetEncoder(nn.Module):
    """Monodepth2's ``ResnetEncoder``: torchvision ResNet under ``encoder``, input normalised
    with 0.45 / 0.225, five features (stem ReLU, layer1-4)."""

    def __init__(self, num_layers: int = 18) -> None:
        super().__init__()
        self.encoder = {18: torchvision.models.resnet18, 50: torchvision.models.resnet50}[
            num_layers
        ]()
        self.num_ch_enc = [64, 64, 128, 256, 512] if num_layers < 50 else [64, 256, 512, 1024, 2048]

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        r = self.encoder
        x = r.relu(r.bn1(r.conv1((image - 0.45) / 0.225)))
        features = [x, r.layer1(r.maxpool(x))]
        for stage in (r.layer2, r.layer3, r.layer4):
            features.append(stage(features[-1]))
        return features


class _Conv3x3(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv = nn.Conv2d(cin, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pad(x))


class _ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = _Conv3x3(cin, cout)
        self.nonlin = nn.ELU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlin(self.conv(x))


class OriginalDepthDecoder(nn.Module):
    """Monodepth2's ``DepthDecoder``: every scale's sigmoid disparity, in eval mode too."""

    def __init__(self, num_ch_enc: list[int], scales=range(4)) -> None:
        super().__init__()
        channels = [16, 32, 64, 128, 256]
        self.scales = list(scales)
        self.convs = OrderedDict()
        for i in range(4, -1, -1):
            cin = num_ch_enc[-1] if i == 4 else channels[i + 1]
            self.convs[("upconv", i, 0)] = _ConvBlock(cin, channels[i])
            skip = num_ch_enc[i - 1] if i > 0 else 0
            self.convs[("upconv", i, 1)] = _ConvBlock(channels[i] + skip, channels[i])
        for s in self.scales:
            self.convs[("dispconv", s)] = _Conv3x3(channels[s], 1)
        self.decoder = nn.ModuleList(list(self.convs.values()))

    def forward(self, features: list[torch.Tensor]) -> dict:
        outputs = {}
        x = features[-1]
        for i in range(4, -1, -1):
            x = self.convs[("upconv", i, 0)](x)
            x = [F.interpolate(x, scale_factor=2, mode="nearest")]
            if i > 0:
                x += [features[i - 1]]
            x = self.convs[("upconv", i, 1)](torch.cat(x, 1))
            if i in self.scales:
                outputs[("disp", i)] = torch.sigmoid(self.convs[("dispconv", i)](x))
        return outputs


def load_original(weights: Path) -> tuple[nn.Module, nn.Module]:
    """The original encoder and decoder with a weights folder's ``encoder.pth`` and
    ``depth.pth`` (as test_simple loads them), in eval mode."""
    state = torch.load(weights / "encoder.pth", map_location="cpu")
    encoder = OriginalResnetEncoder(50 if "encoder.layer1.0.conv3.weight" in state else 18)
    encoder.load_state_dict({k: v for k, v in state.items() if k in encoder.state_dict()})
    decoder = OriginalDepthDecoder(encoder.num_ch_enc)
    decoder.load_state_dict(torch.load(weights / "depth.pth", map_location="cpu"))
    return encoder.eval(), decoder.eval()


def _write_random_release(folder: Path) -> Path:
    """Random weights in Monodepth2's file layout; batch norms with non-trivial statistics."""
    torch.manual_seed(0)
    folder.mkdir(parents=True)
    encoder, generator = OriginalResnetEncoder(18), torch.Generator().manual_seed(0)
    decoder = OriginalDepthDecoder(encoder.num_ch_enc)
    with torch.no_grad():
        for module in [*encoder.modules(), *decoder.modules()]:
            if isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=generator))
                module.bias.normal_(0, 0.1, generator=generator)
                module.running_mean.normal_(0, 0.1, generator=generator)
                module.running_var.copy_(0.5 + torch.rand(module.num_features, generator=generator))
    state = encoder.state_dict()
    state.update(height=FEED_HEIGHT, width=FEED_WIDTH, use_stereo=False)
    torch.save(state, folder / "encoder.pth")
    torch.save(decoder.state_dict(), folder / "depth.pth")
    return folder


# --- the timed paths ---------------------------------------------------------------------------


def _predictors(checkpoint: Path, calibration: list[Path], threads: int) -> dict:
    options = {"device": "cpu", "resolution": (FEED_HEIGHT, FEED_WIDTH)}
    plain = Predictor.from_checkpoint(checkpoint, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictors = {
            "PyTorch": plain,
            "PyTorch channels_last": Predictor.from_checkpoint(
                checkpoint, channels_last=True, **options
            ),
            "ONNX Runtime fp32": plain.to_onnxruntime(),
            "ONNX Runtime int8": plain.to_onnxruntime(
                quantize=True, calibration_images=calibration
            ),
        }
    if importlib.util.find_spec("openvino") is not None:
        predictors["OpenVINO fp32"] = predictors["ONNX Runtime fp32"].to_openvino()
        predictors["OpenVINO int8"] = predictors["ONNX Runtime int8"].to_openvino()
    return predictors


def time_paths(encoder, decoder, predictors: dict, frame: np.ndarray, repeats: int) -> list[dict]:
    """Time every path round-robin; return rows with median seconds and outputs."""
    picture = Image.fromarray(frame)
    tensor = torchvision.transforms.ToTensor()(picture.resize((FEED_WIDTH, FEED_HEIGHT)))[None]

    @torch.no_grad()
    def original_path() -> np.ndarray:
        # Monodepth2's test_simple.py, less its file reading and writing.
        image = picture.resize((FEED_WIDTH, FEED_HEIGHT), Image.LANCZOS)
        image = torchvision.transforms.ToTensor()(image).unsqueeze(0)
        disp = decoder(encoder(image))[("disp", 0)]
        size = (FRAME_HEIGHT, FRAME_WIDTH)
        resized = F.interpolate(disp, size, mode="bilinear", align_corners=False)
        return resized.squeeze().cpu().numpy()

    @torch.no_grad()
    def original_network() -> np.ndarray:
        return decoder(encoder(tensor))[("disp", 0)][0, 0].numpy()

    paths = {"original test_simple path": (original_path, "sigmoid", "path")}
    for name, predictor in predictors.items():
        paths[f"Predictor, {name}"] = (lambda p=predictor: p(frame), "ours", "path")
    paths["original network alone"] = (original_network, "sigmoid", "net")
    networks = [name for name in predictors if name != "PyTorch channels_last"]
    for name in networks:
        runner = predictors[name].runner
        paths[f"our network alone, {name}"] = (
            lambda r=runner: r(tensor)[0, 0].numpy(),
            "ours",
            "net",
        )
    outputs = {name: np.asarray(run(), np.float64) for name, (run, _, _) in paths.items()}
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeats):
        for name, (run, _, _) in paths.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    rows = []
    references = {
        "path": outputs["Predictor, PyTorch"],
        "net": outputs["our network alone, PyTorch"],
    }
    originals = {
        "path": outputs["original test_simple path"],
        "net": outputs["original network alone"],
    }
    for name, (_, unit, kind) in paths.items():
        as_sigmoid = outputs[name] if unit == "sigmoid" else _to_sigmoid(outputs[name])
        as_ours = outputs[name] if unit == "ours" else _from_sigmoid(outputs[name])
        rows.append(
            {
                "path": name,
                "kind": kind,
                "seconds": float(np.median(times[name])),
                "vs_ours": float(np.abs(as_ours - references[kind]).max()),
                "vs_original": float(np.abs(as_sigmoid - originals[kind]).max()),
            }
        )
    base = {row["kind"]: row["seconds"] for row in rows if row["path"].startswith("original")}
    for row in rows:
        row["speedup"] = base[row["kind"]] / row["seconds"]
    return rows


def _to_sigmoid(disparity: np.ndarray) -> np.ndarray:
    """Our disparity output 1 / depth (1/m) -> Monodepth2's sigmoid disparity."""
    return (disparity - 1.0 / MAX_DEPTH) / (1.0 / MIN_DEPTH - 1.0 / MAX_DEPTH)


def _from_sigmoid(sigmoid: np.ndarray) -> np.ndarray:
    return 1.0 / MAX_DEPTH + (1.0 / MIN_DEPTH - 1.0 / MAX_DEPTH) * sigmoid


# --- accuracy of int8 ------------------------------------------------------------------------


def _accuracy_table(predictors: dict, synthetic_test: list[tuple[Path, np.ndarray]]) -> str:
    sets = {"synthetic test split": synthetic_test}
    kitti, redwood = _kitti_frames(), _redwood_frames()
    if kitti:
        sets["real KITTI frames (LiDAR)"] = kitti
    if redwood:
        sets["real Redwood frames (RGB-D)"] = redwood
    fp32 = predictors["PyTorch"]
    lines = [
        "| images | n | int8 runtime | depth AbsRel int8 vs fp32 | max abs disparity diff "
        "| AbsRel vs GT fp32 | AbsRel vs GT int8 | change |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, frames in sets.items():
        images = [image for image, _ in frames]
        gt_fp32 = np.mean([_abs_rel(fp32(image), gt, fp32.output_kind) for image, gt in frames])
        for runtime in ("ONNX Runtime", "OpenVINO"):
            int8 = predictors.get(f"{runtime} int8")
            if int8 is None:
                continue
            loss = compare_quantized(int8, fp32, images)
            gt_int8 = np.mean([_abs_rel(int8(image), gt, fp32.output_kind) for image, gt in frames])
            lines.append(
                f"| {name} | {len(frames)} | {runtime} | {100 * loss['abs_rel']:.2f}% | "
                f"{loss['max_abs_diff']:.3g} | {gt_fp32:.4f} | {gt_int8:.4f} | "
                f"{100 * (gt_int8 - gt_fp32) / gt_fp32:+.2f}% |"
            )
    return "\n".join(lines)


def _abs_rel(prediction: np.ndarray, gt: np.ndarray, kind: str) -> float:
    """AbsRel of a predictor's output (``kind`` ``disparity``: 1 / depth; ``depth``: metres)
    against ``gt`` (metres, 0 = none) after median scaling, depth capped at 80 m."""
    prediction = np.asarray(prediction, np.float64)
    depth = 1.0 / prediction if kind == "disparity" else prediction
    valid = (gt > 1e-3) & (gt < 80.0)
    depth, gt = depth[valid], gt[valid]
    depth = np.clip(depth * np.median(gt) / np.median(depth), 1e-3, 80.0)
    return float(np.mean(np.abs(depth - gt) / gt))


def _split_frames(world: Path, count: int) -> tuple[list[Path], list[tuple[Path, np.ndarray]]]:
    def entries(split: str) -> list[Path]:
        lines = (world / "splits" / f"{split}.txt").read_text().split("\n")
        return [
            world / seq / "image" / f"{int(frame):06d}.png"
            for seq, frame in (line.split() for line in lines if line.strip())
        ]

    train = entries("train")
    picks = np.linspace(0, len(train) - 1, min(count, len(train))).round().astype(int)
    test = []
    for image in entries("test"):
        depth = np.asarray(Image.open(image.parent.parent / "depth" / image.name), np.float64)
        test.append((image, depth / 256.0))
    return [train[i] for i in picks], test


def _kitti_frames() -> list[tuple[np.ndarray, np.ndarray]]:
    from monodepthkit.data.kitti import read_object_calibration, read_velodyne, velodyne_to_depth

    folder = REALDATA / "kitti_object_frames"
    frames = []
    for image_path in sorted((folder / "image_2").glob("*.png")):
        image = np.asarray(Image.open(image_path).convert("RGB"))
        calibration = read_object_calibration(
            folder / "calib" / f"{image_path.stem}.txt", image.shape[:2]
        )
        points = read_velodyne(folder / "velodyne" / f"{image_path.stem}.bin")
        frames.append((image, velodyne_to_depth(points, calibration, 2, "camera_z")))
    return frames


def _redwood_frames() -> list[tuple[np.ndarray, np.ndarray]]:
    folder = REALDATA / "open3d_rgbd"
    frames = []
    for image_path in sorted((folder / "color").glob("*.jpg")):
        depth = np.asarray(Image.open(folder / "depth" / f"{image_path.stem}.png"), np.float64)
        frames.append((np.asarray(Image.open(image_path).convert("RGB")), depth / 1000.0))
    return frames


def _frame() -> np.ndarray:
    """A 1242x375 RGB uint8 frame: a real KITTI frame resized when present, else synthetic."""
    real = REALDATA / "kitti_object_frames" / "image_2" / "000000.png"
    if real.is_file():
        image = Image.open(real).convert("RGB")
    else:
        from monodepthkit.data.synthetic import render_sequence

        image = Image.fromarray(render_sequence("driving", 0, 0, 1)["images"][0])
    return np.asarray(image.resize((FRAME_WIDTH, FRAME_HEIGHT), Image.BICUBIC))


def _speed_table(rows: list[dict]) -> str:
    lines = [
        "| path | median ms | speed vs original | max abs diff vs our PyTorch (1/m) "
        "| max abs diff vs original (sigmoid disp) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['path']} | {1e3 * row['seconds']:.1f} | {row['speedup']:.2f}x | "
            f"{row['vs_ours']:.2g} | {row['vs_original']:.2g} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
