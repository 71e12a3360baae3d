"""Side by side on the CPU: the original Monodepth2 training step against monodepthkit's.

    git clone https://github.com/nianticlabs/monodepth2 SCRATCH   # read-only, outside the repo
    OMP_NUM_THREADS=1 python benchmarks/bench_train_vs_monodepth2.py --monodepth2 SCRATCH \\
        [--size 128x416 --size 192x640] [--rounds 5] [--batch 4] [--threads 1]

The original side is Niantic's own code from SCRATCH, run unchanged: the script imports its
``networks``, ``layers``, ``options`` and ``trainer`` modules, takes the options from
``MonodepthOptions`` (its defaults: scales 0-3, frame_ids 0 -1 1, separate_resnet pose on
pairs, SSIM, auto-masking, min/max depth 0.1/100, disparity_smoothness 1e-3, v1_multiscale and
avg_reprojection off; here with ``--no_cuda``, ``--weights_init scratch`` and the benchmark's
batch and size), builds a ``trainer.Trainer`` with ``Trainer.__new__`` and the attributes its
step reads (models, SSIM, BackprojectDepth/Project3D per scale, ``torch.optim.Adam`` over all
parameters, as ``Trainer.__init__`` makes them) and times the body of its ``run_epoch``:
``process_batch`` (``predict_poses``, ``generate_images_pred``, ``compute_losses``),
``zero_grad``, ``backward``, ``step``. ``Trainer.__init__`` itself is not run: it reads the
KITTI split files and builds the data loaders and TensorBoard writers. Modules the step does
not use are stubbed at import because this environment lacks them: ``tensorboardX``
(``SummaryWriter``), ``IPython`` (``embed``), ``six`` (``six.moves.urllib``, used by
``utils``' download helper) and the original ``datasets`` package (KITTI loaders; needs
scikit-image).

Both sides get the same batch (random frames -1, 0, +1 and KITTI-like K, the original's
tuple-keyed inputs made from it, its ``("color", 0, s)`` smoothness targets resized once, as
its data loader does) and the same random weights: the original networks are initialised by
their constructors, saved in the release format and converted with `import_monodepth2`. Per
round each path takes one step, the order rotating, in one process, so machine load hits all
alike. Ours:

- plain: `SelfSupervisedTask` with ``channels_last: false`` and ``adam_implementation: null``
  (NCHW weights, torch's default Adam loop on the CPU);
- fast: the task's CPU defaults, ``channels_last`` (set by `set_training_memory_format`, as
  ``mdk fit`` does when training starts) and ``adam_implementation: auto`` (fused Adam).

Both use the task's `configure_optimizers` and `model_step`, and both have the loss's own
savings (identity errors and the target's SSIM statistics computed once for all scales, the
3x3 window means as row and column sums).

The loss check runs each side once without an update on the same weights, with the auto-mask
tie-break noise (``1e-5 * randn``, drawn differently by the two codes) set to zero. The original
normalises its sampling grid for ``align_corners=True`` (the behaviour of ``grid_sample`` in
the PyTorch 0.4.1 it was written for) but calls ``F.grid_sample`` with today's default
``align_corners=False``, half a pixel off; the check reports both: the original as written, and
with ``align_corners=True`` (what ours uses). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import tempfile
import time
import types
import warnings
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from unittest import mock

import torch
import torch.nn.functional as F

from bench_selfsup import make_batch, parse_size
from monodepthkit.checkpoints import import_monodepth2
from monodepthkit.tasks import SelfSupervisedTask

STUBBED_MODULES = ("tensorboardX", "IPython", "six", "six.moves", "datasets")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--monodepth2", type=Path, required=True, help="a checkout of nianticlabs/monodepth2"
    )
    parser.add_argument(
        "--size", type=parse_size, action="append", help="HxW, repeatable (128x416, 192x640)"
    )
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5, help="timed steps per path")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = args.size or [(128, 416), (192, 640)]
    # The original builds its ResNets with torchvision's old positional `pretrained` argument.
    warnings.filterwarnings("ignore", message=".*deprecated since 0.13", category=UserWarning)
    original = import_original(args.monodepth2)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, {torch.get_num_threads()} thread(s), load average "
        f"{os.getloadavg()[0]:.1f}; mono, ResNet-18 depth + separate ResNet-18 pose, batch "
        f"{args.batch}, {args.rounds} steps per path, median ms/step"
    )
    rows = [compare(original, args.batch, size, args.rounds) for size in sizes]
    print()
    print(
        "| size | original | ours plain | ours fast | plain vs original | fast vs original "
        "| loss rel. diff (as written / align_corners=True) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['size']} | {row['original']:.0f} | {row['plain']:.0f} | {row['fast']:.0f} "
            f"| {row['original'] / row['plain']:.2f}x | {row['original'] / row['fast']:.2f}x "
            f"| {row['diff_as_written']:.1e} / {row['diff_aligned']:.1e} |"
        )


# --- the original code --------------------------------------------------------------------


def import_original(folder: Path) -> types.SimpleNamespace:
    """Import Monodepth2's ``networks``, ``layers``, ``options`` and ``trainer`` from a checkout.

    Args:
        folder: the root of a nianticlabs/monodepth2 checkout (``trainer.py`` in it).

    Returns:
        A namespace with the four modules.
    """
    folder = folder.expanduser().resolve()
    if not (folder / "trainer.py").is_file() or not (folder / "networks").is_dir():
        raise SystemExit(
            f"{folder}: no Monodepth2 checkout (trainer.py, networks/); run "
            f"`git clone https://github.com/nianticlabs/monodepth2 {folder}` first"
        )
    for name in STUBBED_MODULES:
        module = types.ModuleType(name)
        sys.modules[name] = module
    sys.modules["tensorboardX"].SummaryWriter = object
    sys.modules["IPython"].embed = lambda *args, **kwargs: None
    sys.modules["six"].moves = sys.modules["six.moves"]
    sys.modules["six.moves"].urllib = types.ModuleType("urllib")
    sys.path.insert(0, str(folder))
    import layers
    import networks
    import options
    import trainer

    return types.SimpleNamespace(networks=networks, layers=layers, options=options, trainer=trainer)


def build_original(original: types.SimpleNamespace, batch: int, size: tuple[int, int]):
    """A ``trainer.Trainer`` made with ``__new__`` and what its training step reads."""
    height, width = size
    opt = original.options.MonodepthOptions().parser.parse_args(
        [
            "--no_cuda",
            "--weights_init",
            "scratch",
            "--batch_size",
            str(batch),
            "--height",
            str(height),
            "--width",
            str(width),
        ]
    )
    networks, layers = original.networks, original.layers
    model = original.trainer.Trainer.__new__(original.trainer.Trainer)
    model.opt = opt
    model.device = torch.device("cpu")
    model.num_scales = len(opt.scales)
    model.num_input_frames = len(opt.frame_ids)
    model.num_pose_frames = 2 if opt.pose_model_input == "pairs" else model.num_input_frames
    model.use_pose_net = True
    pretrained = opt.weights_init == "pretrained"
    encoder = networks.ResnetEncoder(opt.num_layers, pretrained)
    pose_encoder = networks.ResnetEncoder(
        opt.num_layers, pretrained, num_input_images=model.num_pose_frames
    )
    model.models = {
        "encoder": encoder,
        "depth": networks.DepthDecoder(encoder.num_ch_enc, opt.scales),
        "pose_encoder": pose_encoder,
        "pose": networks.PoseDecoder(
            pose_encoder.num_ch_enc, num_input_features=1, num_frames_to_predict_for=2
        ),
    }
    model.parameters_to_train = [p for m in model.models.values() for p in m.parameters()]
    model.model_optimizer = torch.optim.Adam(model.parameters_to_train, opt.learning_rate)
    model.ssim = layers.SSIM()
    model.backproject_depth, model.project_3d = {}, {}
    for scale in opt.scales:
        h, w = height // 2**scale, width // 2**scale
        model.backproject_depth[scale] = layers.BackprojectDepth(batch, h, w)
        model.project_3d[scale] = layers.Project3D(batch, h, w)
    model.set_train()
    return model


def original_inputs(batch: dict, scales: list[int]) -> dict:
    """Monodepth2's tuple-keyed inputs from our batch: colour (and its augmented copy, the
    same) of frames 0, -1, +1, the target resized per scale, and 4x4 K / inv_K per scale."""
    inputs = {}
    for frame, key in ((0, "image"), (-1, "image_-1"), (1, "image_+1")):
        inputs[("color", frame, 0)] = batch[key]
        inputs[("color_aug", frame, 0)] = batch[key]
    height, width = batch["image"].shape[-2:]
    for scale in scales:
        size = (height // 2**scale, width // 2**scale)
        if scale:
            # Resized once, as the original's data loader does; our task's smoothness target.
            inputs[("color", 0, scale)] = F.interpolate(
                batch["image"], size, mode="bilinear", align_corners=False, antialias=True
            )
        K = torch.eye(4).repeat(batch["K"].shape[0], 1, 1)
        K[:, :3, :3] = batch["K"]
        K[:, :2] /= 2**scale
        inputs[("K", scale)] = K
        inputs[("inv_K", scale)] = torch.linalg.pinv(K)
    return inputs


def save_release(model, folder: Path, size: tuple[int, int]) -> Path:
    """Write the original models' weights as Monodepth2 releases them (encoder.pth, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    encoder = model.models["encoder"].state_dict()
    encoder.update(height=size[0], width=size[1], use_stereo=False)
    torch.save(encoder, folder / "encoder.pth")
    for name, file in (("depth", "depth"), ("pose_encoder", "pose_encoder"), ("pose", "pose")):
        torch.save(model.models[name].state_dict(), folder / f"{file}.pth")
    return folder


