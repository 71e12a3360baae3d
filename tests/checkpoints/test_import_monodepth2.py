"""`mdk convert monodepth2`: parity with an independent implementation of Monodepth2's networks.

The reference networks below follow the architecture of the Monodepth2 paper and release, built
on torchvision's ResNet, with module names chosen so that their state dicts have the key names
of Niantic's weight files. Random weights are saved in that file layout, converted, and the
converted task must reproduce the reference disparities and poses.
"""

from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from monodepthkit.checkpoints import import_monodepth2
from monodepthkit.cli import main
from monodepthkit.errors import MdkError
from monodepthkit.tasks.loading import load_task, read_checkpoint

HEIGHT, WIDTH = 64, 96

# --- reference implementation of the released architecture ------------------------------------


class RefResnetEncoder(nn.Module):
    """torchvision ResNet under ``encoder``; ``num_input_images`` frames stacked on channels."""

    def __init__(self, num_layers, num_input_images=1):
        super().__init__()
        self.encoder = {18: torchvision.models.resnet18, 50: torchvision.models.resnet50}[
            num_layers
        ]()
        if num_input_images > 1:
            self.encoder.conv1 = nn.Conv2d(3 * num_input_images, 64, 7, 2, 3, bias=False)
        widths = [64, 64, 128, 256, 512]
        self.num_ch_enc = widths if num_layers < 50 else [64] + [4 * w for w in widths[1:]]

    def forward(self, image):
        r = self.encoder
        x = r.relu(r.bn1(r.conv1((image - 0.45) / 0.225)))
        features = [x, r.layer1(r.maxpool(x))]
        for stage in (r.layer2, r.layer3, r.layer4):
            features.append(stage(features[-1]))
        return features


