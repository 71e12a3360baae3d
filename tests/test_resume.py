"""Exact resumption: a run killed at a random step and resumed ends with the same weights.

The killed runs are real `mdk fit` subprocesses stopped with SIGKILL (or SIGINT) while they
train; the resumed runs pick their last checkpoint with ``--resume auto``. On CPU the resumed
run must be bit-identical to the one that was not interrupted (max |difference| = 0.0), with
augmentation on, so that the data order, the position in the epoch, the augmentation draws and
the RNG states all have to come back.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

from monodepthkit.cli import main
from monodepthkit.training import (
    ResumeState,
    StepsProgressBar,
    _without_resume_options,
    last_epoch,
)

MDK = [sys.executable, "-m", "monodepthkit.cli"]
AUGMENT = {"flip": True, "color_jitter": 0.5, "crop_scale": [1.0, 1.25], "channel_swap": 0.2}
UNET = {"width": 4, "depth": 2, "max_depth": 80.0}
TASKS = {
    "supervised": {
        "class_path": "monodepthkit.tasks.SupervisedTask",
        "init_args": {"model_kwargs": UNET, "lr": 1e-3, "lr_milestones": [1], "lr_gamma": 0.5},
    },
    "adversarial": {
        "class_path": "monodepthkit.tasks.AdversarialTask",
        "init_args": {
            "model_kwargs": {**UNET, "head": "sigmoid"},
            "discriminator_kwargs": {"n_layers": 2, "width": 4, "depth_scale": 80.0},
            "loss_depth_scale": 80.0,
            "g_lr": 1e-3,
            "d_lr": 1e-3,
            "schedule": [{"step": 3, "d_lr_factor": 0.5, "d_every": 2}],
        },
    },
    "self_supervised": {
        "class_path": "monodepthkit.tasks.SelfSupervisedTask",
        "init_args": {
            # The training steps draw from the global RNG (the auto-mask's tie-breaking noise).
            "depth_model_kwargs": {"num_layers": 18, "pretrained": False},
            "pose_model": "posecnn",
            "frame_offsets": [-1, 1],
            "lr": 1e-4,
        },
    },
}
# Epochs of the tiny world's training split at batch size 2: 6 batches (4 with context frames).
STEPS = 9
# Runs that are not killed save only their final state (`RunCheckpoint` always does).
FINAL_ONLY = ("--checkpoint.every_n_train_steps", "1000")


def _config(
    folder: Path,
    world: Path,
    task: str,
    steps: int = STEPS,
    workers: int = 0,
    batch_size: int = 2,
    **trainer,
) -> Path:
    data = {
        "dataset": "folder",
        "root": str(world),
        "batch_size": batch_size,
        "num_workers": workers,
        "image_size": [32, 64],
        "augment": AUGMENT,
    }
    if task == "self_supervised":  # ResNet-18: sizes that are multiples of 32, over 32
        data.update(frame_offsets=[-1, 1], image_size=[64, 64])
    config = {
        "seed_everything": 7,
        "model": TASKS[task],
        "data": data,
        "checkpoint": {"every_n_train_steps": 1, "save_top_k": 2},
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_steps": steps,
            "limit_val_batches": 1,
            "log_every_n_steps": 1,
            "default_root_dir": str(folder / "runs"),
            "enable_progress_bar": False,
            "enable_model_summary": False,
            **trainer,
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run_dir(folder: Path, version: int = 0) -> Path:
    return folder / "runs" / "lightning_logs" / f"version_{version}"


def _fit(config: Path, *args: str) -> None:
    """`mdk fit` in this process (saves the start-up time of a subprocess)."""
    assert main(["fit", "--config", str(config), *args]) == 0


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]


def _max_difference(a: Path, b: Path) -> float:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    return max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa)


def _env() -> dict[str, str]:
    # One thread, as in this process (`_one_thread`): resuming is exact only where the kernels
    # are. With 2 threads, two uninterrupted in-process runs of the self-supervised task (torch
    # 2.14.1, 2-core Xeon VM) already differ by ~4e-6, with or without
    # `trainer.deterministic`; with 1 thread they are equal, and so is the resumed run.
    return {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


def _saved_steps(checkpoints: Path) -> list[int]:
    names = (path.name for path in checkpoints.glob("*.ckpt")) if checkpoints.is_dir() else ()
    return sorted(int(m.group(1)) for n in names if (m := re.search(r"step=(\d+)\.ckpt$", n)))


def _start_and_signal(
    config: Path, folder: Path, after_step: int, sig: int, *args: str
) -> subprocess.CompletedProcess:
    """Run `mdk fit` in a subprocess; send ``sig`` to it once step ``after_step`` is saved."""
    process = subprocess.Popen(
        [*MDK, "fit", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        start_new_session=True,  # its own process group: DDP workers die with it
    )
    checkpoints = _run_dir(folder) / "checkpoints"
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        steps = _saved_steps(checkpoints)
        if steps and steps[-1] >= after_step:
            os.killpg(process.pid, sig)
            break
        time.sleep(0.01)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _kill_and_resume(
    tmp_path: Path, world: Path, task: str, steps: int = STEPS, **options
) -> float:
    """Uninterrupted run vs run killed at a random step then resumed: max |weight diff|."""
    reference = _config(tmp_path / "reference", world, task, steps, **options)
    _fit(reference, *FINAL_ONLY)

    kill_after = random.Random().randint(1, steps - 3)  # not the seeded global RNG
    config = _config(tmp_path / "killed", world, task, steps, **options)
    killed = _start_and_signal(config, tmp_path / "killed", kill_after, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    stopped_at = _saved_steps(_run_dir(tmp_path / "killed") / "checkpoints")[-1]
    assert kill_after <= stopped_at < steps, f"killed after step {kill_after}"

    _fit(config, "--resume", "auto", *FINAL_ONLY)
    final = _run_dir(tmp_path / "killed") / "checkpoints" / "last.ckpt"  # same run folder
    assert torch.load(final, weights_only=False)["global_step"] == steps
    assert not _run_dir(tmp_path / "killed", 1).exists()
    difference = _max_difference(
        _run_dir(tmp_path / "reference") / "checkpoints" / "last.ckpt", final
    )
    print(
        f"{task}: killed after step {kill_after} (checkpoint {stopped_at}), max diff {difference}"
    )
    return difference


@pytest.fixture(autouse=True)
def _argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["mdk"])


@pytest.fixture(autouse=True)
def _one_thread():
    """The in-process runs with one thread too (see `_env`)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(
    "task, options",
    [
        # DataLoader workers here: their augmentation must come back too.
        ("supervised", {"workers": 2}),
        ("adversarial", {}),
        # The slowest (ResNet-18 + PoseCNN): 5 steps in its first epoch; the others cross epochs.
        ("self_supervised", {"steps": 5, "batch_size": 1}),
    ],
)
def test_sigkilled_run_resumes_bit_identically(task, options, tmp_path, tiny_world):
    assert _kill_and_resume(tmp_path, tiny_world, task, **options) == 0.0


