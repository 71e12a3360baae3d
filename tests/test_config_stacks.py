"""Temporary: every old single-file config == its new base + variant stack, resolved by the CLI."""

from __future__ import annotations

import sys

import pytest
from test_configs import CONFIGS, REPORTS, resolved_config

OLD = {
    "report1_unet_mse_kitti": "report1/unet_mse",
    "report1_gan_kitti": "report1/gan",
    "report2_autoencoder_nyu": "report2/autoencoder",
    "report2_unet_nyu": "report2/unet",
    "report2_xception_nyu": "report2/xception",
    "report2_densenet_nyu": "report2/densenet",
    "report3_unet_silog_nyu": "report3/silog",
    "report3_unet_silog_nyu_l2": "report3/l2",
    "report3_unet_silog_nyu_l2_smooth": "report3/l2_smooth",
    "report4_packnet_A_nyu": "report4/packnet_A",
    "report4_packnet_B_nyu": "report4/packnet_B",
    "report4_packnet_C_nyu": "report4/packnet_C",
    "report4_densedepth_scratch_nyu": "report4/densedepth_scratch",
    "report4_packnet_B_nyu+report4_overrides/leaky_relu": "report4/leaky_relu",
    "report4_packnet_B_nyu+report4_overrides/direct_depth": "report4/direct_depth",
    "report5_monodepth2_kitti_mono": "report5/kitti_mono",
    "report5_monodepth2_kitti_stereo": "report5/kitti_stereo",
    "report5_monodepth2_kitti_mono_stereo": "report5/kitti_mono_stereo",
    "report5_monodepth2_nyu": "report5/nyu",
}


def test_every_new_stack_has_an_old_file():
    assert set(OLD.values()) == set(REPORTS)


@pytest.mark.parametrize("old", sorted(OLD))
def test_stack_resolves_as_the_old_file(old, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["mdk"])
    before = resolved_config([CONFIGS / f"{part}.yaml" for part in old.split("+")])
    after = resolved_config(REPORTS[OLD[old]])
    assert after == before
