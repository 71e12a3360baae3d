"""AdversarialTask: separate G/D steps, the D schedule, a short run, checkpoints and resuming."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.errors import MdkError
from monodepthkit.losses.supervised import masked_l1
from monodepthkit.tasks import load_task
from monodepthkit.tasks.adversarial import (
    AdversarialTask,
    active_switch,
    discriminator_due,
    parse_schedule,
)

D_LR = 1e-3


SCHEDULE = [{"step": 4, "d_lr_factor": 0.5, "d_every": 3}]


@pytest.fixture(scope="module")
def datamodule(tiny_world):
    return DepthDataModule(
        dataset="folder", root=str(tiny_world), batch_size=4, num_workers=0, image_size=(24, 64)
    )


def _task(**kwargs) -> AdversarialTask:
    options = dict(
        model_kwargs={"width": 8, "depth": 3, "head": "sigmoid", "max_depth": 80.0},
        discriminator_kwargs={"n_layers": 2, "width": 8, "depth_scale": 80.0},
        loss_depth_scale=80.0,
        l1_weight=10.0,
        mse_weight=10.0,
        g_lr=1e-3,
        d_lr=D_LR,
    )
    options.update(kwargs)
    return AdversarialTask(**options)


def _trainer(tmp_path, **kwargs) -> L.Trainer:
    options = dict(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        limit_val_batches=0,
        default_root_dir=tmp_path,
    )
    options.update(kwargs)
    return L.Trainer(**options)


def _snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _changed(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(b, p) for b, p in zip(before, module.parameters(), strict=True))


class StepRecorder(L.Callback):
    """Per batch: which network each optimiser step changed, and the D update and learning rate."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, bool, bool]] = []  # (optimiser, changed G, changed D)
        self.batches: list[tuple[int, bool, float]] = []  # (global step, D updated, D lr)
        self._pending: tuple[str, list, list] | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._start = (trainer.global_step, _snapshot(pl_module.discriminator))

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self._close_step(pl_module)
        which = "G" if optimizer is trainer.optimizers[0] else "D"
        self._pending = (which, _snapshot(pl_module.net), _snapshot(pl_module.discriminator))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._close_step(pl_module)
        step, d_before = self._start
        lr = trainer.optimizers[1].param_groups[0]["lr"]
        self.batches.append((step, _changed(d_before, pl_module.discriminator), lr))

    def _close_step(self, pl_module) -> None:
        if self._pending is not None:
            which, g_before, d_before = self._pending
            changed_g = _changed(g_before, pl_module.net)
            changed_d = _changed(d_before, pl_module.discriminator)
            self.steps.append((which, changed_g, changed_d))
            self._pending = None


def test_schedule_switches_at_the_configured_steps():
    switches = parse_schedule(
        [
            {"step": 3, "d_lr_factor": 0.5, "d_every": 2},
            {"step": 8, "d_lr_factor": 0.25, "d_every": 3},
        ]
    )
    due = [discriminator_due(switches, step) for step in range(14)]
    #        0  1  2 | 3  4  5  6  7 | 8  9  10 11 12 13
    expected = [1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0]
    assert due == [bool(value) for value in expected]
    factors = [active_switch(switches, step).d_lr_factor for step in range(14)]
    assert factors == [1.0] * 3 + [0.5] * 5 + [0.25] * 6


@pytest.mark.parametrize(
    "schedule, message",
    [
        ([{"step": 5}, {"step": 5}], "increase strictly"),
        ([{"step": 2, "d_every": 0}], "d_every >= 1"),
        ([{"d_every": 2}], "'step'"),
        ([{"step": 1, "d_lr": 0.5}], "'step'"),
    ],
)
def test_bad_schedules_are_refused(schedule, message):
    with pytest.raises(MdkError, match=message):
        _task(schedule=schedule)