class RefConv3x3(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv = nn.Conv2d(cin, cout, 3)

    def forward(self, x):
        return self.conv(self.pad(x))


class RefConvBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = RefConv3x3(cin, cout)
        self.nonlin = nn.ELU()

    def forward(self, x):
        return self.nonlin(self.conv(x))


class RefDepthDecoder(nn.Module):
    def __init__(self, num_ch_enc, scales=(0, 1, 2, 3)):
        super().__init__()
        dec = [16, 32, 64, 128, 256]
        self.scales = scales
        self.blocks = OrderedDict()
        for i in (4, 3, 2, 1, 0):
            self.blocks[("up", i, 0)] = RefConvBlock(
                num_ch_enc[-1] if i == 4 else dec[i + 1], dec[i]
            )
            skip = num_ch_enc[i - 1] if i > 0 else 0
            self.blocks[("up", i, 1)] = RefConvBlock(dec[i] + skip, dec[i])
        for s in scales:
            self.blocks[("disp", s)] = RefConv3x3(dec[s], 1)
        self.decoder = nn.ModuleList(self.blocks.values())

    def forward(self, features):
        outputs = {}
        x = features[-1]
        for i in (4, 3, 2, 1, 0):
            x = F.interpolate(self.blocks[("up", i, 0)](x), scale_factor=2, mode="nearest")
            x = torch.cat([x, features[i - 1]] if i > 0 else [x], 1)
            x = self.blocks[("up", i, 1)](x)
            if i in self.scales:
                outputs[i] = torch.sigmoid(self.blocks[("disp", i)](x))
        return outputs


class RefPoseDecoder(nn.Module):
    def __init__(self, num_ch_enc, num_input_features, num_frames_to_predict_for):
        super().__init__()
        self.frames = num_frames_to_predict_for
        self.net = nn.ModuleList(
            [
                nn.Conv2d(num_ch_enc[-1], 256, 1),
                nn.Conv2d(num_input_features * 256, 256, 3, 1, 1),
                nn.Conv2d(256, 256, 3, 1, 1),
                nn.Conv2d(256, 6 * num_frames_to_predict_for, 1),
            ]
        )

    def forward(self, feature_lists):
        x = torch.cat([torch.relu(self.net[0](f[-1])) for f in feature_lists], 1)
        x = torch.relu(self.net[2](torch.relu(self.net[1](x))))
        out = 0.01 * self.net[3](x).mean(3).mean(2).view(-1, self.frames, 1, 6)
        return out[..., :3], out[..., 3:]


class RefPoseCNN(nn.Module):
    def __init__(self):
        super().__init__()
        spec = [(6, 16, 7, 3), (16, 32, 5, 2), (32, 64, 3, 1), (64, 128, 3, 1)]
        spec += [(128, 256, 3, 1), (256, 256, 3, 1), (256, 256, 3, 1)]
        self.net = nn.ModuleList(nn.Conv2d(i, o, k, 2, p) for i, o, k, p in spec)
        self.pose_conv = nn.Conv2d(256, 6, 1)

    def forward(self, x):
        for conv in self.net:
            x = torch.relu(conv(x))
        out = 0.01 * self.pose_conv(x).mean(3).mean(2).view(-1, 1, 1, 6)
        return out[..., :3], out[..., 3:]


def _randomise(module, seed):
    """Random weights with non-trivial batch-norm statistics (so eval mode is tested too)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=generator))
                m.bias.normal_(0, 0.1, generator=generator)
                m.running_mean.normal_(0, 0.1, generator=generator)
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=generator))
            elif isinstance(m, nn.Conv2d) and m.bias is not None:
                m.bias.normal_(0, 0.05, generator=generator)
    return module


def _write_release(folder, num_layers=18, use_stereo=False, pose="separate", seed=0):
    """Save random reference networks in Monodepth2's file layout; return them."""
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    encoder = _randomise(RefResnetEncoder(num_layers), seed)
    decoder = _randomise(RefDepthDecoder(encoder.num_ch_enc), seed + 1)
    encoder_file = encoder.state_dict()
    encoder_file.update(height=HEIGHT, width=WIDTH, use_stereo=use_stereo)
    torch.save(encoder_file, folder / "encoder.pth")
    torch.save(decoder.state_dict(), folder / "depth.pth")
    nets = {"encoder": encoder, "depth": decoder}
    if pose == "separate":
        nets["pose_encoder"] = _randomise(RefResnetEncoder(num_layers, 2), seed + 2)
        nets["pose"] = _randomise(RefPoseDecoder(nets["pose_encoder"].num_ch_enc, 1, 2), seed + 3)
        torch.save(nets["pose_encoder"].state_dict(), folder / "pose_encoder.pth")
    elif pose == "shared":
        nets["pose"] = _randomise(RefPoseDecoder(encoder.num_ch_enc, 2, 1), seed + 3)
    elif pose == "posecnn":
        nets["pose"] = _randomise(RefPoseCNN(), seed + 3)
    if pose is not None:
        torch.save(nets["pose"].state_dict(), folder / "pose.pth")
    return nets


def _reference_pose(nets, kind, image_a, image_b):
    if kind == "separate":
        features = nets["pose_encoder"](torch.cat([image_a, image_b], 1))
        axis_angle, translation = nets["pose"]([features])
    elif kind == "shared":
        axis_angle, translation = nets["pose"]([nets["encoder"](image_a), nets["encoder"](image_b)])
    else:
        axis_angle, translation = nets["pose"](torch.cat([image_a, image_b], 1))
    return axis_angle[:, 0, 0], translation[:, 0, 0]


# --- parity ------------------------------------------------------------------------------------

CASES = [
    pytest.param(18, False, "separate", "mono", id="r18-mono-separate"),
    pytest.param(18, True, "shared", "mono+stereo", id="r18-monostereo-shared"),
    pytest.param(18, False, "posecnn", "mono", id="r18-mono-posecnn"),
    pytest.param(50, True, None, "stereo", id="r50-stereo-depth-only"),
]


@pytest.mark.parametrize("num_layers,use_stereo,pose,mode", CASES)
def test_converted_model_matches_reference(tmp_path, num_layers, use_stereo, pose, mode):
    nets = _write_release(tmp_path / "weights", num_layers, use_stereo, pose)
    out = import_monodepth2(tmp_path / "weights", tmp_path / "model.ckpt")
    task = load_task(out)
    assert task.hparams.mode == mode
    assert task.net.num_layers == num_layers
    generator = torch.Generator().manual_seed(5)
    image = torch.rand(2, 3, HEIGHT, WIDTH, generator=generator)
    other = torch.rand(2, 3, HEIGHT, WIDTH, generator=generator)
    with torch.no_grad():
        # training mode (batch statistics): every scale
        nets["encoder"].train()
        nets["depth"].train()
        task.net.train()
        reference = nets["depth"](nets["encoder"](image))
        converted = task.net(image)
        for scale in range(4):
            key = "disp" if scale == 0 else f"disp_{scale}"
            assert converted[key].shape == reference[scale].shape
            torch.testing.assert_close(converted[key], reference[scale], atol=1e-5, rtol=1e-5)
        # eval mode (running statistics): scale 0 only
        for net in nets.values():
            net.eval()
        task.eval()
        reference = nets["depth"](nets["encoder"](image))[0]
        converted = task.net(image)
        assert set(converted) == {"disp", "depth"}
        torch.testing.assert_close(converted["disp"], reference, atol=1e-5, rtol=1e-5)
        assert reference.std() > 1e-3  # the comparison is not between saturated sigmoids
        # the task's depth: 1 / (1/100 + (1/0.1 - 1/100) disp), times 5.4 for stereo models
        expected_depth = 1.0 / (0.01 + 9.99 * reference) * (1.0 if mode == "mono" else 5.4)
        torch.testing.assert_close(task(image)["depth"], expected_depth, atol=1e-4, rtol=1e-5)
        if pose is None:
            assert task.pose_net is None
            return
        features = (task.net.encode(image), task.net.encode(other))
        axis_angle, translation = task.pose_net(image, other, *features)
        ref_axis_angle, ref_translation = _reference_pose(nets, pose, image, other)
    torch.testing.assert_close(axis_angle, ref_axis_angle, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(translation, ref_translation, atol=1e-5, rtol=1e-5)
    assert ref_translation.abs().max() > 1e-5


def test_checkpoint_records_training_size_and_source(tmp_path):
    _write_release(tmp_path / "weights", pose=None)
    checkpoint = read_checkpoint(import_monodepth2(tmp_path / "weights", tmp_path / "m.ckpt"))
    assert checkpoint["datamodule_hyper_parameters"]["image_size"] == [HEIGHT, WIDTH]
    assert checkpoint["hyper_parameters"]["depth_model_kwargs"] == {
        "num_layers": 18,
        "min_depth": 0.1,
        "max_depth": 100.0,
        "scales": 4,
    }
    assert checkpoint["mdk_import"]["files"] == ["depth.pth", "encoder.pth"]
    from monodepthkit.inference.metadata import checkpoint_facts

    assert tuple(checkpoint_facts(checkpoint)["input_size"]) == (HEIGHT, WIDTH)


def test_cli_convert(tmp_path, capsys):
    _write_release(tmp_path / "weights", pose=None)
    out = tmp_path / "nested" / "model.ckpt"
    argv = ["convert", "monodepth2", "--weights-dir", str(tmp_path / "weights")]
    assert main([*argv, "--out", str(out), "--max-depth", "80"]) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    assert load_task(out).net.max_depth == 80.0
    (tmp_path / "weights" / "depth.pth").unlink()
    assert main([*argv, "--out", str(out)]) == 2
    assert "depth.pth not found" in capsys.readouterr().err


def test_bad_folders_raise(tmp_path):
    weights = tmp_path / "weights"
    _write_release(weights, pose="separate")
    (weights / "pose.pth").unlink()
    with pytest.raises(MdkError, match=r"pose_encoder\.pth exists but"):
        import_monodepth2(weights, tmp_path / "m.ckpt")
    (weights / "pose_encoder.pth").unlink()
    torch.save({"decoder.0.weight": torch.zeros(1)}, weights / "depth.pth")
    with pytest.raises(MdkError, match=r"depth\.pth: unexpected key 'decoder\.0\.weight'"):
        import_monodepth2(weights, tmp_path / "m.ckpt")
    state = torch.load(weights / "encoder.pth")
    del state["height"]
    torch.save(state, weights / "encoder.pth")
    with pytest.raises(MdkError, match="no height"):
        import_monodepth2(weights, tmp_path / "m.ckpt")
    (weights / "encoder.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(MdkError, match="not a readable PyTorch state dict"):
        import_monodepth2(weights, tmp_path / "m.ckpt")


def test_mismatched_shapes_raise(tmp_path):
    weights = tmp_path / "weights"
    _write_release(weights, pose=None)
    state = torch.load(weights / "depth.pth")
    state["decoder.0.conv.conv.weight"] = torch.zeros(256, 100, 3, 3)
    torch.save(state, weights / "depth.pth")
    with pytest.raises(MdkError, match="do not fit"):
        import_monodepth2(weights, tmp_path / "m.ckpt")
