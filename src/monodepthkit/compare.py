"""`mdk compare`: train or evaluate several models on the same split and tabulate them.

The table follows report 2's Table 1 (d1 d2 d3 rel rms log10) and adds report 1's own figure,
the MSE on [0, 1]-normalised depth (depth divided by a normalising depth, e.g. 80 m on KITTI).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from monodepthkit.errors import MdkError
from monodepthkit.eval import get_protocol
from monodepthkit.eval.report import DepthEvaluator

# Columns of report 2's Table 1 (key, header), then report 1's normalised MSE.
TABLE_COLUMNS = (
    ("d1", "δ1 ↑"),
    ("d2", "δ2 ↑"),
    ("d3", "δ3 ↑"),
    ("abs_rel", "rel ↓"),
    ("rmse", "rms ↓"),
    ("log10", "log10 ↓"),
    ("mse_norm", "MSE [0,1] ↓"),
)


@dataclass
class CompareEntry:
    """One row of the comparison: a config to train (then evaluate) or a checkpoint."""

    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    checkpoint: str = ""
    parameters: int = 0
    train_seconds: float | None = None


def compare(
    sources: list[str | Path],
    out: str | Path,
    bases: list[str | Path] | None = None,
    overlays: list[str | Path] | None = None,
    overrides: list[str] | None = None,
    data: str | Path | None = None,
    split: str = "test",
    protocol: str = "none",
    align: str = "none",
    min_depth: float | None = None,
    max_depth: float | None = None,
    norm_depth: float | None = None,
    mse_splits: list[str] | None = None,
) -> list[CompareEntry]:
    """Train each YAML config (or load each checkpoint), evaluate all on one split, tabulate.

    Args:
        sources: ``.yaml`` configs (trained with `mdk fit` semantics) and/or ``.ckpt`` files.
        out: output folder: ``compare.md``, ``compare.json``, and one sub-folder per entry with
            its run (configs) and its ``metrics.json`` / ``per_image.csv``.
        bases: configs applied before each source config (e.g. a report's ``base.yaml``).
        overlays: configs applied after each source config (e.g. a synthetic twin overlay).
        overrides: extra LightningCLI arguments for every config, e.g.
            ``["--trainer.max_steps", "50"]``.
        data: dataset root to evaluate on; None: each config's (or checkpoint's) own root.
        split: split evaluated (default ``test``).
        protocol: evaluation protocol (``none``, ``kitti``, ``nyu``).
        align: alignment mode.
        min_depth: override of the protocol's minimum depth, metres.
        max_depth: override of the protocol's maximum depth, metres.
        norm_depth: depth dividing predictions and ground truth for the normalised MSE, metres;
            None: the protocol's max depth, or each model's output-head maximum when unbounded.
        mse_splits: also score the normalised MSE on these splits (``train``, ``val``,
            ``test``: report 1's Table 2), as metrics ``mse_norm_<split>`` and table columns.

    Returns:
        The entries in input order, with their metrics.
    """
    from monodepthkit.inference.evaluate import evaluate_checkpoint
    from monodepthkit.tasks.loading import read_checkpoint, task_from_checkpoint

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    evaluation = get_protocol(protocol, min_depth, max_depth)
    entries = []
    for source in map(Path, sources):
        name = _unique_name(source.stem, entries)
        entry = CompareEntry(name=name)
        if source.suffix in (".yaml", ".yml"):
            started = time.perf_counter()
            stack = [*(bases or []), source, *(overlays or [])]
            entry.checkpoint, root, splits = _train(stack, out / name, overrides)
            entry.train_seconds = round(time.perf_counter() - started, 1)
        elif source.suffix == ".ckpt":
            entry.checkpoint, root, splits = str(source), None, {"test": split}
        else:
            raise MdkError(f"{source}: expected a .yaml config or a .ckpt checkpoint")
        contents = read_checkpoint(entry.checkpoint)
        datamodule = contents.get("datamodule_hyper_parameters", {})
        root = data or root or datamodule.get("root")
        test_split = split if data else splits["test"]
        if root is None:
            raise MdkError(f"{source}: no dataset root known for it; pass --data ROOT")
        evaluator = evaluate_checkpoint(
            entry.checkpoint,
            root,
            split=test_split,
            protocol=protocol,
            align=align,
            min_depth=min_depth,
            max_depth=max_depth,
            progress=False,
        )
        evaluator.write(out / name)
        scale = norm_depth or _norm_depth(evaluation.max_depth, contents)
        entry.metrics = evaluator.summary()
        entry.metrics["mse_norm"] = _normalised_mse(evaluator, scale)
        for mse_split in mse_splits or []:
            # The split files the model was trained with (a checkpoint stores them).
            split_file = splits.get(mse_split) or datamodule.get(f"{mse_split}_split", mse_split)
            split_file = mse_split if data else split_file
            if split_file != test_split:
                split_evaluator = evaluate_checkpoint(
                    entry.checkpoint,
                    root,
                    split=split_file,
                    protocol=protocol,
                    align=align,
                    min_depth=min_depth,
                    max_depth=max_depth,
                    progress=False,
                )
            else:
                split_evaluator = evaluator
            entry.metrics[f"mse_norm_{mse_split}"] = _normalised_mse(split_evaluator, scale)
        # The depth network that runs at inference (not a GAN's discriminator or a pose net),
        # counted as the checkpoint stores it (parameters and buffers).
        depth_net = task_from_checkpoint(contents).net
        entry.parameters = sum(value.numel() for value in depth_net.state_dict().values())
        entries.append(entry)

    table = comparison_table(entries)
    (out / "compare.md").write_text(table + "\n")
    (out / "compare.json").write_text(
        json.dumps([entry.__dict__ for entry in entries], indent=2, default=str) + "\n"
    )
    print(table)
    return entries


def comparison_table(entries: list[CompareEntry]) -> str:
    """Markdown table in report 2's Table 1 layout, plus parameters and training time.

    Metrics ``mse_norm_<split>`` (from ``mse_splits``) add one column per split after the
    normalised MSE.
    """
    extra = [key for entry in entries for key in entry.metrics if key.startswith("mse_norm_")]
    columns = [*TABLE_COLUMNS]
    columns += [(key, f"MSE [0,1] {key[len('mse_norm_') :]} ↓") for key in dict.fromkeys(extra)]
    header = ["method", *(title for _, title in columns), "params (M)", "train (s)"]
    lines = ["| " + " | ".join(header) + " |", "|:--|" + "--:|" * (len(header) - 1)]
    for entry in entries:
        cells = [entry.name]
        cells += [
            f"{entry.metrics[key]:.4f}" if key in entry.metrics else "–" for key, _ in columns
        ]
        cells.append(f"{entry.parameters / 1e6:.2f}")
        cells.append("–" if entry.train_seconds is None else f"{entry.train_seconds:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _train(
    configs: list, folder: Path, overrides: list[str] | None
) -> tuple[str, str, dict[str, str]]:
    """Fit one config stack into ``folder``; returns (last checkpoint, data root, split files)."""
    from monodepthkit.training import run_lightning_cli

    args = ["fit"]
    for config in configs:
        args += ["--config", str(config)]
    args += [*(overrides or []), "--trainer.default_root_dir", str(folder)]
    cli = run_lightning_cli(args)
    checkpoint = cli.trainer.checkpoint_callback.last_model_path
    if not checkpoint:
        checkpoint = str(folder / "last.ckpt")
        cli.trainer.save_checkpoint(checkpoint)
    return checkpoint, str(cli.datamodule.root), dict(cli.datamodule.splits)


def _normalised_mse(evaluator: DepthEvaluator, scale: float) -> float:
    """Mean over images of the MSE of depth / ``scale`` (metres): report 1's own figure."""
    # Per-image RMSE^2 is that image's MSE, so the normalised MSE follows without re-running.
    rows = evaluator.per_image
    return sum(row["rmse"] ** 2 for row in rows) / (len(rows) * scale**2)


def _norm_depth(protocol_max: float, contents: dict) -> float:
    if protocol_max != float("inf"):
        return protocol_max
    kwargs = contents["hyper_parameters"].get("model_kwargs") or {}
    if "max_depth" not in kwargs:
        raise MdkError("normalised MSE needs a depth range: pass --norm-depth or --max-depth")
    return float(kwargs["max_depth"])


def _unique_name(stem: str, entries: list[CompareEntry]) -> str:
    names = {entry.name for entry in entries}
    name, index = stem, 2
    while name in names:
        name, index = f"{stem}_{index}", index + 1
    return name
