"""`mdk fit|validate|test`: LightningCLI over the project's tasks and DataModule."""

from __future__ import annotations

import math
import re
import shlex
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.utilities.seed import _collect_rng_states, _set_rng_states
from lightning.pytorch import Callback, LightningModule
from lightning.pytorch.callbacks import (
    ModelCheckpoint,
    ProgressBar,
    RichProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.imports import _RICH_AVAILABLE

from monodepthkit.data import batch as keys
from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.errors import MdkError
from monodepthkit.inference.metadata import INTRINSICS_KEY


def run_lightning_cli(argv: Sequence[str], run: bool = True) -> LightningCLI:
    """Parse ``argv`` (e.g. ``["fit", "--config", "configs/x.yaml"]``) and run it.

    With ``run=False``, ``argv`` has no subcommand (``["--config", "x.yaml"]``) and the model,
    data and trainer are only built (used to check that configs load).

    Unknown or mistyped config keys are errors (raised as `MdkError` with jsonargparse's first
    message line). The resolved config is saved as ``config.yaml`` in the run's log folder,
    beside ``checkpoints/``. The task is chosen in the config as ``model: {class_path:
    monodepthkit.tasks.SupervisedTask, init_args: {...}}``.

    Checkpoints (`RunCheckpoint`, options under ``checkpoint.*``): every
    ``checkpoint.every_n_train_steps`` steps, the last ``checkpoint.save_top_k`` kept, plus
    ``last.ckpt`` and the final state. ``--ckpt_path FILE`` resumes a run exactly (weights,
    optimisers, schedulers, AMP scaler, RNG states, data order and position in the epoch) and
    keeps logging into that run's folder; ``--resume auto`` picks the newest checkpoint of the
    log folder. Ctrl-C saves a checkpoint at the end of the current step and prints the
    command that resumes.
    """
    import jsonargparse

    if run:
        # DDP re-launches its workers with sys.argv: make it this command.
        sys.argv = [sys.argv[0], *argv]
    try:
        return MdkCLI(
            LightningModule,
            DepthDataModule,
            subclass_mode_model=True,
            args=None if run else list(argv),
            run=run,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"exit_on_error": False},
            trainer_defaults={"default_root_dir": "runs"},
        )
    except jsonargparse.ArgumentError as exc:
        raise MdkError(f"config: {_short_message(str(exc))}") from None
    except Exception as exc:
        # jsonargparse wraps errors raised while building the model or data (e.g. an unknown
        # model option) in ValueErrors; surface the user's error itself.
        cause = _find_user_error(exc)
        if cause is None:
            raise
        raise cause from None