def test_short_run_separates_real_from_fake_and_lowers_l1(datamodule, tmp_path):
    L.seed_everything(0)
    task = _task()
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    image, target = batch["image"], batch["depth"]

    def measure() -> tuple[float, float, float]:
        # Train mode, as the networks meet batches during training (batch-norm statistics).
        task.train()
        with torch.no_grad():
            depth = task(image)["depth"]
            l1 = masked_l1(depth / 80, target / 80, target > 0)
            _, real, fake = task.discriminator_loss(image, depth, target)
        return float(l1), float(real), float(fake)

    l1_before, _, _ = measure()
    trainer = _trainer(tmp_path, max_steps=15)
    trainer.fit(task, datamodule=datamodule)
    l1_after, real, fake = measure()
    assert real > fake + 0.2, (real, fake)  # targets 1 and 0: D tells them apart
    assert l1_after < 0.9 * l1_before, (l1_before, l1_after)
    metrics = trainer.callback_metrics
    assert float(metrics["train/d_real"]) > float(metrics["train/d_fake"])
    terms = ("g_grad", "g_l1", "g_mse", "g_adversarial")
    total = sum(float(metrics[f"train/{name}"]) for name in terms)
    assert float(metrics["train/loss"]) == pytest.approx(total, rel=1e-5)


@pytest.fixture(scope="module")
def first_run(datamodule, tmp_path_factory):
    """Six batches with D switching at step 4 to half its rate, once in three batches."""
    folder = tmp_path_factory.mktemp("gan")
    recorder = StepRecorder()
    task = _task(schedule=SCHEDULE, patch_l1_weight=1.0)
    trainer = _trainer(folder, max_steps=6, callbacks=[recorder])
    trainer.fit(task, datamodule=datamodule)
    trainer.save_checkpoint(folder / "gan.ckpt")
    return task, trainer, recorder, folder / "gan.ckpt"


def test_each_step_changes_only_its_own_network(first_run):
    _, trainer, recorder, _ = first_run
    # G then D on batches 0-4, G alone on batch 5; each step moves only its own network.
    assert recorder.steps == [("G", True, False), ("D", False, True)] * 5 + [("G", True, False)]
    assert trainer.global_step == 6  # global_step counts generator steps (batches) only


def test_training_follows_the_schedule(first_run):
    _, _, recorder, _ = first_run
    assert [step for step, _, _ in recorder.batches] == list(range(6))
    assert [changed for _, changed, _ in recorder.batches] == [True] * 5 + [False]
    lrs = [lr for _, changed, lr in recorder.batches if changed]
    assert lrs == [D_LR] * 4 + [D_LR / 2]  # halved exactly at the switch (step 4)


def test_checkpoint_holds_both_networks_and_optimisers(first_run):
    task, _, _, path = first_run
    checkpoint = torch.load(path, weights_only=False)
    state = checkpoint["state_dict"]
    for prefix, net in (("net.", task.net), ("discriminator.", task.discriminator)):
        for name, value in net.state_dict().items():
            torch.testing.assert_close(state[prefix + name], value)
    g_state, d_state = checkpoint["optimizer_states"]
    assert len(g_state["state"]) == len(list(task.net.parameters()))
    assert len(d_state["state"]) == len(list(task.discriminator.parameters()))
    # Adam's step counters: G stepped on all 6 batches, D on steps 0-4.
    assert {float(s["step"]) for s in g_state["state"].values()} == {6.0}
    assert {float(s["step"]) for s in d_state["state"].values()} == {5.0}
    assert [group["lr"] for group in d_state["param_groups"]] == [D_LR / 2]

    # The checkpoint alone rebuilds the task, whose forward is the generator's.
    loaded = load_task(path)
    assert isinstance(loaded, AdversarialTask) and loaded.hparams.patch_l1_weight == 1.0
    image = torch.rand(1, 3, 24, 64)
    task.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(image)["depth"], task(image)["depth"])


def test_resuming_continues_the_schedule(first_run, datamodule, tmp_path):
    _, _, _, path = first_run
    recorder = StepRecorder()
    resumed = _task(schedule=SCHEDULE, patch_l1_weight=1.0)
    trainer = _trainer(tmp_path, max_steps=12, callbacks=[recorder])
    trainer.fit(resumed, datamodule=datamodule, ckpt_path=path)
    assert [step for step, _, _ in recorder.batches] == list(range(6, 12))
    # Every third batch from the switch at step 4: 7 and 10, still at half the rate.
    assert [step for step, changed, _ in recorder.batches if changed] == [7, 10]
    assert {lr for _, changed, lr in recorder.batches if changed} == {D_LR / 2}
    d_optimizer = trainer.optimizers[1]
    assert {float(s["step"]) for s in d_optimizer.state.values()} == {7.0}
