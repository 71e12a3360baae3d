import pytest
import torch

from monodepthkit.errors import MdkError
from monodepthkit.models import count_parameters, create_model


def test_default_layout_mirrors_the_encoder_without_skips():
    model = create_model("conv_autoencoder")
    assert [block[0].out_channels for block in model.encoder] == [32, 64, 128, 256]
    # No skip connections: every decoder level sees only the previous level's channels.
    assert [block[0].in_channels for block in model.decoder] == [256, 256, 128, 64]
    assert [block[0].out_channels for block in model.decoder] == [256, 128, 64, 32]
    assert count_parameters(model) == 1_368_001


@pytest.mark.parametrize("size", [(37, 50), (16, 16)])
def test_odd_and_minimal_sizes_come_back_exactly(size):
    model = create_model("conv_autoencoder", width=4, depth=4)
    assert model(torch.rand(2, 3, *size))["depth"].shape == (2, 1, *size)


def test_options_and_errors():
    assert count_parameters(create_model("conv_autoencoder", width=8, depth=3)) < count_parameters(
        create_model("conv_autoencoder", width=8, depth=4)
    )
    with pytest.raises(MdkError, match="upsample must be 'nearest' or 'bilinear', got 'cubic'"):
        create_model("conv_autoencoder", upsample="cubic")
    with pytest.raises(MdkError, match="width and depth must be >= 1"):
        create_model("conv_autoencoder", depth=0)