class MdkCLI(LightningCLI):
    """LightningCLI with the run's checkpointing, ``--resume auto`` and exact resumption."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(RunCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.every_n_train_steps": 500,
                "checkpoint.save_top_k": 3,
                "checkpoint.monitor": "step",
                "checkpoint.mode": "max",
                "checkpoint.save_last": True,
                # A resumed run writes into its own folder: same names, same states.
                "checkpoint.enable_version_counter": False,
            }
        )
        parser.add_argument(
            "--resume",
            type=str | None,
            default=None,
            help="'auto': resume from the newest checkpoint in the log folder, if any "
            "(--ckpt_path FILE resumes from FILE)",
        )

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> Any:
        callbacks = [*callbacks, ResumeState(), TrainingCamera()]
        given = config.get("callbacks") or []
        given = given if isinstance(given, list) else [given]
        if config.get("enable_progress_bar") is not False and not any(
            isinstance(callback, ProgressBar) for callback in given
        ):
            callbacks.append(progress_bar())
        return super()._instantiate_trainer(config, callbacks)

    def before_fit(self) -> None:
        config = self.config_init["fit"]
        resume = config.get("resume")
        if resume not in (None, "auto"):
            raise MdkError(f"--resume {resume!r}: expected 'auto' (or --ckpt_path FILE)")
        logger = self.trainer.logger
        root = Path(logger.root_dir) if getattr(logger, "root_dir", None) else None
        found = _newest_checkpoint(root) if root is not None else None
        if resume == "auto":
            if config.get("ckpt_path"):
                raise MdkError("give either --resume auto or --ckpt_path, not both")
            if found is None:
                rank_zero_info(f"mdk fit: no checkpoint to resume in {root}: starting afresh")
            else:
                config["ckpt_path"] = str(found)
        elif found is not None and not config.get("ckpt_path") and self.trainer.is_global_zero:
            print(
                f"mdk fit: {found} holds a resumable run; this run starts afresh. To continue "
                f"it, add --resume auto (or --ckpt_path {found}).",
                file=sys.stderr,
                flush=True,
            )
        ckpt_path = config.get("ckpt_path")
        if ckpt_path and ckpt_path not in ("last", "best", "hpc", "registry"):
            _reuse_run_folder(logger, Path(ckpt_path))
            rank_zero_info(f"mdk fit: resuming from {ckpt_path}")

    def after_fit(self) -> None:
        checkpoint = self.trainer.checkpoint_callback
        if isinstance(checkpoint, RunCheckpoint) and checkpoint.interrupted:
            raise KeyboardInterrupt  # `mdk` exits with 130, as interrupted commands do


class RunCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` that also saves the final state and stops cleanly on Ctrl-C.

    With ``mdk fit``: every ``every_n_train_steps`` steps, keeping the ``save_top_k`` newest
    (``monitor="step"``, ``mode="max"``), and ``last.ckpt``. On top of `ModelCheckpoint`:
    - the state at the end of training is saved even when the last step is not a multiple of
      ``every_n_train_steps``;
    - the first Ctrl-C (SIGINT) finishes the current step, saves a checkpoint (all processes
      agree on the step under DDP), prints how to resume and stops the run; a second Ctrl-C
      interrupts at once.

    Args:
        *args: as `ModelCheckpoint`.
        **kwargs: as `ModelCheckpoint`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.interrupted = False
        self._sigint = False
        self._previous_handler: Any = None

    @property
    def state_key(self) -> str:
        # One key whatever the intervals: a run resumed with another ``every_n_train_steps``
        # still knows its checkpoints (and overwrites ``last.ckpt`` instead of adding last-v1).
        return f"{type(self).__name__}{{'monitor': {self.monitor!r}}}"

    def on_train_start(self, trainer: L.Trainer, pl_module: LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self.interrupted = self._sigint = False
        try:
            self._previous_handler = signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:  # not the main thread: leave Ctrl-C alone
            self._previous_handler = None

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._sigint:  # the second Ctrl-C: stop now
            signal.signal(signal.SIGINT, self._previous_handler or signal.default_int_handler)
            raise KeyboardInterrupt
        self._sigint = True

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: LightningModule, *args: Any
    ) -> None:
        with warnings.catch_warnings():
            # With manual optimisation (`AdversarialTask`) Lightning warns that the checkpoint
            # holds the weights after the step's updates: that is the state a resume needs.
            warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual")
            super().on_train_batch_end(trainer, pl_module, *args)
        if self._defer_save_until_validation and self.monitor == "step":
            # `ModelCheckpoint` defers the save of an epoch's last batch to the end of the
            # validation that follows, for fresh metrics; the step is always fresh, and a save
            # here keeps every checkpoint of a run at the same point of a step.
            self._defer_save_until_validation = False
            self._save_now(trainer)
        stop = self._sigint
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if not stop:
            return
        self._save_now(trainer)
        self.interrupted = True
        trainer.should_stop = True
        if trainer.is_global_zero:
            path = self.last_model_path
            command = shlex.join(["mdk", *_without_resume_options(sys.argv[1:])])
            print(
                f"\nmdk fit: interrupted at step {trainer.global_step}; saved {path}"
                f"\nresume with: {command} --ckpt_path {path}\n(or with --resume auto)",
                file=sys.stderr,
                flush=True,
            )

    def on_train_end(self, trainer: L.Trainer, pl_module: LightningModule) -> None:
        self._save_now(trainer)
        super().on_train_end(trainer, pl_module)
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
            self._previous_handler = None

    def _save_now(self, trainer: L.Trainer) -> None:
        """Save this step's state (top-k and last) unless it is saved already."""
        if self._should_skip_saving_checkpoint(trainer):
            return
        candidates = self._monitor_candidates(trainer)
        self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)


