"""`mdk convert`: one sub-subcommand per importer of published weights.

To add an importer, write ``_add_<name>(importers)`` that builds its parser and sets
``handler``, and list it in `IMPORTERS`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from monodepthkit.eval.modes import PROTOCOL_NAMES


def add_parser(commands) -> None:
    """Add ``mdk convert <source> ...`` to the `mdk` subcommands."""
    parser = commands.add_parser(
        "convert",
        help="turn published weights (Monodepth2, ...) into a monodepthkit checkpoint",
        description=(
            "Convert another project's released weights into a checkpoint that `mdk predict`, "
            "`mdk eval` and `load_task` use without a config."
        ),
    )
    importers = parser.add_subparsers(title="sources", metavar="SOURCE")
    for add_importer in IMPORTERS:
        add_importer(importers)
    parser.set_defaults(handler=lambda _args: _print_help(parser))


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


# --- monodepth2 -------------------------------------------------------------------------------


def _add_monodepth2(importers) -> None:
    parser = importers.add_parser(
        "monodepth2",
        help="Monodepth2 weights folder (encoder.pth, depth.pth, [pose_encoder.pth, pose.pth])",
        description=(
            "Read a Monodepth2 weights folder in Niantic's layout (e.g. mono_640x192 from the "
            "Monodepth2 README) and write a SelfSupervisedTask checkpoint. Without pose files "
            "the depth network alone is imported (mono models then train a new pose network "
            "if fine-tuned)."
        ),
    )
    parser.add_argument("--weights-dir", type=Path, required=True, help="Monodepth2 folder")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (.ckpt)")
    parser.add_argument(
        "--min-depth", type=float, default=0.1, help="Monodepth2 --min_depth (default: 0.1)"
    )
    parser.add_argument(
        "--max-depth", type=float, default=100.0, help="Monodepth2 --max_depth (default: 100)"
    )
    parser.set_defaults(handler=_monodepth2)


def _monodepth2(args: argparse.Namespace) -> int:
    from monodepthkit.checkpoints.monodepth2 import import_monodepth2

    out = import_monodepth2(args.weights_dir, args.out, args.min_depth, args.max_depth)
    print(f"wrote {out}")
    return 0


# --- packnet ---------------------------------------------------------------------------------


def _add_packnet(importers) -> None:
    parser = importers.add_parser(
        "packnet",
        help="packnet-sfm checkpoint (.ckpt) with a PackNet01 / PackNetSlim01 depth network",
        description=(
            "Read a packnet-sfm (TRI-ML) .ckpt, e.g. PackNet01_MR_selfsup_K.ckpt, and write a "
            "SupervisedTask checkpoint holding its depth network as our 'packnet' model. The "
            "architecture is read from the weights; yacs and packnet-sfm are not needed."
        ),
    )
    parser.add_argument("--ckpt", type=Path, required=True, help="packnet-sfm .ckpt file")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (.ckpt)")
    parser.add_argument(
        "--max-depth",
        type=float,
        default=None,
        help="depth cap in metres (default: the checkpoint config's max_depth, else 100)",
    )
    parser.add_argument(
        "--eval-protocol",
        choices=PROTOCOL_NAMES,
        default=None,
        help="validation protocol (default: kitti when the config uses the Garg crop)",
    )
    parser.set_defaults(handler=_packnet)


def _packnet(args: argparse.Namespace) -> int:
    from monodepthkit.checkpoints.packnet import convert_packnet

    out = convert_packnet(args.ckpt, args.out, args.max_depth, args.eval_protocol)
    print(f"wrote {out}")
    return 0


IMPORTERS = [_add_monodepth2, _add_packnet]
