"""`mdk fit|validate|test`: LightningCLI over the project's tasks and DataModule."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lightning.pytorch import LightningModule
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.errors import MdkError


def run_lightning_cli(argv: Sequence[str], run: bool = True) -> LightningCLI:
    """Parse ``argv`` (e.g. ``["fit", "--config", "configs/x.yaml"]``) and run it.

    With ``run=False``, ``argv`` has no subcommand (``["--config", "x.yaml"]``) and the model,
    data and trainer are only built (used to check that configs load).

    Unknown or mistyped config keys are errors (raised as `MdkError` with jsonargparse's first
    message line). The resolved config is saved as ``config.yaml`` in the run's log folder,
    beside ``checkpoints/``; ``--ckpt_path`` resumes a run. The task is chosen in the config
    as ``model: {class_path: monodepthkit.tasks.SupervisedTask, init_args: {...}}``.
    """
    import jsonargparse

    if run:
        # DDP re-launches its workers with sys.argv: make it this command.
        sys.argv = [sys.argv[0], *argv]
    try:
        return LightningCLI(
            LightningModule,
            DepthDataModule,
            subclass_mode_model=True,
            args=None if run else list(argv),
            run=run,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"exit_on_error": False},
            trainer_defaults={
                "default_root_dir": "runs",
                "callbacks": [ModelCheckpoint(save_last=True)],
            },
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
