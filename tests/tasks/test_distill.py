"""DistillationTask: a frozen teacher, a student that learns its predictions, checkpoints of
the student alone."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from monodepthkit.data.folder import FolderDataset
from monodepthkit.errors import MdkError
from monodepthkit.losses.distillation import scale_shift_invariant_loss
from monodepthkit.tasks import DistillationTask, SupervisedTask, load_task
from monodepthkit.tasks.loading import save_task

pytest.importorskip("transformers")

STUDENT = {"num_layers": 18, "pretrained": False}


@pytest.fixture(scope="module")
def batch(tiny_world) -> dict:
    dataset = FolderDataset(tiny_world, "all")
    return next(iter(DataLoader(dataset, batch_size=2)))


def _task(**kwargs) -> DistillationTask:
    torch.manual_seed(0)
    kwargs.setdefault("teacher_model_kwargs", {"variant": "tiny"})
    return DistillationTask(model_kwargs=STUDENT, **kwargs).train()


def _train(task: DistillationTask, batch: dict, steps: int, lr: float = 1e-3) -> list[float]:
    optimizer = torch.optim.Adam(task.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = task.model_step(batch)[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def test_the_teacher_is_frozen_and_outside_the_checkpoint(batch):
    task = _task()
    teacher = task.teacher
    before = {name: value.clone() for name, value in teacher.state_dict().items()}
    losses = _train(task, batch, steps=5)
    # measured: 1.59 -> 1.08 in five steps (random student, perturbed tiny teacher)
    assert losses[-1] < 0.8 * losses[0], losses
    assert not teacher.training
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    after = teacher.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)
    # Neither the optimiser nor the checkpoint sees the teacher: only the student's weights.
    teacher_ids = {id(p) for p in teacher.parameters()}
    assert not any(id(p) in teacher_ids for p in task.parameters())
    assert all(key.startswith("net.") for key in task.state_dict())
    task.train()  # Lightning's train() at every epoch leaves the teacher in eval mode
    assert not teacher.training


def test_the_student_loss_is_the_ssi_loss_of_its_inverse_depth_per_scale(batch):
    task = _task(multi_scale=False)
    loss, terms, outputs = task.model_step(batch)
    target = task.teacher_targets(batch["image"])
    valid = torch.ones_like(target, dtype=torch.bool)
    expected = scale_shift_invariant_loss(1 / outputs["depth"], target, valid)
    torch.testing.assert_close(loss, expected)
    assert terms == {}
    # The student's outputs at every scale count by default.
    multi = _task()
    assert {"depth_3", "disp_3"} <= set(multi.model_step(batch)[2])


def test_a_random_teacher_is_rebuilt_identically_and_leaves_the_global_stream_alone():
    first = DistillationTask(model_kwargs=STUDENT, teacher_model_kwargs={"variant": "tiny"})
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    weights = first.teacher.state_dict()  # built here, under teacher_seed
    assert torch.equal(torch.rand(3), expected)  # the global random stream did not move
    torch.manual_seed(123)
    second = DistillationTask(model_kwargs=STUDENT, teacher_model_kwargs={"variant": "tiny"})
    other = second.teacher.state_dict()
    assert all(torch.equal(weights[name], other[name]) for name in weights)
    third = DistillationTask(
        model_kwargs=STUDENT, teacher_model_kwargs={"variant": "tiny"}, teacher_seed=1
    )
    assert not torch.equal(
        next(iter(third.teacher.parameters())), next(iter(first.teacher.parameters()))
    )


def test_a_metric_teacher_teaches_metres_with_silog(batch):
    task = _task(teacher_model="zoedepth", teacher_model_kwargs={"variant": "tiny"})
    assert task.teacher_is_metric and task.is_metric and task.loss_name == "silog"
    assert task.eval_align == "none" and not task.predicts_disparity
    loss = task.model_step(batch)[0]
    loss.backward()
    assert torch.isfinite(loss) and float(loss.detach()) > 0
    relative = _task(teacher_model="zoedepth", teacher_model_kwargs={"variant": "tiny"}, loss="ssi")
    assert not relative.is_metric and relative.eval_align == "median"


def test_bad_options_are_named():
    with pytest.raises(MdkError, match="relative"):
        DistillationTask(model_kwargs=STUDENT, teacher_model_kwargs={"variant": "tiny"}, loss="l1")
    with pytest.raises(MdkError, match="teacher_kind: relative or metric"):
        DistillationTask(model_kwargs=STUDENT, teacher_model="unet")
    with pytest.raises(MdkError, match="unknown loss 'nope'"):
        DistillationTask(model_kwargs=STUDENT, loss="nope")
    with pytest.raises(MdkError, match="unknown variant"):
        DistillationTask(model_kwargs=STUDENT, teacher_model_kwargs={"variant": "huge"})
    wrong = DistillationTask(
        model_kwargs=STUDENT, teacher_model_kwargs={"variant": "tiny"}, teacher_kind="metric"
    )
    with pytest.raises(MdkError, match="holds a relative model"):
        wrong.teacher  # noqa: B018


def _saved_teacher(path, model: str = "depth_anything_v2", model_kwargs: dict | None = None):
    """A SupervisedTask checkpoint (as `mdk fit` writes one) to be the teacher."""
    torch.manual_seed(3)
    kwargs = {"variant": "tiny"} if model_kwargs is None else model_kwargs
    teacher = SupervisedTask(model=model, model_kwargs=kwargs)
    return teacher, save_task(teacher, path)


def test_a_teacher_from_a_checkpoint_is_frozen_and_never_needed_by_the_student(batch, tmp_path):
    teacher, path = _saved_teacher(tmp_path / "teacher.ckpt")
    task = DistillationTask(model_kwargs=STUDENT, teacher_checkpoint=str(path)).train()
    # auto read the kind from the checkpoint's network and kept it resolved for a rebuild
    assert not task.teacher_is_metric and task.hparams.teacher_kind == "relative"
    assert task.loss_name == "ssi" and not task.teacher.training
    with torch.no_grad():
        torch.testing.assert_close(
            task.teacher(batch["image"])["disp"], teacher.eval()(batch["image"])["disp"]
        )
    losses = _train(task, batch, steps=5)
    assert losses[-1] < 0.8 * losses[0], losses
    assert all(not p.requires_grad for p in task.teacher.parameters())
    assert all(key.startswith("net.") for key in task.state_dict())
    student = save_task(task, tmp_path / "student.ckpt")
    path.unlink()  # the student loads without its teacher
    rebuilt = load_task(student)
    torch.testing.assert_close(
        rebuilt(batch["image"])["depth"], task.eval()(batch["image"])["depth"]
    )


def test_a_metric_checkpoint_teacher_teaches_metres_and_a_wrong_kind_is_named(tmp_path):
    _, path = _saved_teacher(tmp_path / "unet.ckpt", model="unet", model_kwargs={})
    task = DistillationTask(model_kwargs=STUDENT, teacher_checkpoint=str(path))
    assert task.teacher_is_metric and task.loss_name == "silog"
    wrong = DistillationTask(
        model_kwargs=STUDENT, teacher_checkpoint=str(path), teacher_kind="relative"
    )  # an explicit kind is trusted until the teacher is needed (a rebuilt student never is)
    with pytest.raises(MdkError, match=r"teacher_kind says the teacher is relative.*unet\.ckpt"):
        wrong.teacher  # noqa: B018
    with pytest.raises(MdkError, match="checkpoint not found"):
        DistillationTask(model_kwargs=STUDENT, teacher_checkpoint=str(tmp_path / "absent.ckpt"))
