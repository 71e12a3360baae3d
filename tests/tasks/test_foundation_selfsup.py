"""A foundation model as SelfSupervisedTask's depth network: single scale, bounded depth."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from monodepthkit.data.folder import FolderDataset
from monodepthkit.errors import InputError, MdkError
from monodepthkit.models import create_model
from monodepthkit.tasks import SelfSupervisedTask

pytest.importorskip("transformers")

POSE = {"num_layers": 18, "pretrained": False}
ADAPT = {"variant": "tiny", "depth_range": [0.1, 100.0]}
# Parameters Depth Anything's forward pass never uses (tests/models/test_foundation.py: UNUSED).
UNUSED = ("embeddings.mask_token", "fusion_stage.layers.0.residual_layer1.")


@pytest.fixture(scope="module")
def batch(tiny_world) -> dict:
    dataset = FolderDataset(tiny_world, "all", frame_offsets=(-1, 1), stereo=True)
    return next(iter(DataLoader(dataset, batch_size=2)))


def _task(mode: str = "mono", depth_kwargs: dict | None = None, **kwargs) -> SelfSupervisedTask:
    torch.manual_seed(0)
    task = SelfSupervisedTask(
        depth_model="depth_anything_v2",
        depth_model_kwargs=depth_kwargs or ADAPT,
        pose_model_kwargs=POSE,
        mode=mode,
        **kwargs,
    )
    return task.train()


@pytest.mark.parametrize("mode", ["mono", "stereo"])
def test_one_scale_trains_and_every_depth_parameter_gets_a_gradient(mode, batch):
    task = _task(mode)
    assert task.num_scales == 1 and task.predicts_disparity
    # Random weights: the raw output is the logit, no calibration (models/foundation.py).
    assert bool(task.net.calibrated) and float(task.net.raw_spread) == 1.0
    assert isinstance(task.net.model.head.activation2, nn.Identity)  # the final ReLU is gone
    loss, terms, outputs = task.model_step(batch)
    assert set(outputs) == {"depth", "disp"}  # scale 0 only, at the input's size
    assert outputs["depth"].shape == (2, 1, 48, 128)
    depth = outputs["depth"].detach()
    assert float(depth.min()) >= 0.1 - 1e-6 and float(depth.max()) <= 100.0 + 1e-3
    assert torch.isfinite(loss) and float(terms["photometric"]) > 0
    loss.backward()
    missing = [
        name
        for name, parameter in task.net.named_parameters()
        if parameter.requires_grad
        and not any(part in name for part in UNUSED)
        and (parameter.grad is None or not torch.isfinite(parameter.grad).all())
    ]
    assert not missing, missing
    assert float(task.net.log_scale.grad.abs()) > 0 and float(task.net.shift.grad.abs()) > 0
    assert float(task.net.raw_centre) == 0.0 and float(task.net.raw_spread) == 1.0


def test_published_weights_are_calibrated_on_the_first_training_batch(batch, tmp_path):
    random = create_model("depth_anything_v2", variant="tiny")
    random.model.save_pretrained(tmp_path / "weights")  # the Hub layout, loaded as published
    task = _task("mono", {**ADAPT, "checkpoint": str(tmp_path / "weights")})
    assert not bool(task.net.calibrated)
    task.model_step(batch)
    assert bool(task.net.calibrated) and float(task.net.raw_spread) != 1.0
    assert isinstance(task.net.model.head.activation2, nn.Identity)


def test_random_weights_do_not_saturate_the_sigmoid(batch):
    """The stall this guards against (measured on DA-V2 small): a mapping calibrated on the
    first batch of a random network saturated within a few steps, a constant depth after."""
    task = _task("stereo")
    optimizer = torch.optim.Adam(task.parameters(), lr=1e-4)
    for _ in range(10):
        loss = task.model_step(batch)[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        disp = task.eval()(batch["image"])["disp"]
    inside = float(((disp > 0.05) & (disp < 0.95)).float().mean())
    assert inside > 0.9, inside
    assert float(disp.std()) > 1e-4  # not a constant


def test_a_few_steps_lower_the_photometric_loss(batch):
    task = _task("mono")
    optimizer = torch.optim.Adam(task.parameters(), lr=1e-4)
    photometric = []
    for _ in range(6):
        torch.manual_seed(1)  # the same auto-mask tie-break noise every step
        loss, terms, _ = task.model_step(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        photometric.append(float(terms["photometric"]))
    # measured: 0.146 -> 0.068 in six steps (tiny random network, two samples)
    assert photometric[-1] < 0.8 * photometric[0], photometric


def test_the_bounded_mapping_is_the_documented_monotone_sigmoid():
    torch.manual_seed(0)
    net = create_model("depth_anything_v2", **ADAPT)
    raw = torch.linspace(0.0, 5.0, 101, dtype=torch.float32).view(1, 1, 1, 101)
    net.calibrate(raw)
    low, high = torch.quantile(raw.flatten(), torch.tensor([0.02, 0.98]))
    assert float(net.raw_centre) == pytest.approx(float(low + high) / 2)
    assert float(net.raw_spread) == pytest.approx(float(high - low) / 6)
    out = net._bounded(raw)
    expected_disp = torch.sigmoid((raw - net.raw_centre) / net.raw_spread)  # log_scale = shift = 0
    torch.testing.assert_close(out["disp"], expected_disp)
    torch.testing.assert_close(out["depth"], 1 / (0.01 + (10 - 0.01) * expected_disp))
    # The percentiles map to logits -3 and +3; larger raw disparity stays nearer.
    assert float((low - net.raw_centre) / net.raw_spread) == pytest.approx(-3.0)
    assert float((high - net.raw_centre) / net.raw_spread) == pytest.approx(3.0)
    assert (out["depth"].diff(dim=-1) < 0).all()


def test_an_affine_invariant_net_is_refused_and_a_metric_one_needs_no_range(batch):
    with pytest.raises(MdkError, match="depth_range"):
        _task("mono", {"variant": "tiny"})
    with pytest.raises(InputError, match="relative variants"):
        create_model("depth_anything_v2", variant="metric_indoor_tiny", depth_range=[0.1, 10])
    task = _task("stereo", {"variant": "metric_indoor_tiny"}, stereo_baseline=None)
    assert task.is_metric and not task.predicts_disparity
    loss, _, outputs = task.model_step(batch)
    loss.backward()
    assert torch.isfinite(loss) and float(outputs["depth"].detach().min()) > 0
