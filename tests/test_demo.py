import json
import sys

import pytest
import yaml

from monodepthkit.demo import DEMO_CONFIG, _read_setup, run_demo
from monodepthkit.errors import MdkError
from test_configs import CONFIGS, resolved_config


def test_the_demo_setup_is_configs_demo_yaml(monkeypatch):
    """`mdk demo` trains what configs/demo.yaml says, read as `mdk fit` reads it."""
    assert DEMO_CONFIG == CONFIGS / "demo.yaml"
    _, setup = _read_setup(DEMO_CONFIG)
    init_args = setup.model.init_args
    assert setup.model.class_path == "monodepthkit.tasks.SupervisedTask"
    assert init_args.model == "unet" and init_args.loss == "l1" and init_args.lr == 2e-3
    assert init_args.model_kwargs == {
        "width": 16,
        "depth": 4,
        "head": "log",
        "min_depth": 0.5,
        "max_depth": 80.0,
    }
    assert init_args.eval_max_depth == 80.0 and init_args.lr_milestones == []
    assert setup.data.image_size == (64, 208) and setup.data.batch_size == 8
    world = setup.data.synthetic
    assert (world.preset, world.num_sequences, world.frames_per_sequence) == ("driving", 30, 20)
    assert setup.trainer["max_steps"] == 700 and setup.seed_everything == 0
    monkeypatch.setattr(sys, "argv", ["mdk"])
    fit = resolved_config([DEMO_CONFIG])  # the same file is a `mdk fit` config
    assert fit["model"]["init_args"] == init_args.as_dict()
    assert fit["data"]["synthetic"] == world.__dict__


def test_demo_runs_another_setup_from_its_config(tmp_path):
    """`mdk demo --config FILE`: the world, model and steps come from the file."""
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    config["data"]["synthetic"] = {
        "preset": "driving",
        "num_sequences": 3,
        "frames_per_sequence": 4,
        "seed": 0,
        "width": 104,
        "height": 32,
    }
    config["data"].update(image_size=[32, 104], batch_size=2, num_workers=0)
    config["trainer"].update(max_steps=2, check_val_every_n_epoch=1, enable_progress_bar=False)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    results = run_demo(out=tmp_path / "demo", data_root=tmp_path / "world", config=path)
    assert results["train_steps"] == 2
    assert (tmp_path / "world" / "splits" / "test.txt").is_file()
    written = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert written["protocol"]["max_depth"] == 80.0
    assert written["unet"]["count"] == written["constant_median"]["count"] > 0


def test_demo_without_its_config_says_where_it_looked(tmp_path):
    with pytest.raises(MdkError, match=r"missing\.yaml.*--config FILE"):
        run_demo(out=tmp_path / "demo", config=tmp_path / "missing.yaml")


@pytest.mark.slow
def test_demo_beats_the_constant_baseline_by_2x(tmp_path):
    """The full `mdk demo` (about 4 minutes on 2 CPU cores): the claim in the README."""
    results = run_demo(out=tmp_path / "demo", data_root=tmp_path / "world")
    for metric in ("abs_rel", "rmse"):
        assert results["constant_median"][metric] >= 2 * results["unet"][metric], metric
    written = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert written["unet"]["count"] == written["constant_median"]["count"] > 0
    assert (tmp_path / "demo" / "figure.png").stat().st_size > 10_000
    assert (tmp_path / "demo" / "model.ckpt").is_file()
    assert (tmp_path / "demo" / "unet" / "per_image.csv").is_file()
