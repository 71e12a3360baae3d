"""Every YAML config loads and builds; every report config trains a few steps on its twin.

A report's experiment is a stack: ``configs/reportN/base.yaml`` (what the family shares), then
one variant file of the same folder (``mdk fit --config BASE --config VARIANT``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from unittest import mock

import pytest
import torch
from lightning import LightningModule

from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.training import MdkCLI, run_lightning_cli

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# {"report4/packnet_A": [configs/report4/base.yaml, configs/report4/packnet_A.yaml], ...}
REPORTS = {
    f"{folder.name}/{path.stem}": [folder / "base.yaml", path]
    for folder in sorted(CONFIGS.glob("report*/"))
    if (folder / "base.yaml").is_file()
    for path in sorted(folder.glob("*.yaml"))
    if path.name != "base.yaml"
}
# Every runnable experiment: the report stacks and the single-file configs (the demo's).
ALL = {**REPORTS, **{path.stem: [path] for path in sorted(CONFIGS.glob("*.yaml"))}}


def config_args(stack: Sequence[Path]) -> list[str]:
    """``--config`` arguments for the files of ``stack``, in order (later ones override)."""
    return [arg for path in stack for arg in ("--config", str(path))]


def resolved_config(stack: Sequence[Path], extra: Sequence[str] = ()) -> dict:
    """The config `mdk fit` resolves from ``stack`` (defaults filled in), nothing built."""
    with mock.patch.object(MdkCLI, "instantiate_classes", lambda self: None):
        cli = run_lightning_cli([*config_args(stack), *extra], run=False)
    config = cli.config.clone()
    del config["config"]  # the file names
    return config.as_dict()


def offline_args(stack: Sequence[Path]) -> list[str]:
    """Override ``pretrained: true`` (no hub here): the same model with random weights.

    Every ``*model_kwargs`` option of the task is covered (``model_kwargs``, and the
    self-supervised ``depth_model_kwargs`` / ``pose_model_kwargs``).
    """
    init_args = resolved_config(stack)["model"]["init_args"]
    args = []
    for name, kwargs in init_args.items():
        if name.endswith("model_kwargs") and (kwargs or {}).get("pretrained"):
            args += [f"--model.init_args.{name}", json.dumps({**kwargs, "pretrained": False})]
    return args


def twin_overlay(config: dict) -> Path:
    """The synthetic twin overlay of a resolved report config (its world and task kind)."""
    world = config["model"]["init_args"]["eval_protocol"]  # kitti: driving, nyu: indoor
    # Self-supervised configs have their own twins (context frames, stereo partner).
    kind = "_selfsup" if config["model"]["class_path"].endswith("SelfSupervisedTask") else ""
    return CONFIGS / "synthetic" / f"{world}{kind}_twin.yaml"


def test_there_are_report_configs():
    names = set(REPORTS)
    assert {"report1/unet_mse", "report1/gan", "report3/l2_smooth", "report5/nyu"} <= names
    assert {f"report2/{m}" for m in ("autoencoder", "unet", "xception", "densenet")} <= names
    assert {f"report4/packnet_{v}" for v in "ABC"} <= names
    assert "demo" in ALL


@pytest.mark.parametrize("name", sorted(ALL))
def test_config_builds(name, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    stack = ALL[name]
    cli = run_lightning_cli([*config_args(stack), *offline_args(stack)], run=False)
    # Any task whose forward predicts depth (supervised, adversarial, ...).
    assert isinstance(cli.model, LightningModule)
    # Report 4's models predict at half resolution ("we do not upsample"); the Predictor and
    # the evaluation resize their output.
    kwargs = resolved_config(stack)["model"]["init_args"].get("model_kwargs") or {}
    size = (32, 48) if kwargs.get("upsample_output") is False else (64, 96)
    with torch.no_grad():
        assert cli.model.eval()(torch.rand(1, 3, 64, 96))["depth"].shape == (1, 1, *size)
    assert isinstance(cli.datamodule, DepthDataModule)
    assert cli.trainer.max_epochs is not None or cli.trainer.max_steps > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REPORTS))
def test_synthetic_twin_trains(name, tmp_path, monkeypatch):
    """Same model, loss and head as the report config, a few steps on the synthetic world."""
    monkeypatch.setattr(sys, "argv", ["mdk"])
    monkeypatch.chdir(tmp_path)  # the twin caches its world under ./.cache
    stack = REPORTS[name]
    loaded = resolved_config(stack)
    args = ["fit", *config_args([*stack, twin_overlay(loaded)])]
    args += [*offline_args(stack), "--trainer.enable_progress_bar", "false"]
    cli = run_lightning_cli(args)
    assert cli.trainer.global_step == 3
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    assert torch.isfinite(cli.trainer.callback_metrics["val/abs_rel"])
    loaded = loaded["model"]["init_args"]
    if "loss" in loaded:  # tasks with one named loss (the GAN has its weighted terms)
        assert cli.model.hparams.loss == loaded["loss"]
    if "model_kwargs" in loaded:  # tasks with one network of the supervised zoo
        assert cli.model.hparams.model_kwargs.get("head") == loaded["model_kwargs"].get("head")
