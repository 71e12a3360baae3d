"""Helpers of the inference tests: tiny tasks and checkpoints written like Lightning's."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from monodepthkit.data.datamodule import SyntheticOptions
from monodepthkit.tasks import SupervisedTask
from monodepthkit.tasks.loading import TASK_KEY, task_class_path

TRAIN_SIZE = (32, 64)


def write_checkpoint(task: L.LightningModule, path: Path, image_size=TRAIN_SIZE) -> Path:
    """Write ``task`` as `Trainer.save_checkpoint` would (weights, hyper-parameters, task class,
    the DataModule's hyper-parameters with the training size)."""
    checkpoint = {
        "state_dict": task.state_dict(),
        "hyper_parameters": dict(task.hparams),
        TASK_KEY: task_class_path(task),
        "pytorch-lightning_version": L.__version__,
        "datamodule_hyper_parameters": {
            "dataset": "synthetic",
            "image_size": image_size,
            "synthetic": SyntheticOptions(preset="driving", width=128, height=48),
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    return path


def tiny_task(seed: int = 0) -> SupervisedTask:
    """A U-Net task with 2 levels of 4 channels and random weights (eval mode)."""
    torch.manual_seed(seed)
    task = SupervisedTask(
        model="unet",
        model_kwargs={"width": 4, "depth": 2, "head": "log", "min_depth": 0.5, "max_depth": 80.0},
    )
    # Random batch-norm statistics, so that eval mode is not a near-identity.
    for module in task.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    return task.eval()


REALDATA_IMAGE = (
    Path(__file__).resolve().parents[2] / "shared/realdata/kitti_object_frames/image_2/000000.png"
)