def test_resuming_from_every_checkpoint_is_exact(tmp_path, tiny_world, capsys):
    """Mid-epoch, at epoch ends and after validation: every checkpoint of a run resumes exactly.

    Epochs of 3 batches (``limit_train_batches``) and validation every 2 batches.
    """
    options = {"limit_train_batches": 3, "val_check_interval": 2, "check_val_every_n_epoch": 1}
    steps = 7
    config = _config(tmp_path / "all", tiny_world, "supervised", steps, **options)
    _fit(config, "--checkpoint.save_top_k", "-1")
    checkpoints = _run_dir(tmp_path / "all") / "checkpoints"
    assert _saved_steps(checkpoints) == list(range(1, steps + 1))
    reference = checkpoints / "last.ckpt"

    capsys.readouterr()
    _fit(config, "--trainer.max_steps", "1")  # a new run in a folder that holds one
    assert "holds a resumable run" in capsys.readouterr().err

    for step in range(1, steps):
        saved = next(checkpoints.glob(f"*-step={step}.ckpt"))
        folder = tmp_path / f"from_{step}"
        resumed = _config(folder, tiny_world, "supervised", steps, **options)
        _fit(resumed, "--ckpt_path", str(saved))
        final = _run_dir(folder) / "checkpoints" / "last.ckpt"
        assert _max_difference(reference, final) == 0.0, f"resumed from step {step}"


def test_rng_states_come_back(tmp_path):
    """The global RNG states saved in a checkpoint are put back when training starts."""
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    saved = ResumeState().state_dict()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    path = tmp_path / "state.pt"
    torch.save(saved, path)
    resumed = ResumeState()
    resumed.load_state_dict(torch.load(path, weights_only=True))  # plain types only
    torch.rand(7), np.random.rand(7), random.random()  # a different history
    resumed.on_train_start(SimpleNamespace(world_size=1, global_rank=0), None)
    drawn = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(drawn[0], expected[0]) and np.array_equal(drawn[1], expected[1])
    assert drawn[2] == expected[2]


