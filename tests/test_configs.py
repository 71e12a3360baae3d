"""Every YAML config loads and builds; every report config trains a few steps on its twin."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml
from lightning import LightningModule

from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.training import run_lightning_cli

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
ALL = sorted(CONFIGS.glob("*.yaml"))
REPORTS = sorted(CONFIGS.glob("report*.yaml"))


def offline_args(config: Path) -> list[str]:
    """Override ``pretrained: true`` (no hub here): the same model with random weights.

    Every ``*model_kwargs`` option of the task is covered (``model_kwargs``, and the
    self-supervised ``depth_model_kwargs`` / ``pose_model_kwargs``).
    """
    init_args = yaml.safe_load(config.read_text())["model"]["init_args"]
    args = []
    for name, kwargs in init_args.items():
        if name.endswith("model_kwargs") and (kwargs or {}).get("pretrained"):
            args += [f"--model.init_args.{name}", json.dumps({**kwargs, "pretrained": False})]
    return args


def twin_overlay(config: Path) -> Path:
    world = "kitti" if "kitti" in config.name else "nyu"
    # Self-supervised configs have their own twins (context frames, stereo partner).
    kind = "_selfsup" if "SelfSupervisedTask" in config.read_text() else ""
    return CONFIGS / "synthetic" / f"{world}{kind}_twin.yaml"


def test_there_are_report_configs():
    names = {path.stem for path in REPORTS}
    assert {"report1_unet_mse_kitti", "report3_unet_silog_nyu_l2_smooth"} <= names
    assert {f"report2_{m}_nyu" for m in ("autoencoder", "unet", "xception", "densenet")} <= names


@pytest.mark.parametrize("config", ALL, ids=lambda p: p.name)
def test_config_builds(config, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    cli = run_lightning_cli(["--config", str(config), *offline_args(config)], run=False)
    # Any task whose forward predicts depth (supervised, adversarial, ...).
    assert isinstance(cli.model, LightningModule)
    # Report 4's models predict at half resolution ("we do not upsample"); the Predictor and
    # the evaluation resize their output.
    kwargs = yaml.safe_load(config.read_text())["model"]["init_args"].get("model_kwargs") or {}
    size = (32, 48) if kwargs.get("upsample_output") is False else (64, 96)
    with torch.no_grad():
        assert cli.model.eval()(torch.rand(1, 3, 64, 96))["depth"].shape == (1, 1, *size)
    assert isinstance(cli.datamodule, DepthDataModule)
    assert cli.trainer.max_epochs is not None or cli.trainer.max_steps > 0


@pytest.mark.slow
@pytest.mark.parametrize("config", REPORTS, ids=lambda p: p.name)
def test_synthetic_twin_trains(config, tmp_path, monkeypatch):
    """Same model, loss and head as the report config, a few steps on the synthetic world."""
    monkeypatch.setattr(sys, "argv", ["mdk"])
    monkeypatch.chdir(tmp_path)  # the twin caches its world under ./.cache
    args = ["fit", "--config", str(config), "--config", str(twin_overlay(config))]
    args += [*offline_args(config), "--trainer.enable_progress_bar", "false"]
    cli = run_lightning_cli(args)
    assert cli.trainer.global_step == 3
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    assert torch.isfinite(cli.trainer.callback_metrics["val/abs_rel"])
    loaded = yaml.safe_load(config.read_text())["model"]["init_args"]
    if "loss" in loaded:  # tasks with one named loss (the GAN has its weighted terms)
        assert cli.model.hparams.loss == loaded["loss"]
    if "model_kwargs" in loaded:  # tasks with one network of the supervised zoo
        assert cli.model.hparams.model_kwargs.get("head") == loaded["model_kwargs"].get("head")
