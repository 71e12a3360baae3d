from pathlib import Path

import pytest

from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.tasks import SupervisedTask
from monodepthkit.training import run_lightning_cli

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_there_are_configs():
    assert CONFIGS


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_builds(config):
    cli = run_lightning_cli(["--config", str(config)], run=False)
    assert isinstance(cli.model, SupervisedTask)
    assert isinstance(cli.datamodule, DepthDataModule)
    assert cli.trainer.max_epochs is not None or cli.trainer.max_steps > 0
