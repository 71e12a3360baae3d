"""Monodepth2 depth network: scales and shapes, eval outputs, padding, weights, real frames."""

from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

from monodepthkit.errors import InputError, MdkError
from monodepthkit.geometry import disp_to_depth
from monodepthkit.models import create_model
from monodepthkit.models.monodepth2 import Monodepth2

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No hub access and an empty cache, as on the build machines (and fast: no retries)."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return create_model("monodepth2")


@pytest.mark.parametrize("size", [(64, 64), (96, 320)])
def test_training_outputs_four_scales(net, size):
    net.train()
    height, width = size
    out = net(torch.rand(2, 3, height, width))
    expected = {}
    for scale, suffix in enumerate(["", "_1", "_2", "_3"]):
        for name in ("disp", "depth"):
            expected[name + suffix] = (2, 1, height // 2**scale, width // 2**scale)
    assert {key: tuple(value.shape) for key, value in out.items()} == expected
    for suffix in ["", "_1", "_2", "_3"]:
        disp = out["disp" + suffix]
        assert disp.min() > 0 and disp.max() < 1  # sigmoid
        torch.testing.assert_close(out["depth" + suffix], disp_to_depth(disp, 0.1, 100.0)[1])


def test_eval_returns_only_scale_zero_at_kitti_size(net):
    net.eval()
    image = torch.rand(1, 3, 192, 640)
    with torch.no_grad():
        out = net(image)
        all_scales = net.decoder(net.encode(image), all_scales=True)
    assert set(out) == {"disp", "depth"}
    assert out["disp"].shape == (1, 1, 192, 640)
    assert len(all_scales) == 4
    torch.testing.assert_close(out["disp"], all_scales[0])


def test_forward_is_decode_of_encode(net):
    net.train()
    image = torch.rand(1, 3, 64, 96)
    features = net.encode(image)
    assert [f.shape[1] for f in features] == [64, 64, 128, 256, 512] == net.encoder_channels
    assert [f.shape[-1] for f in features] == [48, 24, 12, 6, 3]
    with torch.no_grad():
        torch.manual_seed(1)  # batch norm in train mode is deterministic anyway
        direct = net(image)
        composed = net.decode(net.encode(image))
    for key in direct:
        torch.testing.assert_close(direct[key], composed[key])


def test_input_normalisation_is_monodepth2s(net):
    net.eval()
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        features = net.encode(image)
        by_hand = net.encoder((image - 0.45) / 0.225)
    torch.testing.assert_close(features[-1], by_hand[-1])


def test_odd_sizes_are_padded_and_cropped(net):
    net.eval()
    image = torch.rand(1, 3, 70, 100)
    with torch.no_grad():
        out = net(image)
        padded = F.pad(image, (0, 28, 0, 26), mode="replicate")  # to 96 x 128
        reference = net(padded)["disp"][..., :70, :100]
    assert out["disp"].shape == (1, 1, 70, 100)
    torch.testing.assert_close(out["disp"], reference)
    net.train()
    shapes = {key: tuple(value.shape[-2:]) for key, value in net(image).items()}
    assert shapes["disp_1"] == (35, 50) and shapes["disp_2"] == (18, 25)
    assert shapes["depth_3"] == (9, 13)
    with pytest.raises(MdkError, match="divisible by 32"):
        net.encode(image)


def test_every_parameter_gets_a_gradient(net):
    net.train()
    net.zero_grad()
    out = net(torch.rand(2, 3, 64, 64))
    loss = sum(out[key].mean() for key in ("disp", "disp_1", "disp_2", "disp_3"))
    loss.backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_decoder_channels_and_attributes(net):
    assert (net.min_depth, net.max_depth, net.num_scales) == (0.1, 100.0, 4)
    assert [conv.conv.out_channels for conv in net.decoder.up_convs] == [16, 32, 64, 128, 256]
    assert [conv.conv.in_channels for conv in net.decoder.disp_convs] == [16, 32, 64, 128]
    # merge convs take the upsampled level plus the encoder skip one level finer
    assert [conv.conv.in_channels for conv in net.decoder.merge_convs] == [
        16,
        32 + 64,
        64 + 64,
        128 + 128,
        256 + 256,
    ]


def test_fewer_scales_and_depth_range():
    torch.manual_seed(0)
    net = create_model("monodepth2", scales=2, min_depth=1.0, max_depth=10.0)
    out = net(torch.rand(1, 3, 64, 64))
    assert set(out) == {"disp", "depth", "disp_1", "depth_1"}
    assert out["depth"].min() >= 1.0 and out["depth"].max() <= 10.0


def test_resnet50_variant_builds():
    net = create_model("monodepth2", num_layers=50).eval()
    assert net.encoder_channels == [64, 256, 512, 1024, 2048]
    with torch.no_grad():
        out = net(torch.rand(1, 3, 64, 64))
    assert out["depth"].shape == (1, 1, 64, 64) and torch.isfinite(out["depth"]).all()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_layers": 20}, "num_layers"),
        ({"scales": 5}, "scales"),
        ({"min_depth": 10.0, "max_depth": 1.0}, "min_depth"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(MdkError, match=match):
        create_model("monodepth2", **kwargs)


def test_bad_image_shape_raises(net):
    with pytest.raises(MdkError, match=r"\[B, 3, H, W\]"):
        net(torch.rand(1, 1, 64, 64))


def test_unbatched_image_raises_input_error(net):
    with pytest.raises(
        InputError, match=r"monodepth2: image must have shape \[B, 3, H, W\], got \(3, 64, 64\)"
    ):
        net(torch.rand(3, 64, 64))


def test_local_torchvision_weights_file(tmp_path):
    reference = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    net = Monodepth2(weights=path)
    torch.testing.assert_close(net.encoder.conv1.weight, reference.conv1.weight)
    torch.testing.assert_close(
        net.encoder.layer4[1].bn2.running_var, reference.layer4[1].bn2.running_var
    )


def test_pretrained_offline_asks_for_a_weights_file(offline):
    with pytest.raises(MdkError, match="weights: PATH"):
        create_model("monodepth2", pretrained=True)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_eval_mode_is_traceable(net):
    net.eval()
    image = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        traced = torch.jit.trace(net, image, strict=False)
        torch.testing.assert_close(traced(image)["depth"], net(image)["depth"])


def test_real_video_frame_at_kitti_size(net):
    folder = REALDATA / "manydepth_pair"
    if not (folder / "test_sequence_target.jpg").is_file():
        pytest.skip(f"real data not found: {folder} (shared/realdata is absent on this machine)")
    frame = Image.open(folder / "test_sequence_target.jpg").convert("RGB").resize((640, 192))
    image = torch.from_numpy(np.asarray(frame, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    net.eval()
    with torch.no_grad():
        out = net(image)
    assert out["disp"].shape == out["depth"].shape == (1, 1, 192, 640)
    assert torch.isfinite(out["depth"]).all()
    assert out["disp"].min() > 0 and out["disp"].max() < 1
    assert out["depth"].min() >= 0.1 and out["depth"].max() <= 100.0
    # the prediction depends on the picture: a flipped frame gives another map
    with torch.no_grad():
        flipped = net(image.flip(-1))["disp"].flip(-1)
    assert not torch.allclose(flipped, out["disp"])