# --- ours ---------------------------------------------------------------------------------


def build_ours(checkpoint: Path, fast: bool) -> tuple[SelfSupervisedTask, torch.optim.Optimizer]:
    """The imported task with the plain or the fast options, and its own optimiser."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    options = {"channels_last": False, "adam_implementation": None}
    if fast:
        options = {"channels_last": None, "adam_implementation": "auto"}
    task = SelfSupervisedTask(**{**saved["hyper_parameters"], **options})
    task.load_state_dict(saved["state_dict"])
    task.set_training_memory_format(torch.device("cpu"))
    task.train()
    optimizer = task.configure_optimizers()
    return task, optimizer


# --- timing -------------------------------------------------------------------------------


def compare(original: types.SimpleNamespace, batch_size: int, size: tuple[int, int], rounds: int):
    """Median ms/step of the three paths and the step-0 loss differences at one size."""
    torch.manual_seed(0)
    model = build_original(original, batch_size, size)
    batch = make_batch(batch_size, size, "mono", torch.device("cpu"))
    inputs = original_inputs(batch, model.opt.scales)
    with tempfile.TemporaryDirectory(prefix="bench_md2_train_") as folder:
        weights = save_release(model, Path(folder) / "weights", size)
        checkpoint = import_monodepth2(weights, Path(folder) / "model.ckpt")
        plain, plain_optimizer = build_ours(checkpoint, fast=False)
        fast, fast_optimizer = build_ours(checkpoint, fast=True)

    reference = loss_of_ours(copy.deepcopy(plain), batch)
    as_written = loss_of_original(copy.deepcopy(model), inputs, aligned=False)
    aligned = loss_of_original(copy.deepcopy(model), inputs, aligned=True)
    fast_loss = loss_of_ours(copy.deepcopy(fast), batch)
    print(
        f"\n{size[1]}x{size[0]} step-0 loss: original {as_written:.7f} as written, "
        f"{aligned:.7f} with align_corners=True; ours plain {reference:.7f}, fast {fast_loss:.7f}"
    )

    def original_step() -> None:
        # The body of Trainer.run_epoch, without its logging.
        _, losses = model.process_batch(inputs)
        model.model_optimizer.zero_grad()
        losses["loss"].backward()
        model.model_optimizer.step()

    def ours(task: SelfSupervisedTask, optimizer: torch.optim.Optimizer):
        def step() -> None:
            loss = task.model_step(batch)[0]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return step

    steps = {
        "original": original_step,
        "plain": ours(plain, plain_optimizer),
        "fast": ours(fast, fast_optimizer),
    }
    for step in steps.values():
        step()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for index in range(rounds):
        for name in names[index % 3 :] + names[: index % 3]:
            start = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - start)
    row = {name: 1e3 * statistics.median(values) for name, values in times.items()}
    row.update(
        size=f"{size[1]}x{size[0]}",
        diff_as_written=abs(as_written - reference) / abs(reference),
        diff_aligned=max(abs(aligned - reference), abs(fast_loss - reference)) / abs(reference),
    )
    return row


def loss_of_original(model, inputs: dict, aligned: bool) -> float:
    """The original's step-0 loss, without tie-break noise (and with align_corners=True)."""
    grid_sample = F.grid_sample
    patch = partial(grid_sample, align_corners=True) if aligned else grid_sample
    with no_tie_break(), torch.no_grad(), mock.patch.object(F, "grid_sample", patch):
        return float(model.process_batch(dict(inputs))[1]["loss"])


def loss_of_ours(task: SelfSupervisedTask, batch: dict) -> float:
    """Our task's step-0 loss, without tie-break noise."""
    with no_tie_break(), torch.no_grad():
        return float(task.model_step(batch)[0])


@contextmanager
def no_tie_break():
    """``torch.randn`` returns zeros: both codes' auto-mask tie-break noise is off."""

    def zeros(*size, generator=None, **kwargs):
        shape = size[0] if len(size) == 1 and not isinstance(size[0], int) else size
        return torch.zeros(shape, dtype=kwargs.get("dtype"), device=kwargs.get("device"))

    with mock.patch.object(torch, "randn", zeros):
        yield


if __name__ == "__main__":
    main()
