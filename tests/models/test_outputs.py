"""The model-output contract: keys per scale, the multi-scale network check, output validation."""

from __future__ import annotations

import pytest
import torch

from monodepthkit.errors import MdkError
from monodepthkit.models import create_model
from monodepthkit.models.outputs import (
    check_multiscale_depth_net,
    depth_key,
    disparity_key,
    key_scale,
    output_head_range,
    output_scales,
    per_scale,
    validate_outputs,
)

PACKNET = {"channels": [16, 16, 16, 32, 32, 64], "features_3d": 4}


def test_scale_zero_has_no_suffix_and_keys_round_trip():
    assert (depth_key(0), disparity_key(0), depth_key(3), disparity_key(2)) == (
        "depth",
        "disp",
        "depth_3",
        "disp_2",
    )
    assert [key_scale(key) for key in ("depth", "disp", "depth_3", "disp_12")] == [0, 0, 3, 12]
    for key in ("depth_0", "disp_x", "image", "depth_"):
        with pytest.raises(MdkError, match=f"model output key '{key}'"):
            key_scale(key)


@pytest.mark.parametrize(("model", "scales"), [("monodepth2", 4), ("packnet", 4)])
def test_the_multiscale_networks_follow_the_contract(model, scales):
    net = create_model(model, **(PACKNET if model == "packnet" else {}))
    check_multiscale_depth_net(net, model, share_features=model == "monodepth2")
    assert net.num_scales == scales
    outputs = net.train()(torch.rand(1, 3, 64, 96))
    validate_outputs(outputs, model)
    assert output_scales(outputs) == list(range(scales))
    assert [d.shape[-1] for d in per_scale(outputs, "disp")] == [96, 48, 24, 12]
    eval_outputs = net.eval()(torch.rand(1, 3, 64, 96))
    assert output_scales(eval_outputs) == [0] and set(eval_outputs) == {"depth", "disp"}


def test_scales_a_network_skips_are_left_out():
    """PackNet stopping at scale 2 without upsampling returns scales 0 (its own), 2 and 3."""
    net = create_model("packnet", **PACKNET, output_scale=2, upsample_output=False).train()
    outputs = net(torch.rand(1, 3, 64, 96))
    assert output_scales(outputs) == [0, 2, 3]
    torch.testing.assert_close(per_scale(outputs, "depth")[0], outputs["depth_2"])


def test_networks_without_the_interface_are_named():
    with pytest.raises(MdkError, match=r"depth model 'unet' lacks num_scales.*MultiScaleDepthNet"):
        check_multiscale_depth_net(create_model("unet", width=4, depth=2), "unet")
    packnet = create_model("packnet", **PACKNET)
    with pytest.raises(MdkError, match=r"lacks encode, decode, encoder_channels.*FeatureSharing"):
        check_multiscale_depth_net(packnet, "packnet", share_features=True)


def test_validate_outputs_names_the_missing_key_and_bad_shapes():
    depth = torch.ones(2, 1, 8, 8)
    half = depth[..., :4, :4]
    validate_outputs({"depth": depth, "disp": depth, "depth_1": half, "disp_1": half})
    with pytest.raises(MdkError, match="lack 'depth'"):
        validate_outputs({"disp": depth})
    with pytest.raises(MdkError, match="have 'depth_1' but no 'disp_1'"):
        validate_outputs({"depth": depth, "disp": depth, "depth_1": depth})
    with pytest.raises(MdkError, match=r"'depth' \(2, 1, 8, 8\) and 'disp' \(2, 2, 8, 8\)"):
        validate_outputs({"depth": depth, "disp": depth.repeat(1, 2, 1, 1)})


def test_output_head_range_reads_a_bounded_head_only():
    unet = create_model("unet", width=4, depth=2, head="sigmoid_range", min_depth=0.5, max_depth=9)
    assert output_head_range(unet) == (0.5, 9.0)
    assert output_head_range(create_model("monodepth2")) is None  # no head: depth via disp
    conv_head = torch.nn.Module()
    conv_head.head = torch.nn.Conv2d(4, 6, 1)  # a pose network's head bounds nothing
    assert output_head_range(conv_head) is None