def test_ctrl_c_saves_a_resumable_checkpoint_and_says_how_to_resume(tmp_path, tiny_world):
    steps = 200
    config = _config(tmp_path, tiny_world, "supervised", steps)
    result = _start_and_signal(config, tmp_path, 2, signal.SIGINT)
    assert result.returncode == 130, result.stderr[-3000:]
    match = re.search(r"interrupted at step (\d+); saved (\S+)", result.stderr)
    assert match, result.stderr[-3000:]
    step, path = int(match.group(1)), Path(match.group(2))
    assert 2 <= step < steps
    assert torch.load(path, weights_only=False)["global_step"] == step
    assert (
        f"--ckpt_path {path}" in result.stderr and "resume with: mdk fit --config" in result.stderr
    )


@pytest.mark.slow
def test_ddp_sigkilled_run_resumes_bit_identically(tmp_path, tiny_world):
    """2 DDP processes on CPU (gloo): killed (both processes) at a random step, resumed."""
    ddp = {"devices": 2, "strategy": "ddp"}
    reference = _config(tmp_path / "reference", tiny_world, "supervised", **ddp)
    result = subprocess.run(
        [*MDK, "fit", "--config", str(reference)], capture_output=True, text=True, env=_env()
    )
    assert result.returncode == 0, result.stderr[-3000:]

    kill_after = random.Random().randint(1, STEPS - 3)  # not the seeded global RNG
    config = _config(tmp_path / "killed", tiny_world, "supervised", **ddp)
    killed = _start_and_signal(config, tmp_path / "killed", kill_after, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    result = subprocess.run(
        [*MDK, "fit", "--config", str(config), "--resume", "auto"],
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    final = _run_dir(tmp_path / "killed") / "checkpoints" / "last.ckpt"
    state = torch.load(final, weights_only=False)
    assert state["global_step"] == STEPS
    assert len(state["callbacks"]["ResumeState"]["rng_states"]) == 2  # one per process
    expected = _run_dir(tmp_path / "reference") / "checkpoints" / "last.ckpt"
    difference = _max_difference(expected, final)
    print(f"ddp: killed after step {kill_after}, max diff {difference}")
    assert difference == 0.0


def test_progress_bar_counts_the_epochs_max_steps_implies():
    def trainer(max_epochs, max_steps, batches=10, accumulate=1):
        return SimpleNamespace(
            max_epochs=max_epochs,
            max_steps=max_steps,
            num_training_batches=batches,
            accumulate_grad_batches=accumulate,
        )

    assert last_epoch(trainer(-1, 600, batches=50)) == 11  # 12 epochs: "Epoch 11/11"
    assert last_epoch(trainer(-1, 601, batches=50)) == 12
    assert last_epoch(trainer(3, 600, batches=50)) == 2
    assert last_epoch(trainer(5, -1)) == 4
    assert last_epoch(trainer(-1, 20, batches=10, accumulate=2)) == 3
    assert last_epoch(trainer(-1, -1)) is None
    assert last_epoch(trainer(-1, 20, batches=float("inf"))) is None


def test_resume_command_drops_the_previous_resume_options():
    argv = ["fit", "--config", "x.yaml", "--ckpt_path", "a.ckpt", "--resume=auto", "--seed", "1"]
    assert _without_resume_options(argv) == ["fit", "--config", "x.yaml", "--seed", "1"]


def test_progress_bar_description_has_the_epoch_total():
    bar = StepsProgressBar()
    bar._trainer = SimpleNamespace(
        max_epochs=-1, max_steps=600, num_training_batches=50, accumulate_grad_batches=1
    )
    assert bar._get_train_description(3).strip() == "Epoch 3/11"


def test_resuming_with_another_discriminator_schedule_warns():
    from monodepthkit.tasks import AdversarialTask

    options = {"model_kwargs": UNET, "discriminator_kwargs": {"n_layers": 1, "width": 4}}
    checkpoint: dict = {"global_step": 4}
    AdversarialTask(**options, schedule=[{"step": 2, "d_every": 2}]).on_save_checkpoint(checkpoint)
    assert checkpoint["adversarial_schedule"] == [{"step": 2, "d_lr_factor": 1.0, "d_every": 2}]
    with pytest.warns(UserWarning, match="discriminator schedule"):
        AdversarialTask(**options, schedule=[{"step": 3}]).on_load_checkpoint(checkpoint)
