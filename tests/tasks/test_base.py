"""DepthTask: one base for the three tasks, one name for the depth network, old checkpoints."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from monodepthkit.errors import MdkError
from monodepthkit.models.outputs import model_is_metric, model_predicts_disparity
from monodepthkit.tasks import (
    AdversarialTask,
    DistillationTask,
    SelfSupervisedTask,
    SupervisedTask,
    load_task,
)
from monodepthkit.tasks.base import DepthTask
from monodepthkit.tasks.loading import TASK_KEY, task_class_path

SMALL = {"num_layers": 18, "pretrained": False}
UNET = {"model": "unet", "model_kwargs": {"width": 4, "depth": 2}}


def _self_supervised(mode: str = "mono") -> SelfSupervisedTask:
    torch.manual_seed(0)
    return SelfSupervisedTask(depth_model_kwargs=SMALL, pose_model_kwargs=SMALL, mode=mode).eval()


def _old_style(state_dict: dict) -> dict:
    """A state dict as the self-supervised task wrote it before: depth network ``depth_net``."""
    return {
        ("depth_" + key if key.startswith("net.") else key): value
        for key, value in state_dict.items()
    }


@pytest.mark.parametrize(
    "task",
    [
        SupervisedTask(**UNET),
        AdversarialTask(**UNET),
        _self_supervised(),
    ],
    ids=["supervised", "adversarial", "self_supervised"],
)
def test_every_task_is_a_depth_task_with_its_network_under_net(task):
    assert isinstance(task, DepthTask)
    assert isinstance(task.net, torch.nn.Module)
    assert any(key.startswith("net.") for key in task.state_dict())
    assert not any(key.startswith("depth_net.") for key in task.state_dict())
    # The shared steps are the base's, not copies.
    for name in ("validation_step", "test_step", "predict_step", "_evaluate"):
        assert getattr(type(task), name) is getattr(DepthTask, name)


def test_metric_and_disparity_facts_are_declared_by_every_task():
    supervised, mono = SupervisedTask(**UNET), _self_supervised()
    stereo = _self_supervised("stereo")
    assert (supervised.is_metric, supervised.predicts_disparity) == (True, False)
    assert (mono.is_metric, mono.predicts_disparity) == (False, True)
    assert (stereo.is_metric, stereo.predicts_disparity) == (True, True)
    # A bare network declares nothing: metric depth, resized as depth.
    bare = torch.nn.Identity()
    assert model_is_metric(bare) and not model_predicts_disparity(bare)
    assert not model_is_metric(mono) and model_predicts_disparity(mono)


def test_an_old_depth_net_checkpoint_loads_with_the_same_weights(tmp_path):
    task = _self_supervised()
    old = _old_style(task.state_dict())
    assert any(key.startswith("depth_net.encoder.") for key in old)
    path = tmp_path / "old.ckpt"
    torch.save(
        {
            "state_dict": old,
            "hyper_parameters": dict(task.hparams),
            TASK_KEY: task_class_path(task),
            "pytorch-lightning_version": L.__version__,
        },
        path,
    )
    loaded = load_task(path)
    for key, value in task.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    image = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(loaded(image)["depth"], task(image)["depth"], rtol=0, atol=0)


def test_the_rename_is_strict_and_keeps_module_versions():
    task = _self_supervised()
    state = task.state_dict()
    old = type(state)(_old_style(state))
    old._metadata = type(state._metadata)(
        (("depth_" + key if key == "net" or key.startswith("net.") else key), value)
        for key, value in state._metadata.items()
    )
    fresh = _self_supervised()
    torch.nn.init.zeros_(fresh.net.encoder.conv1.weight)
    result = fresh.load_state_dict(old, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(fresh.net.encoder.conv1.weight, task.net.encoder.conv1.weight)


def test_the_rename_applies_under_a_parent_module():
    """E.g. a model folder's wrapper holds the task as ``task.``."""
    task = _self_supervised()
    old = {f"task.{key}": value for key, value in _old_style(task.state_dict()).items()}
    fresh = _self_supervised()
    torch.nn.init.zeros_(fresh.net.encoder.conv1.weight)
    result = torch.nn.ModuleDict({"task": fresh}).load_state_dict(old, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(fresh.net.encoder.conv1.weight, task.net.encoder.conv1.weight)


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda align: SupervisedTask(**UNET, eval_align=align), "SupervisedTask"),
        (
            lambda align: SelfSupervisedTask(
                depth_model_kwargs=SMALL, mode="stereo", eval_align=align
            ),
            "SelfSupervisedTask",
        ),
        (
            lambda align: DistillationTask(**UNET, eval_align=align),
            "DistillationTask",
        ),
    ],
)
def test_every_task_checks_eval_align_and_defaults_to_mdk_evals_choice(build, name):
    with pytest.raises(MdkError, match=rf"^{name}: eval_align must be one of .*'bogus'"):
        build("bogus")
    task = build(None)
    assert task.eval_align == ("none" if task.is_metric else "median")
    assert build("median").eval_align == "median"
    if name == "SelfSupervisedTask":  # only per-image scalings the photometric scale allows
        with pytest.raises(MdkError, match="one of none, median, got 'scale_shift_disp'"):
            build("scale_shift_disp")
    else:
        assert build("scale_shift_disp").eval_align == "scale_shift_disp"
