"""Every registered model: forward at two sizes, output range, gradients, export by tracing."""

import pytest
import torch

from monodepthkit.models import create_model, head_range, list_models

# Small settings of every registered model (and of a few encoder_decoder backbones), each with
# another output head so that all heads meet a real network.
ZOO = {
    "conv_autoencoder": dict(width=4, depth=3, head="tanh_range", min_depth=0.5, max_depth=4.0),
    "conv_autoencoder-bilinear": dict(width=4, depth=2, upsample="bilinear", head="sigmoid"),
    "unet": dict(width=4, depth=3, head="log", min_depth=0.5, max_depth=80.0),
    "unet-transpose": dict(width=4, depth=3, upsample="transpose", head="softplus"),
    "encoder_decoder-resnet18": dict(
        backbone="resnet18", decoder_width=0.125, head="sigmoid_range", max_depth=10.0
    ),
    "encoder_decoder-efficientnet_b0": dict(
        backbone="efficientnet_b0", decoder_width=0.25, head="inverse_sigmoid", max_depth=80.0
    ),
}
# One case per registered model for the (slower) export test.
EXPORTED = ["conv_autoencoder", "unet", "encoder_decoder-resnet18"]
# Registered models that are not depth networks, with their own tests.
# Registered models tested in files of their own: the discriminator, and the multi-scale
# disparity networks (their outputs also hold "disp" keys; they have no `head`).
OWN_TESTS = {
    "patchgan",  # tests/models/test_patchgan.py
    "monodepth2",  # tests/models/test_monodepth2.py
    "packnet",  # tests/models/test_packnet.py
    # the transformers families: tests/models/test_foundation.py
    "depth_anything_v2",
    "dpt",
    "zoedepth",
    "glpn",
}
# Neither height nor width is divisible by 32 in the second size.
SIZES = [(64, 96), (72, 104)]


def _build(case: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(case.split("-")[0], **ZOO[case])
    # timm zero-initialises the last batch norm of each residual block, which leaves the layers
    # before it without gradient until the first update; give those norms a non-zero scale.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d) and not module.weight.detach().any():
            torch.nn.init.ones_(module.weight)
    return model


def test_the_zoo_covers_every_registered_model():
    assert {case.split("-")[0] for case in ZOO} == set(list_models()) - OWN_TESTS
    assert {case.split("-")[0] for case in EXPORTED} == set(list_models()) - OWN_TESTS


@pytest.mark.parametrize("case", sorted(ZOO))
def test_model_forward_range_and_gradients(case):
    model = _build(case)
    low, high = head_range(model.head)
    loss = 0.0
    for height, width in SIZES:
        out = model(torch.rand(2, 3, height, width))
        assert set(out) == {"depth"}
        depth = out["depth"]
        assert depth.shape == (2, 1, height, width)
        assert torch.isfinite(depth).all()
        assert float(depth.min()) >= low and float(depth.max()) <= high
        loss = loss + (depth - depth.detach().mean()).square().mean() + depth.mean()
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{case}: {name} gets no gradient"
        assert torch.isfinite(parameter.grad).all(), f"{case}: {name} has a non-finite gradient"
        assert parameter.grad.abs().sum() > 0, f"{case}: {name} has a zero gradient"


@pytest.mark.parametrize("case", EXPORTED)
def test_model_traces_for_export(case):
    model = _build(case).eval()
    with torch.no_grad():
        traced = torch.jit.trace(
            model, torch.rand(1, 3, *SIZES[0]), strict=False, check_trace=False
        )
        image = torch.rand(1, 3, *SIZES[1])  # another size: every resize follows the input's shape
        torch.testing.assert_close(traced(image)["depth"], model(image)["depth"])
