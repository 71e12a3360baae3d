"""PackNet01 and report 4's variants: packing, output contract, skips, heads, gradients."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from monodepthkit.errors import MdkError
from monodepthkit.models import count_parameters, create_model
from monodepthkit.models.packnet import Packing, PackNetOutput, Unpacking

# A small PackNet: stem 16, stages 16-16-32-32-64, 4 3D filters (GroupNorm needs 16 | widths).
SMALL = dict(channels=[16, 16, 16, 32, 32, 64], features_3d=4, max_depth=10.0)
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def small(**kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("packnet", **{**SMALL, **kwargs})


# --- packing and unpacking ---------------------------------------------------------------------


def test_space_to_depth_layout_and_inverse():
    """Packing folds pixel (2y + i, 2x + j) of channel c into channel 4c + 2i + j at (y, x)."""
    x = torch.randn(2, 3, 6, 10)
    folded = F.pixel_unshuffle(x, 2)
    for c, i, j in [(0, 0, 0), (1, 0, 1), (2, 1, 0), (2, 1, 1)]:
        torch.testing.assert_close(folded[:, 4 * c + 2 * i + j], x[:, c, i::2, j::2])
    torch.testing.assert_close(F.pixel_shuffle(folded, 2), x)


@pytest.mark.parametrize("size", [(8, 8), (6, 10), (34, 50), (64, 96)])
def test_packing_then_unpacking_preserves_shapes(size):
    torch.manual_seed(0)
    x = torch.randn(2, 16, *size)
    packed = Packing(16, kernel_size=3, features_3d=4)(x)
    assert packed.shape == (2, 16, size[0] // 2, size[1] // 2)
    unpacked = Unpacking(16, 32, kernel_size=3, features_3d=4)(packed)
    assert unpacked.shape == (2, 32, *size)
    assert torch.isfinite(unpacked).all()


def test_packing_sees_every_pixel():
    """Unlike a strided convolution, packing's output depends on all four pixels of a block."""
    torch.manual_seed(0)
    pack = Packing(16, kernel_size=3, features_3d=4).eval()
    x = torch.randn(1, 16, 8, 8, requires_grad=True)
    pack(x)[0, :, 1, 1].sum().backward()
    assert (x.grad[0, :, 2:4, 2:4].abs().sum(dim=0) > 0).all()


def test_unpacking_channel_constraint_is_an_error():
    with pytest.raises(MdkError, match="features_3d"):
        Unpacking(16, 16, 3, features_3d=8)  # 4 * 16 / 8 = 8 channels: not 16 GroupNorm groups


# --- output contract (C1) ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [(64, 96), (70, 100), (33, 45)])
def test_output_keys_and_shapes(size):
    model = small()
    height, width = size
    image = torch.rand(2, 3, height, width)
    out = model.train()(image)
    assert set(out) == {f"{k}{s}" for k in ("disp", "depth") for s in ("", "_1", "_2", "_3")}
    for scale in range(4):
        suffix = "" if scale == 0 else f"_{scale}"
        expected = (2, 1, math.ceil(height / 2**scale), math.ceil(width / 2**scale))
        assert out["disp" + suffix].shape == expected
        torch.testing.assert_close(
            out["depth" + suffix], 1.0 / out["disp" + suffix].clamp_min(1 / 10.0)
        )
    with torch.no_grad():
        evaluated = model.eval()(image)
    assert set(evaluated) == {"disp", "depth"}
    assert evaluated["depth"].shape == (2, 1, height, width)
    assert (model.min_depth, model.max_depth, model.num_scales) == (0.5, 10.0, 4)


def test_padding_does_not_change_a_divisible_image_and_crops_back():
    """The model pads only when needed: a 64x64 crop of a padded run differs, a 64x64 run not."""
    model = small().eval()
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        direct = model(image)["disp"]
        padded_input = model(image[..., :60, :62])["disp"]
    assert padded_input.shape == (1, 1, 60, 62)
    assert not torch.allclose(padded_input, direct[..., :60, :62])
    assert torch.equal(model(image)["disp"], direct)


