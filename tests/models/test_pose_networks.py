"""Pose networks: the three kinds, 0.01 output scaling, 6-channel conv1 initialisation, errors."""

import huggingface_hub.constants
import pytest
import torch
import torchvision

from monodepthkit.errors import MdkError
from monodepthkit.models import create_model
from monodepthkit.models.pose import create_pose_network


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def _pair(batch=2, height=64, width=96, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.rand(batch, 3, height, width, generator=generator),
        torch.rand(batch, 3, height, width, generator=generator),
    )


@pytest.mark.parametrize("kind", ["separate", "posecnn"])
def test_image_pose_networks_shapes_and_order(kind):
    torch.manual_seed(0)
    net = create_pose_network(kind).eval()
    assert net.needs_depth_features is False
    a, b = _pair()
    with torch.no_grad():
        axis_angle, translation = net(a, b)
        swapped = net(b, a)
    assert axis_angle.shape == translation.shape == (2, 3)
    assert torch.isfinite(axis_angle).all() and torch.isfinite(translation).all()
    assert not torch.allclose(swapped[1], translation)  # the frame order matters


def test_shared_pose_network_uses_last_depth_features():
    torch.manual_seed(0)
    depth_net = create_model("monodepth2").eval()
    net = create_pose_network("shared", depth_encoder_channels=depth_net.encoder_channels)
    assert net.needs_depth_features is True
    a, b = _pair()
    with torch.no_grad():
        features_a, features_b = depth_net.encode(a), depth_net.encode(b)
        axis_angle, translation = net(a, b, features_a, features_b)
        # only the coarsest map matters: replacing the finer ones changes nothing
        finer = [torch.zeros_like(f) for f in features_a[:-1]]
        again = net(a, b, [*finer, features_a[-1]], features_b)
    assert axis_angle.shape == translation.shape == (2, 3)
    torch.testing.assert_close(again[0], axis_angle)
    assert net.decoder.squeeze.in_channels == 512
    assert net.decoder.conv1.in_channels == 2 * 256
    with pytest.raises(MdkError, match="features_a"):
        net(a, b)


@pytest.mark.parametrize("kind", ["separate", "posecnn", "shared"])
def test_outputs_are_one_hundredth_of_the_last_layer(kind):
    torch.manual_seed(0)
    net = create_pose_network(kind, depth_encoder_channels=[8, 8, 16, 32, 64])
    last = net.head if kind == "posecnn" else net.decoder.conv3
    bias = torch.tensor([1.0, -2.0, 3.0, 4.0, 5.0, -6.0])
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(bias)
        a, b = _pair(batch=1)
        features = [torch.rand(1, 64, 2, 3)]
        axis_angle, translation = net(a, b, features, features)
    torch.testing.assert_close(axis_angle, 0.01 * bias[None, :3])
    torch.testing.assert_close(translation, 0.01 * bias[None, 3:])


def test_separate_conv1_is_repeated_and_halved_from_a_weights_file(tmp_path):
    reference = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    net = create_pose_network("separate", weights=path)
    kernel = reference.conv1.weight.detach()
    assert net.encoder.conv1.weight.shape == (64, 6, 7, 7)
    torch.testing.assert_close(net.encoder.conv1.weight, torch.cat([kernel, kernel], 1) / 2)
    torch.testing.assert_close(net.encoder.layer3[0].conv2.weight, reference.layer3[0].conv2.weight)
    # two equal frames then give the first-stage activation of one 3-channel image
    image = torch.rand(1, 3, 32, 32)
    stacked = torch.cat([image, image], 1)
    torch.testing.assert_close(
        net.encoder.conv1(stacked), reference.conv1(image), atol=1e-5, rtol=1e-5
    )


def test_separate_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = create_pose_network("separate").train()
    axis_angle, translation = net(*_pair())
    (axis_angle.sum() + translation.sum()).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing


def test_resnet50_separate_builds():
    net = create_pose_network("separate", num_layers=50).eval()
    assert net.decoder.squeeze.in_channels == 2048
    with torch.no_grad():
        axis_angle, _ = net(*_pair(batch=1))
    assert axis_angle.shape == (1, 3)


def test_pretrained_offline_asks_for_a_weights_file(offline):
    with pytest.raises(MdkError, match="weights: PATH"):
        create_pose_network("separate", pretrained=True)


@pytest.mark.parametrize(
    "kind,kwargs,match",
    [
        ("flownet", {}, "unknown pose network"),
        ("shared", {}, "depth_encoder_channels"),
        ("posecnn", {"pretrained": True}, "no encoder"),
        ("separate", {"num_layers": 20}, "num_layers"),
    ],
)
def test_bad_options_raise(kind, kwargs, match):
    with pytest.raises(MdkError, match=match):
        create_pose_network(kind, **kwargs)
