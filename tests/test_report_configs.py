"""Each report config holds the report's own numbers: a silent change to one of them fails here.

Values the report states are quoted; values it leaves open are pinned too (they are the
project's documented choice, written in each config's comments), marked "open". A report's
experiment is the stack ``configs/reportN/base.yaml`` + ``configs/reportN/VARIANT.yaml``; every
value is checked as `mdk fit` resolves it. On top, each stack resolves exactly as the single-file
config it replaced (``report_configs_expected.yaml``, defaults included).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest
import yaml

from test_configs import REPORTS, resolved_config

PINNED = yaml.safe_load((Path(__file__).with_name("report_configs_expected.yaml")).read_text())

_R2 = {  # report 2 (001): NYU labelled, 480x640, 1.5 L_grad + 1.0 L_SSIM + 0.2 L1, 0.5-4 m
    "model.init_args.loss": "densedepth",
    "model.init_args.loss_kwargs": {"grad_weight": 1.5, "ssim_weight": 1.0, "l1_weight": 0.2},
    "model.init_args.model_kwargs.head": "tanh_range",  # "1.75 * tanh(z) + 2.25"
    "model.init_args.model_kwargs.min_depth": 0.5,
    "model.init_args.model_kwargs.max_depth": 4.0,
    "model.init_args.target_range": "clip",  # "a lower bound of 0.5 m and an upper bound of 4 m"
    "model.init_args.eval_protocol": "nyu",
    "model.init_args.lr": 1e-4,  # open (DenseDepth's)
    "data.batch_size": 8,  # open
    "data.image_size": [480, 640],  # "predictions at the same resolution as input"
    "data.root": "data/nyu_labeled",  # `mdk data prepare report2`: split 1049/200/200
    "trainer.max_epochs": 20,  # open
}
_R3 = {  # report 3 (002): U-Net, Eigen's scale-invariant log loss, lambda 0.5
    "model.init_args.model": "unet",
    "model.init_args.eval_protocol": "nyu",
    "data.root": "data/nyu_labeled",
    "data.image_size": [240, 320],  # open
    "model.init_args.lr": 1e-4,  # open
}
_R4 = {  # report 4 (003): 1 epoch, Adam 1e-4, batch 4, DenseDepth loss 1 / 1 / 0.1, NYU 480x640
    "model.init_args.loss": "densedepth",
    "model.init_args.loss_kwargs": {"grad_weight": 1.0, "ssim_weight": 1.0, "l1_weight": 0.1},
    "model.init_args.lr": 1e-4,
    "model.init_args.eval_protocol": "nyu",
    "data.batch_size": 4,
    "data.image_size": [480, 640],
    "data.augment.channel_swap": 0.25,  # "we randomly swap around channels"
    "model.init_args.model_kwargs.upsample_output": False,  # half-resolution ground truth
    "trainer.max_epochs": 1,
}
_PACKNET = {  # packnet-sfm's PackNetSlim01, second-to-last scale (half-resolution ground truth)
    "model.init_args.model": "packnet",
    "model.init_args.model_kwargs.channels": [32, 32, 64, 128, 256, 512],
    "model.init_args.model_kwargs.features_3d": 4,
    "model.init_args.model_kwargs.output_scale": 1,
    "model.init_args.model_kwargs.activation": "sigmoid",
    "model.init_args.model_kwargs.inverse_depth": True,
}
_R5 = {  # report 5 (004) = Monodepth2: Adam 1e-4, /10 after 15 of 20 epochs, batch 12, 640x192
    "model.init_args.depth_model": "monodepth2",
    "model.init_args.depth_model_kwargs.num_layers": 18,
    "model.init_args.depth_model_kwargs.min_depth": 0.1,
    "model.init_args.depth_model_kwargs.max_depth": 100.0,
    "model.init_args.ssim_weight": 0.85,  # 0.85 (1 - SSIM) / 2 + 0.15 L1
    "model.init_args.smoothness_weight": 0.001,
    "model.init_args.automask": True,
    "model.init_args.reprojection": "min",
    "model.init_args.full_res_multiscale": True,
    "model.init_args.lr": 1e-4,
    "model.init_args.lr_milestones": [15],
    "model.init_args.lr_gamma": 0.1,
    "model.init_args.eval_protocol": "kitti",
    "data.batch_size": 12,
    "data.image_size": [192, 640],
    "data.augment.flip": True,
    "data.augment.color_jitter": 0.5,
    "data.augment.brightness": 0.2,
    "data.augment.contrast": 0.2,
    "data.augment.saturation": 0.2,
    "data.augment.hue": 0.1,
    "trainer.max_epochs": 20,
}
_R1 = {  # report 1 (000): KITTI 416x128, IP-Basic dense ground truth, batch 16, 10 epochs
    "model.init_args.model": "unet",
    "model.init_args.model_kwargs.head": "sigmoid",  # "we elected to keep the sigmoid"
    "model.init_args.loss_depth_scale": 80.0,  # losses on [0, 1] depth maps
    "model.init_args.eval_protocol": "kitti",
    "data.root": "data/kitti_ipbasic",  # `mdk data prepare report1`
    "data.batch_size": 16,  # "batch sizes of 16"
    "data.image_size": [128, 416],  # "downscaled to 416x128"
    "trainer.max_epochs": 10,  # "trained the model for 10 epochs"
}

EXPECTED = {
    "report1/unet_mse": {
        **_R1,
        "model.init_args.loss": "mse",
        "model.init_args.lr": 1e-5,  # "learning rate of 1e-5, a step size of 10, and gamma 0.1"
        "model.init_args.lr_milestones": [10],
        "model.init_args.lr_gamma": 0.1,
    },
    "report1/gan": {
        **_R1,
        "model.init_args.discriminator": "patchgan",
        # point A: "the learning rate of the Discriminator was halved and the update frequency
        # was changed to once in five batches"
        "model.init_args.schedule.0.d_lr_factor": 0.5,
        "model.init_args.schedule.0.d_every": 5,
    },
    "report2/autoencoder": {**_R2, "model.init_args.model": "conv_autoencoder"},
    "report2/unet": {
        **_R2,
        "model.init_args.model": "unet",
        "model.init_args.model_kwargs.width": 64,  # Ronneberger: 64 ... 1024 channels
        "model.init_args.model_kwargs.depth": 4,
        "model.init_args.model_kwargs.max_channels": 1024,
        "model.init_args.model_kwargs.upsample": "transpose",  # "up-convolutions"
    },
    "report2/xception": {
        **_R2,
        "model.init_args.model_kwargs.backbone": "xception",
        "model.init_args.model_kwargs.pretrained": True,  # "pre-trained on ImageNet"
    },
    "report2/densenet": {
        **_R2,
        "model.init_args.model_kwargs.backbone": "densenet169",
        "model.init_args.model_kwargs.pretrained": True,
    },
    "report3/silog": {
        **_R3,
        "model.init_args.loss": "silog",
        "model.init_args.loss_kwargs.lam": 0.5,  # "lambda = 0.5"
    },
    "report3/l2": {**_R3, "model.init_args.loss": "mse"},  # lambda 0: L2
    "report3/l2_smooth": {**_R3, "model.init_args.loss": "l2_smooth"},
    "report4/packnet_A": {**_R4, **_PACKNET, "model.init_args.model_kwargs.version": "A"},
    "report4/packnet_B": {**_R4, **_PACKNET, "model.init_args.model_kwargs.version": "B"},
    "report4/packnet_C": {**_R4, **_PACKNET, "model.init_args.model_kwargs.version": "C"},
    "report4/leaky_relu": {  # experiment 3: the base PackNet with a leaky-ReLU head
        **_R4,
        **_PACKNET,
        "model.init_args.model_kwargs.version": "B",
        "model.init_args.model_kwargs.activation": "leaky_relu",
    },
    "report4/direct_depth": {  # experiment 4: the base PackNet predicting depth
        **_R4,
        **_PACKNET,
        "model.init_args.model_kwargs.version": "B",
        "model.init_args.model_kwargs.inverse_depth": False,
    },
    "report4/densedepth_scratch": {
        **_R4,
        "model.init_args.model_kwargs.backbone": "densenet169",
        "model.init_args.model_kwargs.pretrained": False,  # "learns all weights from scratch"
    },
    "report5/kitti_mono": {
        **_R5,
        "model.init_args.mode": "mono",
        "model.init_args.frame_offsets": [-1, 1],
        "model.init_args.pose_model": "separate",
    },
    "report5/kitti_stereo": {
        **_R5,
        "model.init_args.mode": "stereo",
        "model.init_args.stereo_baseline": 0.1,
    },
    "report5/kitti_mono_stereo": {
        **_R5,
        "model.init_args.mode": "mono+stereo",
        "model.init_args.stereo_baseline": 0.1,
    },
    "report5/nyu": {
        **_R5,
        "model.init_args.eval_protocol": "nyu",
        "model.init_args.depth_model_kwargs.max_depth": 10.0,
        "data.image_size": [480, 640],
        "data.dataset": "nyu_raw",
    },
}


def _get(config: dict, dotted: str):
    value = config
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


@functools.cache
def _resolved(name: str) -> dict:
    sys.argv = ["mdk"]  # the CLI parses the given arguments only
    return resolved_config(REPORTS[name])


def test_every_report_config_is_pinned():
    assert set(REPORTS) == set(EXPECTED) == set(PINNED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_report_config_values(name):
    config = _resolved(name)
    wrong = {}
    for key, expected in EXPECTED[name].items():
        try:
            value = _get(config, key)
        except (KeyError, IndexError, TypeError):
            value = "<missing>"
        value = list(value) if isinstance(value, tuple) else value  # image_size: YAML lists
        if value != expected:
            wrong[key] = (value, expected)
    assert not wrong, f"{name}: (found, report) {wrong}"


@pytest.mark.parametrize("name", sorted(PINNED))
def test_stack_resolves_as_the_config_it_replaced(name, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    single = tmp_path / "single.yaml"
    single.write_text(yaml.safe_dump(PINNED[name]))
    assert _resolved(name) == resolved_config([single])
