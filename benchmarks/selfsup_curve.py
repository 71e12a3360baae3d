"""Learning proof of self-supervised training (report 5, Monodepth2) on the synthetic driving world.

The full matrix of issue 13 (target: median-scaled test AbsRel <= 0.20, mean over 3 seeds,
within 15 CPU-minutes per seed; 12 configurations x 3 seeds, about 9 CPU-hours), as
``make bench-learning`` runs it; finished runs are committed in
benchmarks/results/selfsup_curve_64x192 and reused:

    python benchmarks/selfsup_curve.py --size 64x192 --cpu-minutes 15 --steps 100000 \\
        --seeds 0 1 2 --configs all diagnostics --results benchmarks/results/selfsup_curve_64x192

64x192 is the size that buys enough steps: at 128x416 a step costs 3.0 (PoseCNN) to 4.2
(separate) CPU-seconds, about 215-300 steps in the budget. Steps only at 128x416 on a small world:

    python benchmarks/selfsup_curve.py --size 128x416 --steps 10 --eval-every 10 --seeds 0 \\
        --configs mono_posecnn mono_separate --sequences 20 --frames 4 --root /tmp/w416

Renders (or reuses) one synthetic driving world with its stereo partner (default 80 scenes of
10 frames; whole scenes are split, the last ~10% are the held-out test scenes, >= 8), then
trains each configuration from random weights (ResNet-18 depth network, Monodepth2's
``min_depth`` 0.1, Adam at lr 1e-4, batch 4, flips and colour jitter with the loss on the
un-jittered images) once per seed, for ``--steps`` steps or ``--cpu-minutes`` of process CPU
time, whichever comes first. No ground truth is used for self-supervised training.

Evaluated (KITTI protocol: ground truth in (1e-3, 80) m, Garg crop): every frame of the test
scenes and ``--train-eval-frames`` training frames, with per-image median scaling; metric
models (stereo, mono+stereo, supervised) also without any scaling. References: the untrained
network (step 0), a constant depth (median-scaled: the ground truth's median everywhere) and
the supervised U-Net (`unet`, Eigen's scale-invariant log loss with lambda 0.5 on the ground
truth of the same training frames, same steps, lr, batch and augmentation) as the upper reference.

Configurations (``--configs``; ``all`` = every one but the diagnostics, ``diagnostics`` = those):

- ``mono_separate``: mono, the paper's pose network (its own ResNet-18 on both frames).
- ``mono_posecnn``: mono, PoseCNN (translation times the mean inverse depth, as Monodepth2).
- ``stereo`` / ``mono_stereo``: the stereo partner (and frames -1, +1), Monodepth2's fixed 0.1
  baseline; the world's baseline is KITTI's 0.54 m, so depth x 5.4 is metric.
- ``avg_reprojection``, ``no_automask``, ``no_full_res``: the paper's ablations of
  ``mono_separate`` (mean instead of minimum reprojection, no auto-masking, each scale's loss
  at its own resolution).
- ``supervised_unet``: the upper reference.
- ``mono_gt_pose`` (diagnostic, not in ``all``): ``mono_separate`` with the world's ground-truth
  T_context_target (metric, in units of ``GT_POSE_UNIT``) in place of the pose network, to
  separate learning the depth from learning the motion.
- ``gt_pose_avg_reprojection``, ``gt_pose_no_automask``, ``gt_pose_no_full_res`` (diagnostics):
  the same three ablations of ``mono_gt_pose``, where the motion is known and the loss alone
  decides the depth (with a learned pose from random weights, mono's run-to-run noise can
  exceed the ablations' effect).

- ``dav2_stereo``, ``dav2_mono`` (``foundation``, not in ``all``): issue 16's self-supervised
  adaptation, Depth Anything V2 small (random weights: the Hub is out of reach offline) as the
  depth network of ``stereo`` and ``mono_separate``, with ``depth_range: [min_depth, 100]``;
  its untrained row is the same network at step 0, and the loss table shows its photometric
  loss falling. ``--checkpoints DIR`` keeps each trained run as a checkpoint (for ``mdk eval``,
  or as the teacher of ``benchmarks/bench_distill.py --teacher-checkpoint``):

    python benchmarks/selfsup_curve.py --configs foundation --seeds 0 \
        --results benchmarks/results/selfsup_curve_64x192 --checkpoints runs/selfsup_curve

Prints markdown tables: the results per configuration (mean and standard deviation over seeds,
the per-seed values, the spread over test scenes, CPU minutes), stereo with and without median
scaling, the untrained and trained AbsRel with the training loss (runs that recorded it), the
ablations next to the paper's direction, and the test AbsRel curve.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Subset

from monodepthkit.data import batch as keys
from monodepthkit.data.folder import FolderDataset
from monodepthkit.data.synthetic import GENERATOR_VERSION, generate_world
from monodepthkit.data.transforms import AugmentOptions
from monodepthkit.eval import get_protocol
from monodepthkit.losses.supervised import scale_invariant_log_loss
from monodepthkit.models import create_model
from monodepthkit.tasks import SelfSupervisedTask
from monodepthkit.tasks.loading import save_task
from monodepthkit.tasks.metrics import batch_depth_metrics

ROOT = Path(__file__).resolve().parents[1]
RESNET = {"num_layers": 18, "pretrained": False}
PAPER = {"mode": "mono", "pose_model": "separate"}
GT_POSE = {**PAPER, "ground_truth_pose": True}
CONFIGS: dict[str, dict] = {
    "mono_separate": PAPER,
    "mono_posecnn": {"mode": "mono", "pose_model": "posecnn"},
    "stereo": {"mode": "stereo"},
    "mono_stereo": {"mode": "mono+stereo", "pose_model": "separate"},
    "avg_reprojection": {**PAPER, "reprojection": "mean"},
    "no_automask": {**PAPER, "automask": False},
    "no_full_res": {**PAPER, "full_res_multiscale": False},
    "supervised_unet": {"supervised": True},
    "mono_gt_pose": GT_POSE,
    "gt_pose_avg_reprojection": {**GT_POSE, "reprojection": "mean"},
    "gt_pose_no_automask": {**GT_POSE, "automask": False},
    "gt_pose_no_full_res": {**GT_POSE, "full_res_multiscale": False},
    "dav2_stereo": {"mode": "stereo", "depth_model": "depth_anything_v2"},
    "dav2_mono": {**PAPER, "depth_model": "depth_anything_v2"},
}
# Issue 16's self-supervised adaptation, not in ``all``: Depth Anything V2 small (random
# weights offline: no Hub here) as the depth network, its relative disparity mapped to
# Monodepth2's bounded depth by ``depth_range`` (models/foundation.py), at the world's size
# rounded up to multiples of 14 inside the wrapper.
FOUNDATION = ("dav2_stereo", "dav2_mono")
DAV2 = {"variant": "small", "pretrained": False}
# Diagnostics, not in ``all``: which part of self-supervised learning limits the curve, and the
# ablations on the model whose motion is known (where the loss alone decides the depth).
DIAGNOSTICS = (
    "mono_gt_pose",
    "gt_pose_avg_reprojection",
    "gt_pose_no_automask",
    "gt_pose_no_full_res",
)
# Each ablation: the full model it changes and what it changes.
ABLATIONS = {
    "avg_reprojection": ("mono_separate", "average reprojection instead of per-pixel minimum"),
    "no_automask": ("mono_separate", "no auto-masking"),
    "no_full_res": ("mono_separate", "no full-resolution multi-scale"),
    "gt_pose_avg_reprojection": (
        "mono_gt_pose",
        "average reprojection instead of per-pixel minimum",
    ),
    "gt_pose_no_automask": ("mono_gt_pose", "no auto-masking"),
    "gt_pose_no_full_res": ("mono_gt_pose", "no full-resolution multi-scale"),
}
# Monodepth2 (Godard et al. 2019), Table 3: each ablation of the full mono model raises AbsRel.
PAPER_DIRECTION = "worse (higher AbsRel)"


def parse_size(text: str) -> tuple[int, int]:
    """``"128x416"`` -> (128, 416): height x width, multiples of 32."""
    height, width = (int(v) for v in text.lower().split("x"))
    if height % 32 or width % 32:
        raise argparse.ArgumentTypeError(f"size {text}: height and width must be multiples of 32")
    return height, width


# The ground-truth translation in units of 50 m, so that the world's depths (~5-50 m) start
# near the untrained network's depth (~0.2) instead of 50x beyond it.
GT_POSE_UNIT = 50.0


class GroundTruthPoseTask(SelfSupervisedTask):
    """`SelfSupervisedTask` that warps with the batch's ground-truth ``T_{offset}``."""

    def source_transforms(self, batch: dict, target_features=None):
        transforms = {}
        for offset in self.frame_offsets:
            T = batch[keys.context_transform_key(offset)].clone()
            T[:, :3, 3] /= GT_POSE_UNIT
            transforms[keys.context_image_key(offset)] = T
        return transforms, {}