def test_sizes_not_divisible_by_32_raise_without_padding():
    model = small(pad=False)
    with pytest.raises(MdkError, match=r"70x100 is not a multiple of 32"):
        model(torch.rand(1, 3, 70, 100))


def test_eval_output_is_deterministic_and_dropout_acts_in_training():
    model = small(dropout=0.5)
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.eval()(image)["disp"], model(image)["disp"])
        model.train()
        assert not torch.equal(model(image)["disp"], model(image)["disp"])


# --- variants ----------------------------------------------------------------------------------


def _decoder_inputs(model, image):
    """Inputs of fuse5 and fuse3, outputs of unpack5/unpack3/pack4/pack2 and head 3's disp."""
    seen = {}

    def keep(name, inputs=False):
        def hook(module, args, output):
            seen[name] = args[0] if inputs else output

        return hook

    handles = [
        model.fuse5.register_forward_hook(keep("fuse5_in", inputs=True)),
        model.fuse3.register_forward_hook(keep("fuse3_in", inputs=True)),
        model.unpack5.register_forward_hook(keep("unpack5")),
        model.unpack3.register_forward_hook(keep("unpack3")),
        model.pack4.register_forward_hook(keep("pack4")),
        model.pack2.register_forward_hook(keep("pack2")),
    ]
    with torch.no_grad():
        out = model.train()(image)
    for handle in handles:
        handle.remove()
    return seen, out


@pytest.mark.parametrize("version", ["A", "B", "C"])
def test_skips_are_concatenated_added_or_absent(version):
    seen, out = _decoder_inputs(small(version=version), torch.rand(1, 3, 64, 64))
    coarser = F.interpolate(out["disp_3"], scale_factor=2.0, mode="nearest")
    if version == "A":
        fuse5 = torch.cat((seen["unpack5"], seen["pack4"]), 1)
        fuse3 = torch.cat((seen["unpack3"], seen["pack2"], coarser), 1)
    elif version == "B":
        fuse5 = seen["unpack5"] + seen["pack4"]
        fuse3 = torch.cat((seen["unpack3"] + seen["pack2"], coarser), 1)
    else:  # no encoder tensor reaches the decoder
        fuse5 = seen["unpack5"]
        fuse3 = torch.cat((seen["unpack3"], coarser), 1)
    torch.testing.assert_close(seen["fuse5_in"], fuse5)
    torch.testing.assert_close(seen["fuse3_in"], fuse3)


def test_decoder_input_channels_of_each_version():
    stem, *stages = SMALL["channels"]
    widths = [stem, *stages]  # widths[l]: encoder level l; the level-l skip has widths[l - 1]
    models = {version: small(version=version) for version in "ABC"}
    for level in range(1, 6):
        extra = 1 if level <= 3 else 0  # the upsampled coarser prediction
        concat = widths[level] + widths[level - 1] + extra
        added = widths[level - 1] + extra
        assert getattr(models["A"], f"fuse{level}").conv.in_channels == concat
        assert getattr(models["B"], f"fuse{level}").conv.in_channels == added
        assert getattr(models["C"], f"fuse{level}").conv.in_channels == added
    # C has B's layout (same parameters), only the skips are cut.
    assert count_parameters(models["B"]) == count_parameters(models["C"])
    assert count_parameters(models["A"]) > count_parameters(models["B"])


