"""The CPU training fast path (channels-last weights and frames, fused or foreach Adam) computes
the same loss, gradients and update as the plain path (benchmarks/bench_train_fast_path.py and
benchmarks/bench_train_vs_monodepth2.py time them), and the task turns it on where it should."""

from __future__ import annotations

import copy

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from monodepthkit.data.folder import FolderDataset
from monodepthkit.errors import MdkError
from monodepthkit.tasks import SelfSupervisedTask
from monodepthkit.tasks.optim import adam_kwargs, match_state_layout

SMALL = {"num_layers": 18, "pretrained": False}


def _smooth_frames(generator: torch.Generator, batch: int, height: int, width: int) -> dict:
    """Frames -1/0/+1 [B, 3, H, W] in [0, 1] with image-like (blurred) content and KITTI's K."""

    def frame() -> torch.Tensor:
        noise = torch.rand(batch, 3, height // 4, width // 4, generator=generator)
        return F.interpolate(noise, size=(height, width), mode="bilinear", align_corners=False)

    K = torch.tensor([[0.58 * width, 0, width / 2], [0, 1.92 * height, height / 2], [0, 0, 1]])
    return {"image": frame(), "image_-1": frame(), "image_+1": frame(), "K": K.repeat(batch, 1, 1)}


def _loss_and_gradients(task: SelfSupervisedTask, batch: dict) -> tuple[float, dict]:
    task.zero_grad(set_to_none=True)
    loss = task.model_step(batch)[0]
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in task.named_parameters()}
    return loss.item(), grads


def _worst_gradient_error(reference: dict, other: dict) -> float:
    """Largest |difference| of a parameter's gradient relative to that gradient's largest entry."""
    return max(
        ((other[name].double() - grad).abs().max() / grad.abs().max().clamp_min(1e-30)).item()
        for name, grad in reference.items()
    )


def test_channels_last_gives_the_same_loss_and_gradients():
    torch.manual_seed(0)
    task = SelfSupervisedTask(depth_model_kwargs=SMALL, pose_model_kwargs=SMALL, mode="mono")
    task.train()
    batch = _smooth_frames(torch.Generator().manual_seed(1), 2, 64, 192)
    fast_task = copy.deepcopy(task).to(memory_format=torch.channels_last)
    fast_batch = {
        key: value.contiguous(memory_format=torch.channels_last) if value.dim() == 4 else value
        for key, value in batch.items()
    }
    first_conv = next(p for p in fast_task.net.parameters() if p.dim() == 4)
    assert first_conv.is_contiguous(memory_format=torch.channels_last)
    # Float32 gradients of a ResNet sum many terms in an order each memory layout picks; the
    # float64 gradients are the yardstick: the fast path may stray from them at most as far as
    # the plain path does (x2), and no further.
    exact_loss, exact_grads = _loss_and_gradients(
        copy.deepcopy(task).double(), {key: value.double() for key, value in batch.items()}
    )
    plain_loss, plain_grads = _loss_and_gradients(task, batch)
    fast_loss, fast_grads = _loss_and_gradients(fast_task, fast_batch)
    assert abs(plain_loss - exact_loss) <= 1e-5 * abs(exact_loss)
    assert abs(fast_loss - plain_loss) <= 1e-6 * abs(plain_loss)
    assert plain_grads.keys() == fast_grads.keys() == exact_grads.keys()
    plain_error = _worst_gradient_error(exact_grads, plain_grads)
    assert plain_error < 1e-2
    assert _worst_gradient_error(exact_grads, fast_grads) <= 2 * plain_error

    # Control: the same comparison sees noise of 1% of one weight's spread (noise, not a
    # scaling: the batch norm after the first convolution undoes a scaling).
    with torch.no_grad():
        noise = torch.randn(first_conv.shape, generator=torch.Generator().manual_seed(2))
        first_conv.add_(0.01 * first_conv.std() * noise)
    changed_loss, changed_grads = _loss_and_gradients(fast_task, fast_batch)
    assert abs(changed_loss - plain_loss) > 1e-6 * abs(plain_loss)
    assert _worst_gradient_error(exact_grads, changed_grads) > 2 * plain_error


def _task(**kwargs) -> SelfSupervisedTask:
    torch.manual_seed(0)
    return SelfSupervisedTask(
        depth_model_kwargs=SMALL, pose_model_kwargs=SMALL, mode="mono", **kwargs
    ).train()


def _optimizer(task: SelfSupervisedTask) -> torch.optim.Optimizer:
    optimizer = task.configure_optimizers()
    return optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer


def test_the_tasks_cpu_defaults_give_the_plain_loss_gradients_and_update():
    """The task's own options (channels_last None = on for the CPU, adam_implementation auto
    = fused) against channels_last false and torch's default Adam: the same step."""
    plain = _task(channels_last=False, adam_implementation=None)
    fast = _task()
    fast.load_state_dict(plain.state_dict())
    assert not plain.set_training_memory_format(torch.device("cpu"))
    assert fast.set_training_memory_format(torch.device("cpu"))
    assert all(
        p.is_contiguous(memory_format=torch.channels_last)
        for module in (fast.net, fast.pose_net)
        for p in module.parameters()
        if p.dim() == 4
    )
    plain_optimizer, fast_optimizer = _optimizer(plain), _optimizer(fast)
    assert plain_optimizer.defaults["fused"] is None and fast_optimizer.defaults["fused"]
    batch = _smooth_frames(torch.Generator().manual_seed(1), 2, 64, 192)
    _, exact_grads = _loss_and_gradients(
        copy.deepcopy(plain).double(), {key: value.double() for key, value in batch.items()}
    )
    torch.manual_seed(5)  # the same auto-mask tie-break noise on both sides
    plain_loss, plain_grads = _loss_and_gradients(plain, batch)
    torch.manual_seed(5)
    fast_loss, fast_grads = _loss_and_gradients(fast, batch)
    assert abs(fast_loss - plain_loss) <= 1e-6 * abs(plain_loss)
    plain_error = _worst_gradient_error(exact_grads, plain_grads)
    assert plain_error < 1e-2
    assert _worst_gradient_error(exact_grads, fast_grads) <= 2 * plain_error

    # Adam's update: fused against the for-loop, from the same gradients; the first step
    # moves every parameter with a gradient by about lr, so compare the moves.
    before = {name: p.detach().clone() for name, p in plain.named_parameters()}
    for name, p in fast.named_parameters():
        p.grad = torch.empty_like(p).copy_(plain_grads[name])  # in the parameter's layout
    for name, p in plain.named_parameters():
        p.grad = plain_grads[name].clone()
    plain_optimizer.step()
    fast_optimizer.step()
    lr = plain.hparams.lr
    for name, p in plain.named_parameters():
        plain_move = p.detach() - before[name]
        fast_move = dict(fast.named_parameters())[name].detach() - before[name]
        assert plain_move.abs().max() > 0.5 * lr, name
        torch.testing.assert_close(fast_move, plain_move, rtol=0, atol=1e-3 * lr)


def test_channels_last_is_on_for_the_cpu_only_unless_set():
    assert _task().set_training_memory_format(torch.device("cpu"))
    assert not _task().set_training_memory_format(torch.device("cuda"))
    assert _task(channels_last=True).set_training_memory_format(torch.device("cuda", 0))
    assert not _task(channels_last=False).set_training_memory_format(torch.device("cpu"))


def test_adam_implementations():
    cpu = [torch.nn.Parameter(torch.zeros(2))]
    assert adam_kwargs("auto", cpu) == {"fused": True}
    assert adam_kwargs("auto", [{"params": cpu}]) == {"fused": True}
    assert adam_kwargs("auto", [torch.nn.Parameter(torch.zeros(2, device="meta"))]) == {}
    assert adam_kwargs("foreach") == {"foreach": True}
    assert adam_kwargs("for-loop") == {"foreach": False}
    assert adam_kwargs(None) == {}
    with pytest.raises(MdkError, match="adam_implementation must be one of auto, fused"):
        _task(adam_implementation="lion")


def test_a_resumed_nchw_adam_state_follows_channels_last_parameters():
    """A checkpoint's NCHW Adam state on channels-last parameters: matched, fused Adam makes
    the for-loop's update (unmatched, torch's fused kernel pairs the wrong elements)."""
    torch.manual_seed(0)
    start, grads = torch.randn(8, 4, 3, 3), [torch.randn(8, 4, 3, 3) for _ in range(2)]

    def two_steps(fused: bool, channels_last: bool, match: bool) -> torch.Tensor:
        param = torch.nn.Parameter(start.clone())
        optimizer = torch.optim.Adam([param], lr=1e-2, **adam_kwargs("fused" if fused else None))
        param.grad = grads[0].clone()
        optimizer.step()  # the state is NCHW, as saved by a run without channels-last
        if channels_last:
            param.data = param.data.contiguous(memory_format=torch.channels_last)
        if match:
            match_state_layout(optimizer)
            assert optimizer.state[param]["exp_avg"].stride() == param.stride()
        param.grad = torch.empty_like(param).copy_(grads[1])
        optimizer.step()
        return param.detach()

    expected = two_steps(fused=False, channels_last=False, match=False)
    torch.testing.assert_close(two_steps(True, True, True), expected, rtol=0, atol=1e-7)
    torch.testing.assert_close(two_steps(False, True, True), expected, rtol=0, atol=1e-7)
    # The control: without matching, the fused update is wrong (so the matching matters).
    assert (two_steps(True, True, False) - expected).abs().max() > 1e-3


def _fit(task: SelfSupervisedTask, world, root, steps: int, ckpt_path=None) -> L.Trainer:
    loader = DataLoader(
        FolderDataset(world, "train", frame_offsets=(-1, 1)), batch_size=2, shuffle=False
    )
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=root,
    )
    trainer.fit(task, train_dataloaders=loader, ckpt_path=ckpt_path)
    return trainer


def test_fit_on_the_cpu_trains_channels_last_with_fused_adam(tiny_world, tmp_path):
    """What ``mdk fit`` does: the task converts its networks when training starts, and a run
    resumed from an NCHW checkpoint gets its Adam state in the parameters' layout."""
    task = _task()
    before = next(p for p in task.net.parameters() if p.dim() == 4).detach().clone()
    trainer = _fit(task, tiny_world, tmp_path, steps=1)
    conv = next(p for p in task.net.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(conv.detach(), before)  # the optimiser updated the converted weights
    assert trainer.optimizers[0].defaults["fused"]

    nchw = _task(channels_last=False)
    trainer = _fit(nchw, tiny_world, tmp_path, steps=1)
    checkpoint = tmp_path / "nchw.ckpt"
    trainer.save_checkpoint(checkpoint)
    resumed = _task()
    trainer = _fit(resumed, tiny_world, tmp_path, steps=2, ckpt_path=checkpoint)
    state = trainer.optimizers[0].state
    assert state and all(
        value.stride() == param.stride()
        for param, values in state.items()
        for value in values.values()
        if value.shape == param.shape
    )
    assert any(p.is_contiguous(memory_format=torch.channels_last) and p.dim() == 4 for p in state)