def build(config: dict, min_depth: float) -> nn.Module:
    """The model of a configuration: a `SelfSupervisedTask` or the supervised `unet`."""
    if config.get("supervised"):
        return create_model("unet", min_depth=min_depth, max_depth=100.0)
    options = dict(config)
    pose_model = options.pop("pose_model", "separate")
    depth_kwargs = {**RESNET, "min_depth": min_depth, "max_depth": 100.0}
    if options.get("depth_model") == "depth_anything_v2":
        depth_kwargs = {**DAV2, "depth_range": [min_depth, 100.0]}
    task = SelfSupervisedTask
    if options.pop("ground_truth_pose", False):
        task, options["depth_scale"] = GroundTruthPoseTask, GT_POSE_UNIT
    return task(
        depth_model_kwargs=depth_kwargs,
        pose_model=pose_model,
        pose_model_kwargs=RESNET if pose_model == "separate" else {},
        **options,
    )


def training_data(root: Path, config: dict, batch: int, seed: int) -> DataLoader:
    """Shuffled training frames with the views the configuration needs."""
    mode = config.get("mode", "mono")
    augment = AugmentOptions(flip=True, color_jitter=0.5, keep_unjittered=True)
    dataset = FolderDataset(
        root,
        "train",
        frame_offsets=(-1, 1) if mode != "stereo" and not config.get("supervised") else (),
        stereo=mode != "mono",
        require_depth=bool(config.get("supervised")),
        augment=augment,
    )
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True, generator=generator)


