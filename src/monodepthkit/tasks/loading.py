"""Loading a trained task from a checkpoint alone (no config file needed)."""

from __future__ import annotations

import contextvars
import importlib
import pickle
import zipfile
from pathlib import Path

import lightning as L
import torch

from monodepthkit.errors import MdkError

TASK_KEY = "mdk_task"


def task_class_path(task: L.LightningModule) -> str:
    """The import path stored in checkpoints to rebuild ``task``."""
    return f"{type(task).__module__}.{type(task).__qualname__}"


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a monodepthkit checkpoint file into a dict.

    Raises:
        MdkError: the file is missing or is not a monodepthkit checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: checkpoint not found")
    try:
        # Lightning checkpoints hold plain Python objects (hyper-parameters), not only tensors.
        checkpoint = torch.load(path, map_location=map_location, weights_only=False)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        raise MdkError(f"{path}: not a readable PyTorch checkpoint ({exc})") from None
    if not isinstance(checkpoint, dict) or TASK_KEY not in checkpoint:
        raise MdkError(
            f"{path}: not a monodepthkit checkpoint (no '{TASK_KEY}' entry); train with `mdk fit`"
        )
    return checkpoint


def load_task(path: str | Path, map_location: str | torch.device = "cpu") -> L.LightningModule:
    """Rebuild a task (model + settings) from a checkpoint written by `mdk fit` or `mdk demo`.

    Args:
        path: ``.ckpt`` file.
        map_location: device for the weights.

    Returns:
        The task in eval mode.

    Raises:
        MdkError: the file is missing or is not a monodepthkit checkpoint.
    """
    return task_from_checkpoint(read_checkpoint(path, map_location))


def save_task(task: L.LightningModule, path: str | Path, **extra) -> Path:
    """Write ``task`` as a checkpoint that `load_task` rebuilds, without a Lightning trainer.

    The file is written next to ``path`` first and renamed over it, so a crash never leaves a
    half-written checkpoint.

    Args:
        task: a monodepthkit task.
        path: ``.ckpt`` file to write (folders are created).
        **extra: more top-level entries, e.g. ``datamodule_hyper_parameters={"image_size":
            [H, W]}`` (where `checkpoint_facts` reads the training size) or the provenance of
            imported weights.

    Returns:
        ``path``.
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "state_dict": task.state_dict(),
        "hyper_parameters": dict(task.hparams),
        TASK_KEY: task_class_path(task),
        "pytorch-lightning_version": L.__version__,
        **extra,
    }
    partial = path.with_name(path.name + ".partial")
    torch.save(checkpoint, partial)
    partial.replace(path)
    return path


def task_from_checkpoint(checkpoint: dict) -> L.LightningModule:
    """Rebuild a task in eval mode from a checkpoint dict read by `read_checkpoint`."""
    module_name, _, class_name = checkpoint[TASK_KEY].rpartition(".")
    task_class = getattr(importlib.import_module(module_name), class_name)
    # LightningCLI adds private entries ("_instantiator", "_class_path") that are not arguments.
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if not k.startswith("_")}
    # Built in an empty context: inside `mdk fit`, LightningCLI puts the configured task's
    # arguments in a context variable that `save_hyperparameters` prefers to the caller's own, so
    # a task loaded while another is constructed (a DistillationTask's teacher_checkpoint) took
    # the outer task's hyper-parameters.
    task = contextvars.Context().run(task_class, **hparams)
    task.load_state_dict(checkpoint["state_dict"])
    return task.eval()
