"""`mdk demo`: the main job on the built-in synthetic driving world, end to end on CPU.

The setup (world, model, loss, training) is ``configs/demo.yaml``, in `mdk fit`'s config format.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonargparse
import lightning as L
import numpy as np
import torch
from lightning import LightningModule
from lightning.pytorch.loggers import TensorBoardLogger

from monodepthkit.data import batch as keys
from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.data.folder import FolderDataset
from monodepthkit.errors import MdkError
from monodepthkit.eval import DepthEvaluator, get_protocol, markdown_table
from monodepthkit.inference.evaluate import evaluate_checkpoint
from monodepthkit.training import progress_bar

# The demo's setup; found in the source tree (the package is installed with `pip install -e .`).
DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


def run_demo(
    out: str | Path = "runs/demo",
    data_root: str | Path | None = None,
    steps: int | None = None,
    config: str | Path | None = None,
) -> dict:
    """Generate the world, train the U-Net baseline, evaluate it against a constant baseline.

    Args:
        out: report folder; receives ``metrics.json``, ``figure.png``, ``model.ckpt``,
            ``unet/per_image.csv`` and TensorBoard logs.
        data_root: cache folder of the synthetic world (default: the config's ``data.root``,
            ``.cache/synthetic/demo``).
        steps: optimisation steps (default: the config's ``trainer.max_steps``, 700).
        config: the setup, a `mdk fit` config with ``model``, ``data`` and ``trainer``
            sections (default `DEMO_CONFIG`, ``configs/demo.yaml``).

    Returns:
        ``{"unet": metrics, "constant_median": metrics, ...}`` as written to ``metrics.json``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    parser, setup = _read_setup(Path(config or DEMO_CONFIG))
    if data_root is not None:
        setup.data.root = str(data_root)
    if steps:
        setup.trainer["max_steps"] = steps
    data_root = Path(setup.data.root)
    steps = setup.trainer["max_steps"]
    max_depth = setup.model.init_args.eval_max_depth
    L.seed_everything(setup.seed_everything, verbose=False)
    started = time.perf_counter()

    # `instantiate` since jsonargparse 4.49, where `instantiate_classes` is deprecated.
    built = getattr(parser, "instantiate", parser.instantiate_classes)(setup)
    datamodule, task = built.data, built.model
    # "Epoch 11/14", not Lightning's "Epoch 11/-2" (unless the config turns the bar off).
    bar = [] if setup.trainer.get("enable_progress_bar") is False else [progress_bar()]
    trainer = L.Trainer(
        **setup.trainer,
        logger=TensorBoardLogger(out, name="logs"),
        enable_checkpointing=False,
        callbacks=bar,
    )
    trainer.fit(task, datamodule=datamodule)
    checkpoint = out / "model.ckpt"
    trainer.save_checkpoint(checkpoint)
    trained_at = time.perf_counter()

    protocol = get_protocol("none", max_depth=max_depth)
    model_eval = evaluate_checkpoint(
        checkpoint, data_root, split="test", protocol="none", max_depth=max_depth, progress=False
    )
    model_eval.write(out / "unet")
    baseline_eval = _constant_baseline(data_root, protocol)
    baseline_eval.write(out / "constant_median")
    results = {
        "unet": model_eval.summary(),
        "constant_median": baseline_eval.summary(),
        "protocol": {
            "name": protocol.name,
            "min_depth": protocol.min_depth,
            "max_depth": max_depth,
        },
        "train_steps": steps,
        "train_seconds": round(trained_at - started, 1),
    }
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    _figure(task, data_root, out / "figure.png", tuple(datamodule.image_size), max_depth)

    rows = {
        f"U-Net (L1, {steps} steps)": results["unet"],
        "constant median": results["constant_median"],
    }
    print(markdown_table(rows))
    for metric in ("abs_rel", "rmse"):
        ratio = results["constant_median"][metric] / results["unet"][metric]
        print(f"{metric}: U-Net is {ratio:.1f}x better than the constant baseline")
    print(
        f"report: {out}/metrics.json, {out}/figure.png; checkpoint: {checkpoint} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    return results


def _read_setup(path: Path) -> tuple[jsonargparse.ArgumentParser, jsonargparse.Namespace]:
    """The demo's parser and its setup read from ``path`` (types checked, nothing built)."""
    if not path.is_file():
        raise MdkError(
            f"mdk demo: no setup at {path}; the demo reads configs/demo.yaml of the source tree "
            "(pip install -e . from a checkout), or pass --config FILE"
        )
    parser = jsonargparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--seed_everything", type=int, default=0)
    parser.add_subclass_arguments(LightningModule, "model", required=True)
    parser.add_class_arguments(DepthDataModule, "data")
    parser.add_argument("--trainer", type=dict, default={})
    try:
        return parser, parser.parse_path(path)
    except jsonargparse.ArgumentError as exc:
        raise MdkError(f"mdk demo: {path}: {exc}") from None


def _constant_baseline(data_root: Path, protocol) -> DepthEvaluator:
    """Predict the training set's median valid depth everywhere."""
    train = FolderDataset(data_root, split="train", require_depth=True)
    depths = [train[i][keys.DEPTH] for i in range(0, len(train), 5)]
    values = torch.cat([d[d > 0] for d in depths])
    constant = float(values.median())
    evaluator = DepthEvaluator(protocol)
    test = FolderDataset(data_root, split="test", require_depth=True)
    for i in range(len(test)):
        sample = test[i]
        gt = sample[keys.DEPTH][0].numpy()
        evaluator.add(sample[keys.NAME], np.full_like(gt, constant), gt)
    return evaluator


@torch.no_grad()
def _figure(
    task: LightningModule,
    data_root: Path,
    path: Path,
    train_size: tuple[int, int],
    max_depth: float,
    rows: int = 4,
) -> None:
    """Rows of image | ground truth | prediction | absolute error for test frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch.nn.functional as F

    test = FolderDataset(data_root, split="test", require_depth=True)
    picks = np.linspace(0, len(test) - 1, rows).astype(int)
    figure, axes = plt.subplots(rows, 4, figsize=(16, 1.4 * rows + 0.4), squeeze=False)
    task.eval()
    for row, index in enumerate(picks):
        sample = test[int(index)]
        image, gt = sample[keys.IMAGE], sample[keys.DEPTH][0]
        small = F.interpolate(image[None], size=train_size, mode="bilinear", antialias=True)
        pred = task(small)["depth"]
        pred = F.interpolate(pred, size=gt.shape, mode="bilinear", align_corners=False)[0, 0]
        invalid = gt <= 0
        error = (pred - gt).abs().masked_fill(invalid, float("nan"))
        panels = [
            (image.permute(1, 2, 0).numpy(), None, None, "image"),
            (
                gt.masked_fill(invalid, float("nan")).numpy(),
                "magma_r",
                max_depth,
                "ground truth, 0-80 m",
            ),
            (pred.numpy(), "magma_r", max_depth, "prediction, 0-80 m"),
            (error.numpy(), "inferno", 10.0, "|error|, 0-10 m"),
        ]
        for col, (data, cmap, vmax, title) in enumerate(panels):
            axis = axes[row, col]
            if cmap is None:
                axis.imshow(data)
            else:
                # Grey marks pixels without ground truth (sky, beyond 80 m).
                colours = matplotlib.colormaps[cmap].with_extremes(bad="#9a9a9a")
                axis.imshow(data, cmap=colours, vmin=0.0, vmax=vmax)
            axis.set_axis_off()
            if row == 0:
                axis.set_title(title)
    figure.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(figure)