def predict(model: nn.Module, image: Tensor) -> tuple[Tensor, Tensor | None]:
    """[B, 1, H, W] depth (times a self-supervised task's depth_scale) and its sigmoid
    disparity in [0, 1] (None for the supervised U-Net)."""
    outputs = model(image)
    return outputs["depth"], outputs.get("disp")


def evaluate(model: nn.Module | None, loader: DataLoader, metric: bool) -> dict[str, float]:
    """Mean metrics over the loader's frames (KITTI protocol); None = constant depth.

    Returns:
        ``abs_rel``, ``rmse``, ``d1`` (median-scaled per image), ``scene_std`` (standard
        deviation over scenes of the per-scene mean AbsRel), ``ratio`` (mean of the per-image
        median ground truth / median prediction), for a self-supervised model ``saturated``
        (the fraction of its sigmoid disparities outside [0.05, 0.95], i.e. depth beyond ~20x
        ``min_depth`` or within ~1.05x of it: in mono, where the scale is free, a large share
        below 0.05 only means the network chose a far scale; above 0.95 is the upper-bound
        saturation of issue 13's regression test) and, for a metric model, ``abs_rel_metric``
        (no scaling).
    """
    protocol = get_protocol("kitti")
    rows, metric_rows, scenes, ratios, saturated = [], [], [], [], []
    if model is not None:
        model.eval()
    with torch.no_grad():
        for batch in loader:
            image, gt = batch[keys.IMAGE], batch[keys.DEPTH]
            depth, disp = (torch.ones_like(gt), None) if model is None else predict(model, image)
            if disp is not None:
                saturated.append(((disp < 0.05) | (disp > 0.95)).float().mean().item())
            rows += batch_depth_metrics(depth, gt, protocol, align="median")
            if metric:
                metric_rows += batch_depth_metrics(depth, gt, protocol, align="none")
            scenes += [name.split("/")[0] for name in batch[keys.NAME]]
            for pred, target in zip(depth, gt, strict=True):
                valid = target > 0
                ratios.append(float(target[valid].median() / pred[valid].median()))
    if model is not None:
        model.train()
    by_scene = defaultdict(list)
    for scene, row in zip(scenes, rows, strict=True):
        by_scene[scene].append(row["abs_rel"])
    shown = ("abs_rel", "rmse", "d1")
    result = {name: float(np.mean([row[name] for row in rows])) for name in shown}
    result["scene_std"] = float(np.std([np.mean(v) for v in by_scene.values()]))
    result["ratio"] = float(np.mean(ratios))
    if saturated:
        result["saturated"] = float(np.mean(saturated))
    if metric:
        result["abs_rel_metric"] = float(np.mean([row["abs_rel"] for row in metric_rows]))
    return result


