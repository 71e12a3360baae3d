"""Validation metrics inside training use the protocol's depth cap unless a config overrides it."""

from __future__ import annotations


def test_task_validation_cap_defaults_to_the_protocol():
    from monodepthkit.tasks import SupervisedTask
    from monodepthkit.tasks.adversarial import AdversarialTask
    from monodepthkit.tasks.self_supervised import SelfSupervisedTask

    model = {"model": "unet", "model_kwargs": {"width": 4, "depth": 2}}
    assert SupervisedTask(**model, eval_protocol="nyu").protocol.max_depth == 10.0
    assert SupervisedTask(**model, eval_protocol="kitti").protocol.max_depth == 80.0
    assert SupervisedTask(**model, eval_protocol="nyu", eval_max_depth=5).protocol.max_depth == 5
    assert AdversarialTask(**model, eval_protocol="nyu").protocol.max_depth == 10.0
    selfsup = SelfSupervisedTask(
        depth_model_kwargs={"num_layers": 18}, mode="stereo", eval_protocol="nyu"
    )
    assert selfsup.protocol.max_depth == 10.0