@pytest.mark.parametrize(
    "options",
    [
        dict(version="A"),
        dict(version="B", activation="leaky_relu"),
        dict(version="C", inverse_depth=False),
        dict(version="B", output_scale=1),
    ],
    ids=["A", "B-leaky", "C-direct", "B-scale1"],
)
def test_every_parameter_gets_a_gradient(options):
    model = small(**options).train()
    out = model(torch.rand(2, 3, 64, 64))
    loss = sum(value.log().mean() for value in out.values())
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_output_scale_stops_the_decoder_and_upsamples():
    model = small(output_scale=1)
    names = {name.split(".")[0] for name, _ in model.named_parameters()}
    assert {"unpack1", "fuse1"}.isdisjoint(names) and "unpack2" in names
    assert not any(name.startswith("heads.0.") for name, _ in model.named_parameters())
    out = model.train()(torch.rand(1, 3, 64, 96))
    upsampled = F.interpolate(out["disp_1"], size=(64, 96), mode="bilinear", align_corners=False)
    torch.testing.assert_close(out["disp"], upsampled)
    torch.testing.assert_close(out["depth"], 1.0 / upsampled.clamp_min(0.1))
    direct = small(output_scale=2, inverse_depth=False).train()(torch.rand(1, 3, 64, 96))
    upsampled = F.interpolate(direct["depth_2"], size=(32, 48), mode="bilinear")
    torch.testing.assert_close(direct["depth_1"], upsampled)
    torch.testing.assert_close(direct["disp_1"], 1.0 / upsampled)


# --- output heads ------------------------------------------------------------------------------


def test_head_formulas():
    logits = torch.tensor([-30.0, -2.0, 0.0, 1.0, 30.0])
    sig = torch.sigmoid(logits)
    value, disp, depth = PackNetOutput(0.5, 10.0, "sigmoid", True)(logits)
    torch.testing.assert_close(disp, sig / 0.5)  # the paper: sigmoid / min_depth
    torch.testing.assert_close(value, disp)
    torch.testing.assert_close(depth, 1.0 / torch.maximum(sig / 0.5, torch.tensor(0.1)))
    assert depth[0] == 10.0 and float(depth[2]) == pytest.approx(1.0)

    leaky = torch.where(logits > 0, logits, 0.01 * logits)
    _, disp, depth = PackNetOutput(0.5, 10.0, "leaky_relu", True)(logits)
    torch.testing.assert_close(disp, leaky / 0.5)
    assert float(depth[3]) == pytest.approx(0.5) and float(depth[1]) == 10.0

    value, disp, depth = PackNetOutput(0.5, 10.0, "sigmoid", False)(logits)
    torch.testing.assert_close(depth, torch.clamp(10.0 * sig, min=0.5))
    torch.testing.assert_close(value, depth)
    torch.testing.assert_close(disp, 1.0 / depth)
    assert float(depth[2]) == pytest.approx(5.0)

    _, _, depth = PackNetOutput(0.5, 10.0, "leaky_relu", False)(logits)
    assert float(depth[3]) == pytest.approx(10.0) and float(depth[1]) == 0.5


def test_direct_depth_variant_feeds_depth_to_the_decoder():
    model = small(inverse_depth=False).train()
    out = model(torch.rand(1, 3, 64, 64))
    for key in ("depth", "depth_1", "depth_2", "depth_3"):
        assert float(out[key].min()) >= 0.5 and float(out[key].max()) <= 10.0
    torch.testing.assert_close(out["disp"], 1.0 / out["depth"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(version="D"), "version must be one of A, B, C"),
        (dict(activation="relu"), "activation must be one of sigmoid, leaky_relu"),
        (dict(min_depth=5.0, max_depth=1.0), "0 < min_depth < max_depth"),
        (dict(output_scale=4), "output_scale must be 0, 1, 2 or 3"),
        (dict(channels=[16, 16, 16, 32, 40, 64]), "multiples of 16"),
        (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
    ],
)
def test_invalid_options(options, message):
    with pytest.raises(MdkError, match=message):
        create_model("packnet", **{**SMALL, **options})


# --- sizes of the paper's and report 4's networks ----------------------------------------------