def train_run(name: str, seed: int, args: argparse.Namespace, evals: dict) -> dict:
    """Train one configuration from random weights with one seed; evaluate along the way."""
    config = CONFIGS[name]
    supervised = bool(config.get("supervised"))
    torch.manual_seed(seed)
    model = build(config, args.min_depth)
    metric = supervised or config.get("mode", "mono") != "mono" or "ground_truth_pose" in config
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loader = training_data(args.root, config, args.batch, seed)
    curve = [(0, 0.0, evaluate(model, evals["test"], metric)["abs_rel"])]
    untrained = curve[0][2]
    protocol = get_protocol("kitti")
    cpu_budget = args.cpu_minutes * 60.0
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    step, losses, automask = 0, [], []
    model.train()
    while step < args.steps and time.process_time() - cpu_start < cpu_budget:
        for batch in loader:
            if supervised:
                gt = batch[keys.DEPTH]
                depth = model(batch[keys.IMAGE])["depth"]
                valid = (gt > protocol.min_depth) & (gt < protocol.max_depth)
                loss = scale_invariant_log_loss(depth, gt, valid, lam=0.5)
            else:
                loss, terms, _ = model.model_step(batch)
                automask.append(float(terms["automask"]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            step += 1
            cpu = time.process_time() - cpu_start
            done = step >= args.steps or cpu >= cpu_budget
            if step % args.eval_every == 0 or done:
                point = evaluate(model, evals["test"], metric)
                curve.append((step, cpu, point["abs_rel"]))
                saturated = ""
                if "saturated" in point:
                    saturated = f", {point['saturated']:.0%} disp outside [0.05, 0.95]"
                print(
                    f"  {name} seed {seed} step {step} ({cpu / 60:.1f} CPU-min, loss "
                    f"{np.mean(losses[-args.eval_every :]):.4f}): test AbsRel "
                    f"{point['abs_rel']:.4f}{saturated}",
                    flush=True,
                )
            if done:
                break
    if args.checkpoints is not None and type(model) is SelfSupervisedTask:
        save_task(
            model,
            args.checkpoints / f"{name}_seed{seed}.ckpt",
            datamodule_hyper_parameters={"image_size": list(args.size)},
        )
    return {
        "steps": step,
        "cpu_s": time.process_time() - cpu_start,
        "wall_s": time.perf_counter() - wall_start,
        "untrained": untrained,
        "curve": curve,
        "test": evaluate(model, evals["test"], metric),
        "train": evaluate(model, evals["train"], metric),
        "automask": float(np.mean(automask[-50:])) if automask else math.nan,
        "loss_first": float(np.mean(losses[:10])),
        "loss_last": float(np.mean(losses[-50:])),
    }


def run(name: str, seed: int, args: argparse.Namespace, evals: dict) -> dict:
    """`train_run`, or its result from ``args.results`` when the same setting already ran."""
    if args.results is None:
        return train_run(name, seed, args, evals)
    setting = {
        key: getattr(args, key)
        for key in ("size", "batch", "lr", "min_depth", "steps", "cpu_minutes", "threads")
    }
    setting.update(sequences=args.sequences, frames=args.frames, world_seed=args.world_seed)
    setting["generator_version"] = GENERATOR_VERSION
    setting["size"] = list(setting["size"])
    path = args.results / f"{name}_seed{seed}.json"
    if path.exists():
        saved = json.loads(path.read_text())
        if saved["setting"] != setting:
            raise SystemExit(
                f"{path} was run with {saved['setting']}, not {setting}: use another --results "
                "folder or delete the file"
            )
        print(f"  {name} seed {seed}: reusing {path}", flush=True)
        return saved["result"]
    if args.reuse_only:
        raise SystemExit(
            f"{path} is missing and --reuse-only forbids training it: drop --reuse-only to train "
            f"it ({args.cpu_minutes:g} CPU-minutes)"
        )
    result = train_run(name, seed, args, evals)
    args.results.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps({"setting": setting, "result": result}, indent=1))
    partial.replace(path)
    return result


def _mean_of(runs: list[dict], name: str) -> str:
    """Mean over runs of a test metric as a percentage, ``-`` where the runs lack it (runs
    saved before the metric existed, or the supervised U-Net for ``saturated``)."""
    values = [r["test"][name] for r in runs if name in r["test"]]
    return f"{np.mean(values):.0%}" if len(values) == len(runs) else "-"


def mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def print_tables(results: dict, constant: dict, args: argparse.Namespace, world: str) -> None:
    height, width = args.size
    print()
    print(
        f"{world}; {height}x{width}, batch {args.batch}, Adam lr {args.lr:g}, min_depth "
        f"{args.min_depth:g}, random weights, at most {args.steps} steps or "
        f"{args.cpu_minutes:g} CPU-minutes per run, seeds {' '.join(map(str, args.seeds))}, "
        f"{torch.get_num_threads()} threads. AbsRel: KITTI protocol, per-image median "
        "scaling; mean ± std over seeds."
    )
    print()
    print(
        "| config | steps | CPU-min/run | test AbsRel | per seed | last 3 evaluations | "
        "train AbsRel | test RMSE | test d1 | scene spread | auto-mask kept | "
        "disp outside [0.05, 0.95] |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs in results.items():
        tests = [r["test"]["abs_rel"] for r in runs]
        automask = np.mean([r["automask"] for r in runs])
        print(
            f"| {name} | {np.mean([r['steps'] for r in runs]):.0f} | "
            f"{np.mean([r['cpu_s'] for r in runs]) / 60:.1f} | {mean_std(tests)} | "
            f"{' '.join(f'{v:.3f}' for v in tests)} | "
            f"{mean_std([np.mean([v for _, _, v in r['curve'][-3:]]) for r in runs])} | "
            f"{mean_std([r['train']['abs_rel'] for r in runs])} | "
            f"{np.mean([r['test']['rmse'] for r in runs]):.2f} | "
            f"{np.mean([r['test']['d1'] for r in runs]):.3f} | "
            f"{np.mean([r['test']['scene_std'] for r in runs]):.3f} | "
            f"{'-' if math.isnan(automask) else f'{automask:.2f}'} | "
            f"{_mean_of(runs, 'saturated')} |"
        )
    untrained = [
        r["untrained"]
        for name, runs in results.items()
        if not CONFIGS[name].get("supervised")
        for r in runs
    ]
    if untrained:
        print(f"| untrained depth network (step 0) | 0 | 0 | {mean_std(untrained)} |" + " |" * 8)
    print(
        f"| constant depth | | | {constant['abs_rel']:.3f} | | | | {constant['rmse']:.2f} | "
        f"{constant['d1']:.3f} | {constant['scene_std']:.3f} | | |"
    )

    metric = [name for name, runs in results.items() if "abs_rel_metric" in runs[0]["test"]]
    if metric:
        print()
        print("| config | test AbsRel, median-scaled | test AbsRel, no scaling | gt/pred median |")
        print("|---|---:|---:|---:|")
        for name in metric:
            runs = results[name]
            print(
                f"| {name} | {mean_std([r['test']['abs_rel'] for r in runs])} | "
                f"{mean_std([r['test']['abs_rel_metric'] for r in runs])} | "
                f"{mean_std([r['test']['ratio'] for r in runs])} |"
            )

    logged = [
        name for name, runs in results.items() if all("loss_first" in r for r in runs)
    ]  # runs saved before the losses were recorded have no such row
    if logged:
        print()
        print(
            "| config | test AbsRel, untrained | test AbsRel, trained | training loss, first 10 "
            "steps | training loss, last 50 steps |"
        )
        print("|---|---:|---:|---:|---:|")
        for name in logged:
            runs = results[name]
            print(
                f"| {name} | {mean_std([r['untrained'] for r in runs])} | "
                f"{mean_std([r['test']['abs_rel'] for r in runs])} | "
                f"{mean_std([r['loss_first'] for r in runs])} | "
                f"{mean_std([r['loss_last'] for r in runs])} |"
            )

    for base in dict.fromkeys(base for base, _ in ABLATIONS.values()):
        ablations = [n for n, (b, _) in ABLATIONS.items() if b == base and n in results]
        if not ablations or base not in results:
            continue
        full = [r["test"]["abs_rel"] for r in results[base]]
        print()
        print(f"| variant of {base} | test AbsRel | vs full model | paper | agrees |")
        print("|---|---:|---:|---|---|")
        print(f"| full model | {mean_std(full)} | | | |")
        for name in ablations:
            values = [r["test"]["abs_rel"] for r in results[name]]
            delta = np.mean(values) - np.mean(full)
            spread = max(np.std(values), np.std(full))
            verdict = "yes" if delta > spread else ("no" if delta < -spread else "within noise")
            print(
                f"| {ABLATIONS[name][1]} | {mean_std(values)} | {delta:+.3f} | "
                f"{PAPER_DIRECTION} | {verdict} |"
            )

    print()
    names = list(results)
    print("| step | " + " | ".join(names) + " |")
    print("|---:|" + "---:|" * len(names))
    steps = sorted({s for runs in results.values() for r in runs for s, _, _ in r["curve"]})
    for step in steps:
        cells = []
        for name in names:
            values = [v for r in results[name] for s, _, v in r["curve"] if s == step]
            cells.append(f"{np.mean(values):.3f}" if len(values) == len(results[name]) else "")
        if any(cells):  # a run's last step, where the seeds stopped apart, has no mean
            print(f"| {step} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["mono_separate", "mono_posecnn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1000, help="training steps per run (cap)")
    parser.add_argument("--cpu-minutes", type=float, default=15.0, help="process CPU time cap")
    parser.add_argument("--size", type=parse_size, default=(64, 192), help="HxW")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--min-depth", type=float, default=0.1, help="Monodepth2's 0.1")
    parser.add_argument("--eval-every", type=int, default=100, help="steps between curve points")
    parser.add_argument("--sequences", type=int, default=80, help="scenes (>= 80: >= 8 test)")
    parser.add_argument("--frames", type=int, default=10, help="frames per scene")
    parser.add_argument("--train-eval-frames", type=int, default=80)
    parser.add_argument("--world-seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: fastest per CPU-second here)"
    )
    parser.add_argument("--root", type=Path, help="world folder (default: per size in .cache)")
    parser.add_argument(
        "--results",
        type=Path,
        help="folder of one JSON per finished run (config_seedN.json): runs found there are "
        "not trained again, so the matrix can be split over processes, resumed after a stop "
        "and printed as one table",
    )
    parser.add_argument(
        "--checkpoints",
        type=Path,
        help="also save each trained self-supervised run as a checkpoint there "
        "(config_seedN.ckpt, for `mdk eval`/`mdk predict` or as a distillation teacher)",
    )
    parser.add_argument(
        "--reuse-only",
        action="store_true",
        help="only print the tables of the runs in --results; a missing run is an error, "
        "not trained",
    )
    args = parser.parse_args()
    if args.reuse_only and args.results is None:
        parser.error("--reuse-only needs --results")
    groups = {
        "all": [n for n in CONFIGS if n not in DIAGNOSTICS + FOUNDATION],
        "diagnostics": DIAGNOSTICS,
        "foundation": FOUNDATION,
    }
    names = list(dict.fromkeys(n for c in args.configs for n in groups.get(c, [c])))
    unknown = [name for name in names if name not in CONFIGS]
    if unknown:
        parser.error(
            f"unknown configs {unknown}; choose from {', '.join(CONFIGS)}, all or diagnostics"
        )
    torch.set_num_threads(args.threads)
    height, width = args.size
    if args.root is None:
        args.root = (
            ROOT / f".cache/synthetic/selfsup_curve_{height}x{width}_{args.sequences}x{args.frames}"
        )
    start = time.perf_counter()
    generate_world(
        args.root,
        preset="driving",
        num_sequences=args.sequences,
        frames_per_sequence=args.frames,
        seed=args.world_seed,
        width=width,
        height=height,
        stereo=True,
        workers=1,
        progress=False,
    )
    test = FolderDataset(args.root, "test", require_depth=True)
    train = FolderDataset(args.root, "train", require_depth=True)
    picked = np.linspace(0, len(train) - 1, min(args.train_eval_frames, len(train)))
    evals = {
        "test": DataLoader(test, batch_size=8),
        "train": DataLoader(Subset(train, picked.round().astype(int).tolist()), batch_size=8),
    }
    test_scenes = len({sequence.files.name for sequence, _ in test.samples})
    world = (
        f"Synthetic driving world, {args.sequences} scenes x {args.frames} frames "
        f"(stereo, baseline 0.54 m): {len(train)} training frames, {test_scenes} held-out test "
        f"scenes ({len(test)} frames), {len(picked)} training frames evaluated"
    )
    print(f"{world} (rendered or reused in {time.perf_counter() - start:.0f} s)", flush=True)
    constant = evaluate(None, evals["test"], metric=False)
    results = {name: [run(name, seed, args, evals) for seed in args.seeds] for name in names}
    print_tables(results, constant, args, world)
    print(f"\ntotal wall time {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
