"""PatchGAN: receptive field (formula and measured), output grid, normalisation, options."""

import pytest
import torch
from torch import nn

from monodepthkit.models import create_model, list_models
from monodepthkit.models.patchgan import (
    PatchGAN,
    patchgan_layers,
    patchgan_receptive_field,
    receptive_field,
)


def test_default_receptive_field_is_70():
    assert patchgan_receptive_field() == 70
    assert PatchGAN().receptive_field == 70
    assert [patchgan_receptive_field(n) for n in range(1, 6)] == [16, 34, 70, 142, 286]
    assert receptive_field([(3, 1), (3, 1)]) == 5  # two 3x3 convolutions see 5x5
    assert patchgan_layers(3) == [(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)]


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_measured_receptive_field_matches(n_layers):
    """The input pixels that move one central logit span exactly the computed patch."""
    torch.manual_seed(0)
    model = PatchGAN(n_layers=n_layers, width=4, norm="none").double()
    size = 8 * patchgan_receptive_field(n_layers) // 4 + 32
    image = torch.rand(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    depth = torch.rand(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    logits = model(image, depth)
    row, col = logits.shape[-2] // 2, logits.shape[-1] // 2
    logits[0, 0, row, col].backward()
    touched = (image.grad.abs().sum(dim=1)[0] + depth.grad.abs()[0, 0]) > 0
    rows = touched.any(dim=1).nonzero()
    cols = touched.any(dim=0).nonzero()
    field = model.receptive_field
    assert int(rows.max() - rows.min() + 1) == field
    assert int(cols.max() - cols.min() + 1) == field


@pytest.mark.parametrize(
    "n_layers, size, grid", [(3, (128, 416), (14, 50)), (2, (64, 208), (14, 50))]
)
def test_output_is_a_grid_of_patch_logits(n_layers, size, grid):
    model = create_model("patchgan", n_layers=n_layers, width=8)
    logits = model(torch.rand(2, 3, *size), torch.rand(2, 1, *size) * 80)
    assert logits.shape == (2, 1, *grid)
    assert torch.isfinite(logits).all()


def test_inputs_are_normalised_to_minus_one_one():
    model = PatchGAN(width=4, depth_scale=40.0)
    seen = {}
    model.layers[0].register_forward_hook(lambda module, args, out: seen.update(x=args[0]))
    image = torch.zeros(1, 3, 32, 32)
    image[..., 0] = 1.0
    depth = torch.full((1, 1, 32, 32), 20.0)
    depth[..., 0] = 40.0
    depth[..., 1] = 0.0  # no ground truth: -1, like 0 m
    model(image, depth)
    x = seen["x"]
    assert x.shape == (1, 4, 32, 32)
    assert torch.all(x[:, :3, :, 0] == 1.0) and torch.all(x[:, :3, :, 1:] == -1.0)
    assert torch.all(x[:, 3, :, 0] == 1.0) and torch.all(x[:, 3, :, 1] == -1.0)
    assert torch.all(x[:, 3, :, 2:] == 0.0)


@pytest.mark.parametrize(
    "norm, layer", [("batch", nn.BatchNorm2d), ("instance", nn.InstanceNorm2d)]
)
def test_normalisation_options(norm, layer):
    model = PatchGAN(n_layers=3, width=4, norm=norm)
    # One per layer after the first: two strided layers and the stride-1 layer.
    assert sum(isinstance(m, layer) for m in model.modules()) == 3
    assert not any(
        isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in PatchGAN(norm="none").modules()
    )


def test_receptive_field_option_and_errors():
    assert PatchGAN(receptive_field=34, width=4).n_layers == 2
    assert PatchGAN(n_layers=4, receptive_field=142, width=4).receptive_field == 142
    with pytest.raises(ValueError, match="one of 16, 34, 70"):
        PatchGAN(receptive_field=64)
    with pytest.raises(ValueError, match="pass only one"):
        PatchGAN(n_layers=2, receptive_field=70)
    with pytest.raises(ValueError, match="norm must be one of"):
        PatchGAN(norm="layer")
    with pytest.raises(ValueError, match=r"depth must be \(B, 1, H, W\)"):
        PatchGAN(width=4)(torch.rand(1, 3, 32, 32), torch.rand(1, 1, 16, 16))


def test_registered_and_every_parameter_learns():
    assert "patchgan" in list_models()
    torch.manual_seed(0)
    model = create_model("patchgan", width=4)
    logits = model(torch.rand(2, 3, 48, 64), torch.rand(2, 1, 48, 64) * 80)
    (logits - 1).square().mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