def test_parameter_counts_of_the_paper_and_report_4():
    """PackNet01 (version A) has the paper's 128.29 M parameters; report 4's network 72 M."""
    paper = create_model("packnet")
    assert count_parameters(paper) == 128_294_020
    with torch.no_grad():
        out = paper.eval()(torch.rand(1, 3, 32, 64))
    assert out["depth"].shape == (1, 1, 32, 64) and torch.isfinite(out["depth"]).all()
    del paper
    report4 = create_model(
        "packnet", version="B", channels=[32, 32, 64, 128, 256, 512], features_3d=4, output_scale=1
    )
    assert round(count_parameters(report4) / 1e6) == 72


class _DepthOnly(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(image)["depth"]


def test_traceable_in_eval_mode():
    model = _DepthOnly(small()).eval()
    image = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        traced = torch.jit.trace(model, image)
        torch.testing.assert_close(traced(image), model(image))
        torch.testing.assert_close(traced(image.flip(-1)), model(image.flip(-1)))


# --- report 4 variant configs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "changed"),
    [
        ("leaky_relu.yaml", {"activation": "leaky_relu"}),
        ("direct_depth.yaml", {"inverse_depth": False}),
    ],
)
def test_report4_override_configs(override, changed, monkeypatch):
    """The variant files change one option of the report's base PackNet (version B)."""
    import yaml

    from monodepthkit.training import run_lightning_cli

    monkeypatch.setattr(sys, "argv", ["mdk"])
    report4 = CONFIGS / "report4"
    packnet_b = yaml.safe_load((report4 / "packnet_B.yaml").read_text())["model"]["init_args"]
    args = ["--config", str(report4 / "base.yaml"), "--config", str(report4 / override)]
    cli = run_lightning_cli(args, run=False)
    expected = {**packnet_b["model_kwargs"], **changed}
    assert cli.model.hparams.model_kwargs == expected


# --- as the depth network of the self-supervised task -------------------------------------------


def test_one_self_supervised_training_step_updates_packnet(tiny_world):
    """SelfSupervisedTask (mono, Monodepth2 losses) trains PackNet on 128x48 frames (padded)."""
    from torch.utils.data import DataLoader

    from monodepthkit.data.folder import FolderDataset
    from monodepthkit.tasks import SelfSupervisedTask

    dataset = FolderDataset(tiny_world, "all", frame_offsets=(-1, 1), require_depth=True)
    batch = next(iter(DataLoader(dataset, batch_size=2)))
    torch.manual_seed(0)
    task = SelfSupervisedTask(
        depth_model="packnet",
        depth_model_kwargs=SMALL,
        pose_model_kwargs={"num_layers": 18, "pretrained": False},
        mode="mono",
    ).train()
    before = {name: p.detach().clone() for name, p in task.net.named_parameters()}
    loss, _, outputs = task.model_step(batch)
    assert torch.isfinite(loss) and loss > 0
    assert outputs["depth"].shape == (2, 1, 48, 128) and outputs["disp_3"].shape == (2, 1, 6, 16)
    optimizer = torch.optim.Adam(task.parameters(), lr=1e-3)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    changed = [name for name, p in task.net.named_parameters() if not torch.equal(before[name], p)]
    assert len(changed) == len(before)
    with torch.no_grad():
        prediction = task.eval()(batch["image"])
    assert prediction["depth"].shape == (2, 1, 48, 128)


def test_output_scale_without_upsampling_keeps_the_half_resolution():
    """Report 4: the decoder stops at scale 1 and nothing is upsampled."""
    upsampled = small(output_scale=1)
    half = small(output_scale=1, upsample_output=False)
    half.load_state_dict(upsampled.state_dict())  # same weights: the option builds no layer
    image = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        out = half.eval()(image)
        reference = upsampled.eval()(image)
    assert out["depth"].shape == (2, 1, 32, 48)
    # The upsampled model's full-resolution disparity is this one, bilinearly upsampled.
    expected = F.interpolate(out["disp"], scale_factor=2.0, mode="bilinear", align_corners=False)
    torch.testing.assert_close(reference["disp"], expected)
    trained = half.train()(image)
    assert trained["depth"].shape == (2, 1, 32, 48)
    assert trained["depth_2"].shape == (2, 1, 16, 24)
