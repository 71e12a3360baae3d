from itertools import pairwise

import pytest
import torch

from monodepthkit.errors import MdkError
from monodepthkit.models import count_parameters, create_model, list_models


def test_registry_lists_unet_and_rejects_unknown_names():
    assert "unet" in list_models()
    with pytest.raises(MdkError, match=r"unknown model 'unetx'; available: .*unet"):
        create_model("unetx")
    with pytest.raises(MdkError, match=r"model 'unet': .*bogus"):
        create_model("unet", bogus=1)


@pytest.mark.parametrize("upsample", ["bilinear", "transpose"])
@pytest.mark.parametrize("size", [(32, 64), (37, 50), (128, 416)])
def test_unet_keeps_the_input_size(upsample, size):
    model = create_model("unet", width=4, depth=3, upsample=upsample, min_depth=0.5, max_depth=80)
    out = model(torch.rand(2, 3, *size))
    assert set(out) == {"depth"}
    assert out["depth"].shape == (2, 1, *size)
    assert float(out["depth"].min()) >= 0.5 and float(out["depth"].max()) <= 80


def test_width_and_depth_change_the_network():
    small = create_model("unet", width=4, depth=2)
    large = create_model("unet", width=8, depth=3)
    assert count_parameters(large) > count_parameters(small)
    assert len(large.encoder) == 4 and len(small.encoder) == 3


def test_every_parameter_gets_a_gradient():
    model = create_model("unet", width=4, depth=3, upsample="transpose")
    model(torch.rand(2, 3, 32, 48))["depth"].mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_unet_traces_for_export():
    model = create_model("unet", width=4, depth=2).eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, torch.rand(1, 3, 32, 48), strict=False)
        image = torch.rand(1, 3, 40, 56)  # another size: upsampling follows the input's shape
        torch.testing.assert_close(traced(image)["depth"], model(image)["depth"])


def test_transpose_unet_is_ronnebergers_layout():
    """64-128-256-512 down, 1024 bottleneck, 2x2 up-convs halving channels (report 2's U-Net)."""
    model = create_model("unet", width=64, depth=4, upsample="transpose", max_channels=1024)

    def double_conv(c_in: int, c_out: int) -> int:  # two bias-free 3x3 convs, each with BN
        return 9 * c_in * c_out + 9 * c_out * c_out + 4 * c_out

    widths = [64, 128, 256, 512, 1024]
    expected = double_conv(3, 64) + sum(double_conv(a, b) for a, b in pairwise(widths))
    for c_in, c_out in pairwise(widths[::-1]):  # 1024->512, ..., 128->64
        expected += 4 * c_in * c_out + c_out  # 2x2 up-conv with bias
        expected += double_conv(2 * c_out, c_out)  # on [up-conv, skip]
    expected += 64 + 1  # 1x1 output conv
    assert count_parameters(model) == expected  # 31,037,633, as the classic PyTorch U-Net
    first_up = model.decoder[0].up
    assert (first_up.in_channels, first_up.out_channels) == (1024, 512)
    assert model.encoder[-1][3].out_channels == 1024
