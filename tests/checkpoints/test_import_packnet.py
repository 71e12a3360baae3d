"""Importing packnet-sfm checkpoints: the converted model equals the original network.

The original network is re-implemented below, independently of `monodepthkit.models.packnet`,
with packnet-sfm's module names so that its state-dict keys are the official ones. Random
weights in that layout are saved as a packnet-sfm ``.ckpt`` (config tree pickled as a yacs
``CfgNode``, the training wrapper's ``model.depth_net.`` / ``model.pose_net.`` prefixes,
optimizer and scheduler states), converted, loaded with `load_task` and compared.
"""

from __future__ import annotations

import sys
import types

import pytest
import torch
from torch import nn

from monodepthkit.checkpoints.packnet import convert_packnet, read_packnet_checkpoint
from monodepthkit.errors import MdkError
from monodepthkit.tasks import load_task
from monodepthkit.tasks.loading import TASK_KEY

# --- reference PackNet01 with packnet-sfm's names ----------------------------------------------


class Conv2D(nn.Module):
    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__()
        self.pad = nn.ConstantPad2d(k // 2, 0.0)
        self.conv_base = nn.Conv2d(cin, cout, k)
        self.normalize = nn.GroupNorm(16, cout)

    def forward(self, x):
        return nn.functional.elu(self.normalize(self.conv_base(self.pad(x))))


class ResidualConv(nn.Module):
    def __init__(self, cin: int, cout: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = Conv2D(cin, cout, 3)
        self.conv2 = Conv2D(cout, cout, 3)
        shortcut = nn.Conv2d(cin, cout, 1)
        self.conv3 = nn.Sequential(shortcut, nn.Dropout2d(dropout)) if dropout else shortcut
        self.normalize = nn.GroupNorm(16, cout)

    def forward(self, x):
        return nn.functional.elu(self.normalize(self.conv2(self.conv1(x)) + self.conv3(x)))


def fold(x, r: int = 2):
    """Space-to-depth written out: channel c*r*r + i*r + j holds pixel (r*y + i, r*x + j)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // r, r, w // r, r).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, c * r * r, h // r, w // r)


def unfold(x, r: int = 2):
    """Depth-to-space, the inverse of `fold`."""
    b, c, h, w = x.shape
    x = x.reshape(b, c // (r * r), r, r, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c // (r * r), h * r, w * r)


class PackLayerConv3d(nn.Module):
    def __init__(self, n: int, k: int, d: int) -> None:
        super().__init__()
        self.conv = Conv2D(4 * n * d, n, k)
        self.conv3d = nn.Conv3d(1, d, 3, padding=1)

    def forward(self, x):
        x = self.conv3d(fold(x)[:, None])
        return self.conv(x.reshape(x.shape[0], -1, *x.shape[-2:]))


class UnpackLayerConv3d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, d: int) -> None:
        super().__init__()
        self.conv = Conv2D(cin, cout * 4 // d, k)
        self.conv3d = nn.Conv3d(1, d, 3, padding=1)

    def forward(self, x):
        x = self.conv3d(self.conv(x)[:, None])
        return unfold(x.reshape(x.shape[0], -1, *x.shape[-2:]))


class InvDepth(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, 1, 3)

    def forward(self, x):
        return torch.sigmoid(self.conv1(nn.functional.pad(x, (1, 1, 1, 1)))) / 0.5


class ReferencePackNet01(nn.Module):
    """packnet-sfm's PackNet01/PackNetSlim01 (``version`` A or B) for arbitrary widths."""

    def __init__(self, version: str, widths, d: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.version = version
        ni, n1, n2, n3, n4, n5 = widths
        if version == "A":
            outs = [n1, n2, n3, n4, n5]
            ins = [n1 + ni + 1, n2 + n1 + 1, n3 + n2 + 1, n4 + n3, n5 + n4]
        else:
            outs = [n1, n2, n3 // 2, n4 // 2, n5 // 2]
            ins = [outs[0] + 1, outs[1] + 1, outs[2] + 1, outs[3], outs[4]]
        self.pre_calc = Conv2D(3, ni, 5)
        self.conv1 = Conv2D(ni, n1, 7)
        for i, (cin, cout, blocks) in enumerate(
            [(n1, n2, 2), (n2, n3, 2), (n3, n4, 3), (n4, n5, 3)], start=2
        ):
            units = [ResidualConv(cin if j == 0 else cout, cout, dropout) for j in range(blocks)]
            setattr(self, f"conv{i}", nn.Sequential(*units))
        for i, (n, k) in enumerate([(n1, 5), (n2, 3), (n3, 3), (n4, 3), (n5, 3)], start=1):
            setattr(self, f"pack{i}", PackLayerConv3d(n, k, d))
        unpack_in = [n2, n3, n4, n5, n5]
        stage_out = [n1, n2, n3, n4, n5]
        for i in range(1, 6):
            setattr(self, f"unpack{i}", UnpackLayerConv3d(unpack_in[i - 1], outs[i - 1], 3, d))
            setattr(self, f"iconv{i}", Conv2D(ins[i - 1], stage_out[i - 1], 3))
        for i, n in enumerate([n1, n2, n3, n4], start=1):
            setattr(self, f"disp{i}_layer", InvDepth(n))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d)):
                nn.init.normal_(m.weight, std=0.05)
                nn.init.normal_(m.bias, std=0.05)
            if isinstance(m, nn.GroupNorm):
                nn.init.normal_(m.weight, 1.0, 0.2)
                nn.init.normal_(m.bias, std=0.2)

    def forward(self, rgb):
        x = self.pre_calc(rgb)
        x1p = self.pack1(self.conv1(x))
        x2p = self.pack2(self.conv2(x1p))
        x3p = self.pack3(self.conv3(x2p))
        x4p = self.pack4(self.conv4(x3p))
        x5p = self.pack5(self.conv5(x4p))
        skips = {1: x, 2: x1p, 3: x2p, 4: x3p, 5: x4p}
        feature, disps = x5p, {}
        for i in range(5, 0, -1):
            up = getattr(self, f"unpack{i}")(feature)
            merged = torch.cat((up, skips[i]), 1) if self.version == "A" else up + skips[i]
            if i <= 3:
                merged = torch.cat(
                    (merged, nn.functional.interpolate(disps[i + 1], scale_factor=2)), 1
                )
            feature = getattr(self, f"iconv{i}")(merged)
            if i <= 4:
                disps[i] = getattr(self, f"disp{i}_layer")(feature)
        if self.training:
            return {"inv_depths": [disps[1], disps[2], disps[3], disps[4]]}
        return {"inv_depths": disps[1]}


# --- saving in packnet-sfm's format ------------------------------------------------------------


def save_packnet_sfm_ckpt(
    path, net, name, version, monkeypatch, dropout=0.0, prefix="model.depth_net."
):
    """Write ``net`` as packnet-sfm's ModelCheckpoint does (config as a yacs CfgNode)."""

    class CfgNode(dict):
        def __init__(self, init=None):
            super().__init__(init or {})
            self.__dict__["__immutable__"] = False
            self.__dict__["__deprecated_keys__"] = set()

    CfgNode.__module__, CfgNode.__qualname__ = "yacs.config", "CfgNode"
    yacs, yacs_config = types.ModuleType("yacs"), types.ModuleType("yacs.config")
    yacs_config.CfgNode = CfgNode
    monkeypatch.setitem(sys.modules, "yacs", yacs)
    monkeypatch.setitem(sys.modules, "yacs.config", yacs_config)
    config = CfgNode(
        {
            "name": "test",
            "model": CfgNode(
                {
                    "name": "SelfSupModel",
                    "depth_net": CfgNode(
                        {
                            "name": name,
                            "version": f"1{version}",
                            "dropout": dropout,
                            "checkpoint_path": "",
                        }
                    ),
                    "pose_net": CfgNode({"name": "PoseNet", "version": "", "dropout": 0.0}),
                    "params": CfgNode({"crop": "garg", "min_depth": 0.0, "max_depth": 80.0}),
                }
            ),
        }
    )
    state = {prefix + k: v for k, v in net.state_dict().items()}
    state["model.pose_net.conv1.0.weight"] = torch.randn(16, 9, 7, 7)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-4)
    torch.save(
        {
            "config": config,
            "epoch": 3,
            "state_dict": state,
            "optimizer": optimizer.state_dict(),
            "scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 30, 0.5).state_dict(),
        },
        path,
    )
    # The converter must not need yacs.
    monkeypatch.delitem(sys.modules, "yacs.config")
    monkeypatch.delitem(sys.modules, "yacs")


CASES = {
    # (packnet-sfm network name, version, widths ni n1..n5, 3D filters, dropout)
    "packnet01-A-dropout": ("PackNet01", "A", (32, 32, 32, 64, 64, 128), 8, 0.5),
    "slim-B": ("PackNetSlim01", "B", (16, 16, 16, 32, 64, 128), 4, 0.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_converted_checkpoint_equals_the_original_network(case, tmp_path, monkeypatch):
    name, version, widths, d, dropout = CASES[case]
    torch.manual_seed(0)
    reference = ReferencePackNet01(version, widths, d, dropout)
    source, target = tmp_path / "packnet.ckpt", tmp_path / "converted.ckpt"
    save_packnet_sfm_ckpt(source, reference, name, version, monkeypatch, dropout)
    assert "yacs" not in sys.modules

    convert_packnet(source, target)
    contents = torch.load(target, weights_only=False)
    assert set(contents) >= {
        "state_dict",
        "hyper_parameters",
        TASK_KEY,
        "pytorch-lightning_version",
    }
    kwargs = contents["hyper_parameters"]["model_kwargs"]
    assert (kwargs["version"], kwargs["channels"], kwargs["features_3d"]) == (
        version,
        list(widths),
        d,
    )
    assert kwargs["max_depth"] == 80.0 and contents["hyper_parameters"]["eval_protocol"] == "kitti"
    task = load_task(target)
    assert sum(p.numel() for p in task.net.parameters()) == sum(
        p.numel() for p in reference.parameters()
    )

    image = torch.rand(1, 3, 64, 64)
    reference.eval()
    with torch.no_grad():
        expected = reference(image)["inv_depths"]
        out = task(image)
    assert set(out) == {"disp", "depth"}
    torch.testing.assert_close(out["disp"], expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        out["depth"], 1.0 / expected.clamp_min(1 / 80.0), rtol=1e-5, atol=1e-5
    )

    # Training mode (dropout off for comparability): all four scales match.
    reference.train()
    task.net.train()
    for module in [*reference.modules(), *task.net.modules()]:
        if isinstance(module, nn.Dropout2d):
            module.eval()
    with torch.no_grad():
        expected = reference(image)["inv_depths"]
        out = task.net(image)
    for scale in range(4):
        key = "disp" if scale == 0 else f"disp_{scale}"
        torch.testing.assert_close(out[key], expected[scale], rtol=1e-5, atol=1e-5)


def test_old_pth_tar_layout_without_config(tmp_path, monkeypatch):
    """packnet-sfm's older files: depth weights under ``disp_network.`` and no config."""
    torch.manual_seed(1)
    reference = ReferencePackNet01("A", (32, 32, 32, 64, 64, 128), 4).eval()
    state = {f"disp_network.{k}": v for k, v in reference.state_dict().items()}
    torch.save({"state_dict": state}, tmp_path / "old.pth.tar")
    convert_packnet(tmp_path / "old.pth.tar", tmp_path / "out.ckpt")
    task = load_task(tmp_path / "out.ckpt")
    assert task.hparams.eval_protocol == "none" and task.net.max_depth == 100.0
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            task(image)["disp"], reference(image)["inv_depths"], rtol=1e-5, atol=1e-5
        )


def test_checkpoint_code_is_never_run(tmp_path):
    """A pickled object whose reconstruction would run code stays an inert placeholder."""

    class Exploit:
        def __reduce__(self):
            return (print, ("this must not run",))

    torch.save({"state_dict": {"x": torch.zeros(1)}, "extra": Exploit()}, tmp_path / "bad.ckpt")
    contents = read_packnet_checkpoint(tmp_path / "bad.ckpt")
    assert type(contents["extra"]).__module__ == "opaque.builtins"
    assert contents["extra"].args == ("this must not run",)


def test_errors_name_the_file_and_the_problem(tmp_path, monkeypatch):
    with pytest.raises(MdkError, match="not found"):
        convert_packnet(tmp_path / "missing.ckpt", tmp_path / "out.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(MdkError, match=r"junk\.ckpt: not a readable"):
        convert_packnet(tmp_path / "junk.ckpt", tmp_path / "out.ckpt")
    torch.save(
        {"state_dict": {"model.depth_net.encoder.weight": torch.zeros(1)}}, tmp_path / "resnet.ckpt"
    )
    with pytest.raises(MdkError, match="no PackNet depth network"):
        convert_packnet(tmp_path / "resnet.ckpt", tmp_path / "out.ckpt")
    # The config names a version that the weights do not have.
    reference = ReferencePackNet01("A", (32, 32, 32, 64, 64, 128), 4)
    save_packnet_sfm_ckpt(tmp_path / "lying.ckpt", reference, "PackNetSlim01", "B", monkeypatch)
    with pytest.raises(MdkError, match="version '1B' but the weights are version A"):
        convert_packnet(tmp_path / "lying.ckpt", tmp_path / "out.ckpt")
    save_packnet_sfm_ckpt(tmp_path / "resnet_cfg.ckpt", reference, "DepthResNet", "A", monkeypatch)
    with pytest.raises(MdkError, match="'DepthResNet' is not supported"):
        convert_packnet(tmp_path / "resnet_cfg.ckpt", tmp_path / "out.ckpt")


def test_mdk_convert_packnet_command(tmp_path, monkeypatch, capsys):
    from monodepthkit.cli import main

    torch.manual_seed(2)
    reference = ReferencePackNet01("B", (16, 16, 16, 32, 64, 128), 4).eval()
    save_packnet_sfm_ckpt(tmp_path / "in.ckpt", reference, "PackNetSlim01", "B", monkeypatch)
    args = ["convert", "packnet", "--ckpt", str(tmp_path / "in.ckpt")]
    args += ["--out", str(tmp_path / "out.ckpt"), "--max-depth", "50"]
    assert main(args) == 0
    assert "wrote" in capsys.readouterr().out
    task = load_task(tmp_path / "out.ckpt")
    assert task.net.max_depth == 50.0 and task.net.version == "B"
    image = torch.rand(1, 3, 32, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            task(image)["disp"], reference(image)["inv_depths"], rtol=1e-5, atol=1e-5
        )
    assert main(["convert", "packnet", "--ckpt", str(tmp_path / "no.ckpt"), "--out", "x"]) == 2
    assert "no.ckpt: checkpoint not found" in capsys.readouterr().err
