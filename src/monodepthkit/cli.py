"""The `mdk` command.

Every subcommand turns user mistakes (`MdkError`, bad config keys) into a one-line
``error: ...`` message and exit status 2; ``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from monodepthkit.checkpoints.cli import add_parser as add_convert_parser
from monodepthkit.errors import MdkError
from monodepthkit.eval.modes import ALIGN_MODES, PREDICTION_KINDS, PROTOCOL_NAMES
from monodepthkit.inference.app import add_parser as add_serve_parser
from monodepthkit.inference.cli import add_export_parser, add_predict_parser

# Subcommands handled by LightningCLI (YAML configs, trainer flags).
LIGHTNING_COMMANDS = ("fit", "validate", "test")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mdk` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        if argv and argv[0] in LIGHTNING_COMMANDS:
            return _run_lightning(argv)
        args = build_parser().parse_args(argv)
        if not hasattr(args, "handler"):
            build_parser().print_help()
            return 2
        return args.handler(args) or 0
    except MdkError as exc:
        if debug:
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def one_line(exc: BaseException) -> str:
    """The user-facing message of an error on one line.

    Errors raised in DataLoader workers come back with the worker's traceback in the message;
    its last line holds the original message.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    last = lines[-1] if len(lines) > 1 and "Traceback" in str(exc) else " ".join(lines)
    prefix = f"{type(exc).__module__}.{type(exc).__name__}: "
    return last.removeprefix(prefix)


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every subcommand (LightningCLI ones are listed for --help)."""
    parser = argparse.ArgumentParser(
        prog="mdk",
        description="monodepthkit: train, evaluate and use monocular depth models.",
        epilog="Add --debug to any command to see full tracebacks.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, text in (
        ("fit", "train a model from a YAML config (LightningCLI; see `mdk fit --help`)"),
        ("validate", "run the validation loop of a config (LightningCLI)"),
        ("test", "run the test loop of a config (LightningCLI)"),
    ):
        commands.add_parser(name, help=text, add_help=False)
    _add_eval(commands)
    _add_compare(commands)
    _add_data(commands)
    _add_demo(commands)
    _add_models(commands)
    add_predict_parser(commands)
    add_export_parser(commands)
    add_serve_parser(commands)
    add_convert_parser(commands)
    return parser


# --- fit / validate / test ------------------------------------------------------------------


def _run_lightning(argv: list[str]) -> int:
    from monodepthkit.training import run_lightning_cli

    run_lightning_cli(argv)
    return 0


# --- eval -----------------------------------------------------------------------------------


def _add_eval(commands) -> None:
    parser = commands.add_parser(
        "eval",
        help="score a checkpoint on a dataset split, saved predictions, or a pose network",
        description=(
            "Depth: --checkpoint CKPT --dataset NAME --root ROOT --split SPLIT runs the model "
            "through the Predictor on a registered dataset (kitti: eigen | eigen_benchmark | "
            "FILE, Velodyne ground truth at full resolution, annotated for eigen_benchmark, or "
            "--gt-npz from `mdk data kitti-gt`; nyu_labeled: official = the 654 test frames of "
            "the .mat; nyu_raw; folder; synthetic). --pred DIR --gt DIR|GT.npz scores saved "
            "predictions (.npy, or 16-bit PNG metres x256; `mdk predict` output trees are "
            "matched by name); --pred DIR --dataset ... takes the ground truth from the "
            "dataset. Prints a markdown table; with --out writes OUT/metrics.json and "
            "OUT/per_image.csv. "
            "Pose: `mdk eval pose --checkpoint CKPT --root KITTI_ODOM --sequence 09` prints the "
            "ATE mean and std on 5-frame snippets (ROOT/sequences/09/image_2, ROOT/poses/09.txt)."
        ),
    )
    parser.add_argument(
        "what", nargs="?", default="depth", choices=("depth", "pose"), help="default: depth"
    )
    source = parser.add_argument_group("model on a dataset")
    source.add_argument("--checkpoint", type=Path, help=".ckpt from `mdk fit`/`demo`/`convert`")
    source.add_argument(
        "--dataset",
        help="registered dataset: kitti | nyu_labeled | nyu_raw | folder | synthetic | ... "
        "(default: folder)",
    )
    source.add_argument("--root", "--data", dest="root", type=Path, help="dataset root")
    source.add_argument(
        "--split",
        help="split (default: eigen for kitti, official for nyu_labeled, all for nyu_raw, "
        "else test); kitti also takes a split file, nyu_labeled SCHEME or SCHEME/SPLIT",
    )
    source.add_argument(
        "--gt-npz", type=Path, help="ground truth from `mdk data kitti-gt` (kitti only)"
    )
    source.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset option (YAML value), e.g. variant=camera_z, gt=annotated, raw_depth=true",
    )
    source.add_argument("--save-pred", type=Path, help="also write predictions as DIR/NAME.npy")
    source.add_argument("--flip", action="store_true", help="flip test-time augmentation")
    source.add_argument("--batch-size", type=int, default=4, help="images per forward pass")
    source.add_argument("--workers", type=int, default=0, help="DataLoader workers (default 0)")
    source.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    source.add_argument("--sequence", default="09", help="pose: KITTI odometry sequence")
    saved = parser.add_argument_group("saved predictions")
    saved.add_argument("--pred", type=Path, help="folder (tree) of predictions")
    saved.add_argument("--gt", type=Path, help="folder of ground-truth depth, or a kitti-gt .npz")
    saved.add_argument(
        "--kind",
        default="depth",
        choices=PREDICTION_KINDS,
        help="what the prediction files hold (default: depth)",
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOL_NAMES,
        help="depth caps and crop (default: kitti for kitti and a .npz, nyu for nyu_*, else none)",
    )
    parser.add_argument(
        "--align",
        choices=ALIGN_MODES,
        help="per-image alignment before the metrics (default: median for a relative "
        "self-supervised checkpoint, else none)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fixed factor applied to predictions first (5.4 for Monodepth2 stereo "
        "disparities; a converted stereo checkpoint already applies it)",
    )
    parser.add_argument("--min-depth", type=float, help="override the protocol's min depth (m)")
    parser.add_argument("--max-depth", type=float, help="override the protocol's max depth (m)")
    parser.add_argument("--out", type=Path, help="output folder (metrics.json, per_image.csv)")
    parser.set_defaults(handler=_eval)


_DEFAULT_EVAL_SPLITS = {"kitti": "eigen", "nyu_labeled": "official", "nyu_raw": "all"}


def _eval(args: argparse.Namespace) -> int:
    from monodepthkit.eval import get_protocol, markdown_table
    from monodepthkit.eval.datasets import default_protocol

    if args.what == "pose":
        return _eval_pose(args)
    dataset = args.dataset or "folder"
    split = args.split or _DEFAULT_EVAL_SPLITS.get(dataset, "test")
    options = _dataset_options(args.option)
    npz_gt = args.gt is not None and args.gt.suffix == ".npz"
    protocol_name = args.protocol or ("kitti" if npz_gt else default_protocol(dataset))
    if args.checkpoint is not None:
        if args.root is None or args.pred is not None or args.gt is not None:
            raise MdkError(
                "eval: --checkpoint needs --root ROOT (with --dataset and --split), and no "
                "--pred/--gt"
            )
        if args.gt_npz is not None and dataset != "kitti":
            raise MdkError(f"eval: --gt-npz is KITTI ground truth; got --dataset {dataset}")
        from monodepthkit.inference.evaluate import evaluate_checkpoint

        evaluator = evaluate_checkpoint(
            args.checkpoint,
            args.root,
            split=split,
            protocol=protocol_name,
            align=args.align,
            min_depth=args.min_depth,
            max_depth=args.max_depth,
            scale=args.scale,
            batch_size=args.batch_size,
            device=args.device,
            dataset=dataset,
            dataset_options=options,
            gt_npz=args.gt_npz,
            save_predictions=args.save_pred,
            flip=args.flip,
            num_workers=args.workers,
        )
        label = args.checkpoint.name
    elif args.pred is not None and (args.gt is not None or args.root is not None):
        protocol = get_protocol(protocol_name, args.min_depth, args.max_depth)
        evaluator = _eval_saved(args, protocol, dataset, split, options, npz_gt)
        label = args.pred.name
    else:
        raise MdkError(
            "eval: give --checkpoint CKPT --dataset NAME --root ROOT, or --pred DIR --gt "
            "DIR|GT.npz, or --pred DIR --dataset NAME --root ROOT"
        )
    print(markdown_table({label: evaluator.summary()}))
    if args.out is not None:
        print(f"wrote {evaluator.write(args.out)}")
    return 0


def _eval_saved(args, protocol, dataset: str, split: str, options: dict, npz_gt: bool):
    """Saved predictions against a ground-truth folder, a kitti-gt .npz or a dataset."""
    from monodepthkit.eval import evaluate_folders
    from monodepthkit.eval.report import evaluate_saved_predictions

    settings = {"align": args.align or "none", "scale": args.scale, "kind": args.kind}
    if args.gt is not None and not npz_gt:
        if args.gt.is_file():
            raise MdkError(
                f"--gt {args.gt}: expected a folder of depth maps or a .npz from "
                "`mdk data kitti-gt`"
            )
        return evaluate_folders(args.pred, args.gt, protocol, **settings)
    if npz_gt:
        from monodepthkit.data.kitti import load_gt_depths

        names, depths = load_gt_depths(args.gt)
        if not all(names):
            raise MdkError(
                f"--gt {args.gt}: the file has no image names (Monodepth2's own gt_depths.npz); "
                "write one with `mdk data kitti-gt`"
            )
        pairs = zip(names, depths, strict=True)
    else:
        from monodepthkit.eval.datasets import build_eval_dataset, iter_ground_truth

        pairs = iter_ground_truth(build_eval_dataset(dataset, args.root, split, options))
    return evaluate_saved_predictions(args.pred, pairs, protocol, **settings)


def _eval_pose(args: argparse.Namespace) -> int:
    import json

    from monodepthkit.inference.pose import evaluate_pose_checkpoint

    if args.checkpoint is None or args.root is None:
        raise MdkError("eval pose: needs --checkpoint CKPT --root KITTI_ODOM [--sequence 09]")
    result = evaluate_pose_checkpoint(
        args.checkpoint,
        args.root,
        args.sequence,
        device=args.device,
        batch_size=args.batch_size,
    )
    print(
        f"sequence {int(args.sequence):02d}: ATE {result['ate_mean']:.4f} ± "
        f"{result['ate_std']:.4f} m over {result['snippets']} snippets of 5 frames"
    )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "pose.json"
        path.write_text(json.dumps({"sequence": args.sequence, **result}, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


def _dataset_options(items: list[str]) -> dict:
    """``KEY=VALUE`` strings -> {key: YAML value}."""
    import yaml

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise MdkError(f"--option {item}: expected KEY=VALUE, e.g. variant=camera_z")
        options[key] = yaml.safe_load(value)
    return options


# --- compare --------------------------------------------------------------------------------


def _add_compare(commands) -> None:
    parser = commands.add_parser(
        "compare",
        help="train/evaluate several configs or checkpoints on one split and tabulate them",
        description=(
            "Each .yaml is trained as by `mdk fit` (--base configs applied before it, --overlay "
            "configs after it), "
            "each .ckpt is loaded; all are evaluated on the same split and shown in one table "
            "(report 2's Table 1: d1 d2 d3 rel rms log10, plus report 1's MSE on [0, 1]-"
            "normalised depth). Writes OUT/compare.md and OUT/compare.json."
        ),
    )
    parser.add_argument("sources", nargs="+", type=Path, help=".yaml configs and/or .ckpt files")
    parser.add_argument(
        "--base",
        action="append",
        type=Path,
        default=[],
        help="config applied before each source config (repeatable), e.g. the report's "
        "configs/report2/base.yaml",
    )
    parser.add_argument(
        "--overlay",
        action="append",
        type=Path,
        default=[],
        help="config applied after each source config (repeatable), e.g. "
        "configs/synthetic/nyu_twin.yaml",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="ARG=VALUE",
        help="LightningCLI override for every config, e.g. trainer.max_steps=50",
    )
    parser.add_argument("--data", type=Path, help="evaluate on this dataset root instead")
    parser.add_argument(
        "--split", default="test", help="split evaluated with --data (default test)"
    )
    parser.add_argument("--protocol", default="none", choices=PROTOCOL_NAMES)
    parser.add_argument("--align", default="none", choices=ALIGN_MODES)
    parser.add_argument("--min-depth", type=float, help="override the protocol's min depth (m)")
    parser.add_argument("--max-depth", type=float, help="override the protocol's max depth (m)")
    parser.add_argument(
        "--norm-depth",
        type=float,
        help="depth (m) dividing depths for the normalised MSE (default: max depth)",
    )
    parser.add_argument(
        "--mse-splits",
        type=lambda text: [name for name in text.split(",") if name],
        default=[],
        metavar="SPLITS",
        help="also report the normalised MSE on these splits, e.g. train,val,test "
        "(report 1's Table 2)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace) -> int:
    from monodepthkit.compare import compare

    overrides = []
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise MdkError(f"--set {item}: expected KEY=VALUE, e.g. trainer.max_steps=50")
        overrides += [f"--{key}", value]
    compare(
        args.sources,
        args.out,
        bases=args.base,
        overlays=args.overlay,
        overrides=overrides,
        data=args.data,
        split=args.split,
        protocol=args.protocol,
        align=args.align,
        min_depth=args.min_depth,
        max_depth=args.max_depth,
        norm_depth=args.norm_depth,
        mse_splits=args.mse_splits,
    )
    return 0


# --- data -----------------------------------------------------------------------------------


def _add_data(commands) -> None:
    parser = commands.add_parser("data", help="dataset tools (synthetic world, checks)")
    tools = parser.add_subparsers(title="tools", metavar="TOOL")
    synth = tools.add_parser(
        "synth",
        help="render the procedural RGB-D world into the folder format",
        description=(
            "Render procedural sequences with exact metric depth, intrinsics and poses. "
            "Layout: OUT/meta.json, OUT/splits/{train,val,test}.txt, OUT/seq_NNNN/{image,depth}/"
            "NNNNNN.png (depth: 16-bit PNG, metres x256, 0 = none), intrinsics.txt, poses.txt "
            "(3x4 camera-to-world per line), timestamps.txt, and with --stereo image_right/, "
            "depth_right/, stereo.txt (4x4 T_right_left)."
        ),
    )
    synth.add_argument("--preset", default="driving", choices=("driving", "indoor"))
    synth.add_argument("--out", type=Path, required=True, help="output folder")
    synth.add_argument("--sequences", type=int, default=20, help="number of scenes (default 20)")
    synth.add_argument("--frames", type=int, default=30, help="frames per sequence (default 30)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--width", type=int, help="image width (default: the preset's)")
    synth.add_argument("--height", type=int, help="image height (default: the preset's)")
    synth.add_argument("--stereo", action="store_true", help="also render the stereo partner")
    synth.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    synth.set_defaults(handler=_synth)
    check = tools.add_parser(
        "check",
        help="check a dataset tree: counts, missing/unreadable files, sizes, depth, intrinsics",
        description=(
            "Decode every file of a dataset in parallel and list each problem on one line "
            "naming the file: missing or unreadable images and depth maps, image/depth size "
            "mismatches, implausible depth values, intrinsics (principal point outside the "
            "image, implausible focal length), poses, timestamps and split entries. Exits 1 "
            "when anything is wrong, 0 otherwise."
        ),
    )
    check.add_argument("--dataset", required=True, help="folder | synthetic | nyu_labeled | ...")
    check.add_argument("--root", type=Path, required=True, help="dataset root")
    check.add_argument("--split", help="check only this split (default: everything)")
    check.add_argument("--workers", type=int, default=8, help="parallel threads (default 8)")
    check.set_defaults(handler=_check)
    _add_prepare(tools)
    _add_kitti_tools(tools)


_NYU_REPORTS = ("report2", "report3", "report4")


def _add_prepare(tools) -> None:
    prepare = tools.add_parser(
        "prepare",
        help="turn a public dataset into the folder tree a report's configs read",
        description=(
            "report1: KITTI raw (ROOT/DATE/DATE_drive_XXXX_sync/ with calib files) -> report 1's "
            "IP-Basic dense ground truth at 416x128, 3824 seeded pairs, 60/20/20 split, in "
            "data/kitti_ipbasic (configs/report1/). report2, report3, report4: "
            "nyu_depth_v2_labeled.mat in ROOT -> the 1449 labelled pairs at 480x640 with the "
            "report 2 split 1049/200/200, in data/nyu_labeled (configs/report{2,3,4}/)."
        ),
    )
    prepare.add_argument("recipe", choices=("report1", *_NYU_REPORTS))
    prepare.add_argument("--root", type=Path, required=True, help="KITTI raw root or NYU folder")
    prepare.add_argument(
        "--out", type=Path, help="output folder (default data/kitti_ipbasic or data/nyu_labeled)"
    )
    prepare.add_argument(
        "--pairs", type=int, default=3824, help="report1: pairs drawn (default 3824; 0 = all)"
    )
    prepare.add_argument(
        "--seed", type=int, help="seed of the draw and the split (default 0; NYU: the scheme's)"
    )
    prepare.add_argument(
        "--split-by",
        default="frame",
        choices=("frame", "drive"),
        help="report1: split frames at random as the report (default) or whole drives",
    )
    prepare.add_argument(
        "--scheme",
        default="report2",
        choices=("report2", "report5", "official"),
        help="NYU split scheme (default report2: 1049/200/200)",
    )
    prepare.add_argument("--workers", type=int, default=4, help="parallel threads (default 4)")
    prepare.set_defaults(handler=_prepare)


def _add_kitti_tools(tools) -> None:
    gt = tools.add_parser(
        "kitti-gt",
        help="write the ground-truth depths of a KITTI split into one .npz",
        description=(
            "Project the Velodyne scans (or read the annotated depth) of every frame of a "
            "split once, for fast evaluation, like Monodepth2's export_gt_depth.py: the .npz "
            "holds 'data' (float32 metres, 0 = none) and 'names'. The default variant "
            "reproduces Monodepth2's Eigen ground truth pixel for pixel."
        ),
    )
    gt.add_argument("--split", required=True, help="eigen | eigen_benchmark | ... | FILE")
    gt.add_argument("--root", type=Path, required=True, help="KITTI raw root (DATE/ folders)")
    gt.add_argument("--out", type=Path, required=True, help="output .npz file")
    gt.add_argument(
        "--variant",
        default="monodepth2",
        choices=("monodepth2", "monodepth2_projected", "camera_z"),
        help="Velodyne ground truth variant (default monodepth2)",
    )
    gt.add_argument(
        "--gt",
        choices=("velodyne", "annotated", "completed"),
        help="source (default: annotated for eigen_benchmark, else velodyne)",
    )
    gt.add_argument("--splits", type=Path, help="split files folder (default ROOT/splits)")
    gt.add_argument("--depth-root", type=Path, help="annotated depth root (default ROOT)")
    gt.add_argument("--workers", type=int, default=4, help="parallel threads (default 4)")
    gt.set_defaults(handler=_kitti_gt)
    splits = tools.add_parser(
        "splits",
        help="download the official KITTI split files (needs internet)",
        description=(
            "Fetch the Eigen, Eigen benchmark, Eigen-Zhou, Eigen full, odometry and benchmark "
            "split files (Monodepth2), Zhou's static frames (SfMLearner) and BTS's Eigen list "
            "into DEST, at pinned commits. Use DEST as `--splits` / `splits_dir`."
        ),
    )
    splits.add_argument("--download", type=Path, required=True, metavar="DEST")
    splits.set_defaults(handler=_splits)
    complete = tools.add_parser(
        "complete",
        help="densify the sparse LiDAR depth of a KITTI tree with IP-Basic",
        description=(
            "IP-Basic fast completion (Ku et al. 2018) of every Velodyne scan (or KITTI depth "
            "velodyne_raw PNG) under ROOT, in parallel; writes OUT/<drive>/proj_depth/ip_basic/"
            "image_0X/FRAME.png (16-bit, metres x256). Existing outputs are skipped."
        ),
    )
    complete.add_argument("--root", type=Path, required=True, help="KITTI raw or depth root")
    complete.add_argument("--out", type=Path, required=True, help="output root")
    complete.add_argument("--workers", type=int, default=4, help="parallel threads (default 4)")
    complete.add_argument(
        "--blur", default="gaussian", choices=("gaussian", "bilateral"), help="final blur"
    )
    complete.add_argument(
        "--no-extrapolate", action="store_true", help="do not extend depth to the image top"
    )
    complete.add_argument("--overwrite", action="store_true", help="redo existing outputs")
    complete.set_defaults(handler=_complete)


def _synth(args: argparse.Namespace) -> int:
    from monodepthkit.data.synthetic import generate_world

    root = generate_world(
        args.out,
        preset=args.preset,
        num_sequences=args.sequences,
        frames_per_sequence=args.frames,
        seed=args.seed,
        width=args.width,
        height=args.height,
        stereo=args.stereo,
        workers=args.workers,
    )
    print(f"synthetic {args.preset} world in {root}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    if args.recipe == "report1":
        from monodepthkit.data.prepare import prepare_report1

        out = args.out or Path("data/kitti_ipbasic")
        summary = prepare_report1(
            args.root,
            out,
            num_pairs=args.pairs or None,
            seed=0 if args.seed is None else args.seed,
            split_by=args.split_by,
            workers=args.workers,
        )
        sizes = ", ".join(f"{name} {count}" for name, count in summary["splits"].items())
        print(
            f"wrote {summary['pairs']} of {summary['available']} pairs to {out} ({sizes}); "
            "train with: mdk fit --config configs/report1/base.yaml "
            "--config configs/report1/unet_mse.yaml"
            + ("" if out == Path("data/kitti_ipbasic") else f" --data.root {out}")
        )
        return 0
    from monodepthkit.data.nyu import export_labeled_to_folder

    out = args.out or Path("data/nyu_labeled")
    export_labeled_to_folder(args.root, out, args.scheme, split_seed=args.seed)
    counts = ", ".join(
        f"{path.stem} {len(path.read_text().splitlines())}"
        for path in sorted((out / "splits").glob("*.txt"))
    )
    suffix = "" if out == Path("data/nyu_labeled") else f" --data.root {out}"
    print(
        f"wrote the NYU labelled pairs to {out} ({counts}); train with: "
        f"mdk fit --config configs/{args.recipe}/base.yaml "
        f"--config configs/{args.recipe}/VARIANT.yaml{suffix}"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    from monodepthkit.data.check import run_check

    report = run_check(args.dataset, args.root, split=args.split, workers=args.workers)
    print(report.summary())
    for problem in report.problems:
        print(problem)
    if report.problems:
        print(f"{len(report.problems)} problem(s) found", file=sys.stderr)
        return 1
    print("no problems found")
    return 0


def _kitti_gt(args: argparse.Namespace) -> int:
    from monodepthkit.data.kitti import export_gt_depths

    path = export_gt_depths(
        args.root,
        args.split,
        args.out,
        variant=args.variant,
        gt=args.gt,
        splits_dir=args.splits,
        depth_root=args.depth_root,
        workers=args.workers,
    )
    print(f"wrote {path}")
    return 0


def _splits(args: argparse.Namespace) -> int:
    from monodepthkit.data.splits import download_splits

    files = download_splits(args.download)
    print(f"wrote {len(files)} split files to {args.download}")
    return 0


def _complete(args: argparse.Namespace) -> int:
    from monodepthkit.data.completion import complete_tree

    count = complete_tree(
        args.root,
        args.out,
        workers=args.workers,
        extrapolate=not args.no_extrapolate,
        blur=args.blur,
        overwrite=args.overwrite,
    )
    print(f"completed {count} depth maps into {args.out}")
    return 0


# --- demo -----------------------------------------------------------------------------------


def _add_demo(commands) -> None:
    parser = commands.add_parser(
        "demo",
        help="generate the synthetic driving world, train the U-Net baseline on CPU, evaluate",
        description=(
            "The main job on the built-in data: generate (and cache) the synthetic driving world, "
            "train the U-Net baseline, evaluate it on the held-out test split next to a "
            "constant-median-depth baseline, and write OUT/metrics.json, OUT/figure.png and "
            "OUT/model.ckpt."
        ),
    )
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="report folder")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="where the synthetic world is cached (default: .cache/synthetic/demo)",
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps (default: the config's)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="the demo's setup, a `mdk fit` config (default: configs/demo.yaml)",
    )
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from monodepthkit.demo import run_demo

    run_demo(out=args.out, data_root=args.data, steps=args.steps, config=args.config)
    return 0


# --- models ---------------------------------------------------------------------------------


def _add_models(commands) -> None:
    parser = commands.add_parser("models", help="list registered models with parameter counts")
    parser.set_defaults(handler=_models)


def _models(args: argparse.Namespace) -> int:
    from monodepthkit.models import create_model, list_models

    print("| model | parameters |\n|---|---:|")
    for name in list_models():
        count = sum(p.numel() for p in create_model(name).parameters())
        print(f"| {name} | {count / 1e6:.2f} M |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
