"""encoder_decoder and the timm encoders: backbones, weights from files, offline errors."""

import re

import huggingface_hub.constants
import pytest
import timm
import torch
from safetensors.torch import save_file

from monodepthkit.errors import MdkError
from monodepthkit.models import create_encoder, create_model
from monodepthkit.models.encoders import resolve_backbone_name

SMALL = dict(decoder_width=0.0625)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No hub access and an empty cache, as on the build machines (and fast: no retries)."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


# Report 2's backbones run by default; the other supported ones with the slow tests.
SLOW_BACKBONES = ["densenet121", "densenet161", "xception41", "xception65", "resnet34", "resnet50"]


@pytest.mark.parametrize(
    "backbone",
    ["densenet169", "xception"] + [pytest.param(b, marks=pytest.mark.slow) for b in SLOW_BACKBONES],
)
def test_report_backbones_predict_at_odd_sizes(backbone):
    model = create_model("encoder_decoder", backbone=backbone, **SMALL).eval()
    with torch.no_grad():
        depth = model(torch.rand(1, 3, 72, 104))["depth"]
    assert depth.shape == (1, 1, 72, 104) and torch.isfinite(depth).all()
    channels = model.encoder.feature_info.channels()
    assert model.decoder.bottleneck.in_channels == channels[-1]
    assert len(model.decoder.blocks) == len(channels) - 1


def test_backbone_normalisation_follows_timm():
    xception = create_encoder("xception")
    assert xception.pretrained_cfg["mean"] == (0.5, 0.5, 0.5)
    model = create_model("encoder_decoder", backbone="resnet18", **SMALL)
    torch.testing.assert_close(model.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    torch.testing.assert_close(model.std.flatten(), torch.tensor([0.229, 0.224, 0.225]))
    assert "mean" not in model.state_dict()  # derived from the backbone, not saved


def test_decoder_width_sets_the_decoder_channels():
    model = create_model("encoder_decoder", backbone="resnet18", decoder_width=0.5)
    assert model.decoder.bottleneck.out_channels == 256  # half of resnet18's 512
    assert [block.convs[0].out_channels for block in model.decoder.blocks] == [128, 64, 32, 16]
    with pytest.raises(MdkError, match="decoder_width must be > 0"):
        create_model("encoder_decoder", backbone="resnet18", decoder_width=0)


def test_xception_alias_is_the_keras_xception():
    assert resolve_backbone_name("xception") == "legacy_xception"
    assert resolve_backbone_name("xception41") == "xception41"


def test_unknown_backbone_lists_close_names():
    with pytest.raises(MdkError, match=r"unknown backbone 'densenet12'.*densenet121"):
        create_model("encoder_decoder", backbone="densenet12")
    with pytest.raises(MdkError, match=r"unknown backbone 'xceptoin'.*close names: .*xception"):
        create_model("encoder_decoder", backbone="xceptoin")


def test_pretrained_offline_fails_with_a_clear_one_line_error(offline):
    with pytest.raises(MdkError) as error:
        create_model("encoder_decoder", backbone="resnet18", pretrained=True)
    message = str(error.value)
    assert "\n" not in message
    assert re.search(r"backbone 'resnet18'.*download.*failed.*no internet", message), message
    assert "set weights: PATH" in message


def test_weights_file_loads_into_the_encoder(tmp_path, offline):
    torch.manual_seed(1)
    state = timm.create_model("resnet18").state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)
    # weights overrides pretrained, so an offline machine needs no download.
    model = create_model(
        "encoder_decoder", backbone="resnet18", pretrained=True, weights=path, **SMALL
    )
    encoder = model.encoder.state_dict()
    assert set(encoder) == {key for key in state if not key.startswith("fc.")}
    for key, value in encoder.items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)


def test_weights_from_safetensors_and_checkpoint_dicts(tmp_path):
    torch.manual_seed(2)
    state = timm.create_model("efficientnet_b0").state_dict()
    save_file(
        {key: value.contiguous() for key, value in state.items()}, tmp_path / "b0.safetensors"
    )
    model = create_model(
        "encoder_decoder",
        backbone="efficientnet_b0",
        **SMALL,
        weights=str(tmp_path / "b0.safetensors"),
    )
    for key, value in model.encoder.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)


def test_torchvision_densenet_file_with_old_layer_names(tmp_path):
    torch.manual_seed(3)
    state = timm.create_model("densenet121").state_dict()
    # torchvision's published DenseNet files say "norm.1" where timm says "norm1"; also wrap the
    # state dict as a DataParallel training checkpoint does.
    old = {
        "module." + re.sub(r"(denselayer\d+\.(norm|relu|conv))([12])\.", r"\1.\3.", key): value
        for key, value in state.items()
        if not key.endswith("num_batches_tracked")
    }
    assert "module.features.denseblock1.denselayer1.norm.1.weight" in old
    torch.save({"state_dict": old, "epoch": 3}, tmp_path / "densenet121.pth")
    encoder = create_encoder("densenet121", weights=tmp_path / "densenet121.pth")
    for key, value in encoder.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            # The feature wrapper flattens the top-level `features` sequential into `features_`.
            original = key.replace("features_", "features.", 1)
            torch.testing.assert_close(value, state[original], rtol=0, atol=0, msg=key)


def test_weights_file_errors(tmp_path):
    with pytest.raises(
        MdkError, match=r"backbone 'resnet18': weights file .*nowhere.pth not found"
    ):
        create_encoder("resnet18", weights=tmp_path / "nowhere.pth")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(MdkError, match=r"cannot read weights file .*garbage.pth"):
        create_encoder("resnet18", weights=tmp_path / "garbage.pth")
    state = timm.create_model("resnet18").state_dict()
    del state["layer1.0.conv1.weight"]
    state["decoder.extra.weight"] = torch.zeros(3)
    state["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    torch.save(state, tmp_path / "wrong.pth")
    with pytest.raises(MdkError) as error:
        create_encoder("resnet18", weights=tmp_path / "wrong.pth")
    message = str(error.value)
    assert "does not fit backbone 'resnet18'" in message and "\n" not in message
    assert "1 missing keys (e.g. layer1.0.conv1.weight)" in message
    assert "1 unexpected keys (e.g. decoder.extra.weight)" in message
    assert "1 shape mismatches (e.g. conv1.weight (64, 3, 3, 3) != (64, 3, 7, 7))" in message


def test_a_file_without_classifier_or_with_another_one_is_fine(tmp_path):
    state = timm.create_model("resnet18", num_classes=10).state_dict()
    torch.save(state, tmp_path / "ten_classes.pth")
    create_encoder("resnet18", weights=tmp_path / "ten_classes.pth")
    torch.save({k: v for k, v in state.items() if not k.startswith("fc.")}, tmp_path / "bare.pth")
    create_encoder("resnet18", weights=tmp_path / "bare.pth")


def test_without_output_upsampling_the_prediction_has_the_decoder_resolution():
    torch.manual_seed(0)
    model = create_model("encoder_decoder", backbone="resnet18", upsample_output=False).eval()
    with torch.no_grad():
        depth = model(torch.rand(1, 3, 64, 96))["depth"]
    assert depth.shape == (1, 1, 32, 48)  # ResNet's first feature map: stride 2
