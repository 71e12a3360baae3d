"""`mdk demo`: the main job on the built-in synthetic driving world, end to end on CPU."""

from __future__ import annotations

import json
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from monodepthkit.data import batch as keys
from monodepthkit.data.datamodule import DepthDataModule, SyntheticOptions
from monodepthkit.data.folder import FolderDataset
from monodepthkit.eval import DepthEvaluator, get_protocol, markdown_table
from monodepthkit.inference.evaluate import evaluate_checkpoint
from monodepthkit.tasks import SupervisedTask
from monodepthkit.training import progress_bar

WORLD = SyntheticOptions(preset="driving", num_sequences=30, frames_per_sequence=20, seed=0)
TRAIN_SIZE = (64, 208)  # half of the 128x416 files; predictions are evaluated at full size
MAX_DEPTH = 80.0
DEFAULT_STEPS = 700


def run_demo(
    out: str | Path = "runs/demo", data_root: str | Path | None = None, steps: int | None = None
) -> dict:
    """Generate the world, train the U-Net baseline, evaluate it against a constant baseline.

    Args:
        out: report folder; receives ``metrics.json``, ``figure.png``, ``model.ckpt``,
            ``unet/per_image.csv`` and TensorBoard logs.
        data_root: cache folder of the synthetic world (default ``.cache/synthetic/demo``).
        steps: optimisation steps (default `DEFAULT_STEPS`).

    Returns:
        ``{"unet": metrics, "constant_median": metrics, ...}`` as written to ``metrics.json``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_root = Path(data_root or ".cache/synthetic/demo")
    steps = steps or DEFAULT_STEPS
    L.seed_everything(0, verbose=False)
    started = time.perf_counter()

    datamodule = DepthDataModule(
        dataset="synthetic",
        root=str(data_root),
        batch_size=8,
        num_workers=1,
        image_size=TRAIN_SIZE,
        synthetic=WORLD,
    )
    task = SupervisedTask(
        model="unet",
        model_kwargs={
            "width": 16,
            "depth": 4,
            "head": "log",
            "min_depth": 0.5,
            "max_depth": MAX_DEPTH,
        },
        loss="l1",
        lr=2e-3,
        lr_milestones=[],
        eval_max_depth=MAX_DEPTH,
    )
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=steps,
        logger=TensorBoardLogger(out, name="logs"),
        enable_checkpointing=False,
        callbacks=[progress_bar()],  # "Epoch 11/14", not Lightning's "Epoch 11/-2"
        log_every_n_steps=20,
        check_val_every_n_epoch=5,
        enable_model_summary=False,
    )
    trainer.fit(task, datamodule=datamodule)
    checkpoint = out / "model.ckpt"
    trainer.save_checkpoint(checkpoint)
    trained_at = time.perf_counter()

    protocol = get_protocol("none", max_depth=MAX_DEPTH)
    model_eval = evaluate_checkpoint(
        checkpoint, data_root, split="test", protocol="none", max_depth=MAX_DEPTH, progress=False
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
            "max_depth": MAX_DEPTH,
        },
        "train_steps": steps,
        "train_seconds": round(trained_at - started, 1),
    }
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    _figure(task, data_root, out / "figure.png")

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
def _figure(task: SupervisedTask, data_root: Path, path: Path, rows: int = 4) -> None:
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
        small = F.interpolate(image[None], size=TRAIN_SIZE, mode="bilinear", antialias=True)
        pred = task(small)["depth"]
        pred = F.interpolate(pred, size=gt.shape, mode="bilinear", align_corners=False)[0, 0]
        invalid = gt <= 0
        error = (pred - gt).abs().masked_fill(invalid, float("nan"))
        panels = [
            (image.permute(1, 2, 0).numpy(), None, None, "image"),
            (
                gt.masked_fill(invalid, float("nan")).numpy(),
                "magma_r",
                MAX_DEPTH,
                "ground truth, 0-80 m",
            ),
            (pred.numpy(), "magma_r", MAX_DEPTH, "prediction, 0-80 m"),
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
