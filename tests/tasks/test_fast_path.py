"""The CPU training fast path (channels-last weights and frames, foreach Adam) computes the same
loss and gradients as the plain path (benchmarks/bench_train_fast_path.py times the two)."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from monodepthkit.tasks import SelfSupervisedTask

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