class ResumeState(Callback):
    """Saves the RNG states (torch, CUDA, numpy, Python) of every process in checkpoints.

    A resumed run puts them back when training starts (after the sanity check, whose loaders
    draw nothing from the global RNGs), so the random draws of the training steps (dropout,
    noise, sampling inside losses) continue as in the run that was not interrupted. Under DDP
    each process gets its own state back.
    """

    def __init__(self) -> None:
        self._to_restore: list[dict] | None = None

    def state_dict(self) -> dict[str, Any]:
        states = _portable_rng_states(_collect_rng_states(torch.cuda.is_available()))
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, states)
            return {"rng_states": gathered}
        return {"rng_states": [states]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._to_restore = state_dict.get("rng_states")

    def on_train_start(self, trainer: L.Trainer, pl_module: LightningModule) -> None:
        if not self._to_restore:
            return
        states = self._to_restore
        if len(states) != trainer.world_size:
            warnings.warn(
                f"the checkpoint holds the RNG states of {len(states)} processes, this run has "
                f"{trainer.world_size}: the random draws will not continue exactly",
                stacklevel=1,
            )
        _set_rng_states(_numpy_rng_states(states[min(trainer.global_rank, len(states) - 1)]))
        self._to_restore = None


class TrainingCamera(Callback):
    """Stores the camera of the training data in every checkpoint, for the Predictor.

    When fitting starts, the first sample of the validation split (the training split's image
    size, never augmented, so K is the camera's own) gives K and its image size; each
    checkpoint then holds them under `monodepthkit.inference.metadata.INTRINSICS_KEY`, so that
    point clouds and ``Predictor.intrinsics_for`` need no dataset. Data without intrinsics (or a
    DataModule other than `DepthDataModule`) stores nothing.
    """

    def __init__(self) -> None:
        self.camera: dict[str, list] | None = None

    def setup(self, trainer: L.Trainer, pl_module: LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if stage != "fit" or self.camera is not None or not isinstance(datamodule, DepthDataModule):
            return
        dataset = datamodule.build_dataset("val")
        if len(dataset) == 0:
            return
        sample = dataset[0]
        K = sample.get(keys.INTRINSICS)
        if K is None:
            return
        height, width = sample[keys.IMAGE].shape[-2:]
        self.camera = {"K": torch.as_tensor(K).double().tolist(), "image_size": [height, width]}

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self.camera is not None:
            checkpoint[INTRINSICS_KEY] = self.camera


def _portable_rng_states(states: dict[str, Any]) -> dict[str, Any]:
    """RNG states in types that ``torch.load(weights_only=True)`` reads (no numpy arrays)."""
    if "numpy" in states:
        kind, keys, position, has_gauss, cached = states["numpy"]
        states["numpy"] = {
            "kind": str(kind),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        }
    version, state, gauss = states["python"]
    states["python"] = (version, list(state), gauss)
    return states


def _numpy_rng_states(states: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `_portable_rng_states`: what `_set_rng_states` takes."""
    states = dict(states)
    if isinstance(states.get("numpy"), dict):
        numpy_state = states["numpy"]
        states["numpy"] = (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    return states


def progress_bar() -> ProgressBar:
    """The training progress bar: rich when available, with totals that make sense."""
    return StepsProgressBar() if _RICH_AVAILABLE else TQDMProgressBar()


class StepsProgressBar(RichProgressBar):
    """`RichProgressBar` whose "Epoch i/n" counts the epochs ``max_steps`` implies.

    Lightning writes ``Epoch 11/-2`` when a run is bounded by ``max_steps`` only
    (``max_epochs=-1``); this bar writes the last epoch that ``max_steps`` reaches.
    """

    def _get_train_description(self, current_epoch: int) -> str:
        trainer = self.trainer
        description = f"Epoch {current_epoch}"
        last = last_epoch(trainer)
        if last is not None:
            description += f"/{last}"
        if len(self.validation_description) > len(description):
            description = f"{description:{len(self.validation_description)}}"
        return description


def last_epoch(trainer: L.Trainer) -> int | None:
    """The index of the run's last epoch (from max_epochs and max_steps); None if unbounded."""
    bounds = []
    if trainer.max_epochs is not None and trainer.max_epochs >= 0:
        bounds.append(trainer.max_epochs - 1)
    batches = trainer.num_training_batches
    if trainer.max_steps is not None and trainer.max_steps > 0 and math.isfinite(batches):
        steps_per_epoch = max(1, math.ceil(batches / trainer.accumulate_grad_batches))
        bounds.append(math.ceil(trainer.max_steps / steps_per_epoch) - 1)
    return min(bounds) if bounds else None


def _without_resume_options(argv: Sequence[str]) -> list[str]:
    """``argv`` without its ``--ckpt_path``/``--resume`` options (``--opt value`` or ``=value``)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--ckpt_path", "--resume"):
            skip = True
        elif not arg.startswith(("--ckpt_path=", "--resume=")):
            kept.append(arg)
    return kept


def _newest_checkpoint(root: Path) -> Path | None:
    """The most recently written ``version_*/checkpoints/*.ckpt`` under ``root``.

    Checkpoints are written atomically, so each one is whole; after a crash between the
    step's checkpoint and ``last.ckpt``, the step's is the newer.
    """
    found = [path for path in root.glob("*/checkpoints/*.ckpt") if path.is_file()]
    return max(found, key=lambda path: path.stat().st_mtime_ns) if found else None


def _reuse_run_folder(logger: Any, checkpoint: Path) -> None:
    """Log into the run folder ``checkpoint`` was written in, so the curves continue there."""
    run = checkpoint.resolve().parent.parent
    root = getattr(logger, "root_dir", None)
    if checkpoint.parent.name != "checkpoints" or root is None:
        return
    if run.parent != Path(root).resolve() or getattr(logger, "_experiment", None) is not None:
        return
    match = re.fullmatch(r"version_(\d+)", run.name)
    logger._version = int(match.group(1)) if match else run.name
    # Writing into a folder that holds checkpoints is the point here.
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")


def _find_user_error(exc: BaseException | None) -> MdkError | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, MdkError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _short_message(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else "invalid arguments"
