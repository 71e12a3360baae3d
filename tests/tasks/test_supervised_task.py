import warnings

import lightning as L
import pytest
import torch

from conftest import write_tree
from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.errors import MdkError
from monodepthkit.tasks import SupervisedTask, load_task


@pytest.fixture
def datamodule(tmp_path):
    for name in ("a", "b"):
        write_tree(tmp_path / name, frames=4, size=(16, 24), seed=ord(name))
    (tmp_path / "splits").mkdir()
    for split in ("train", "val", "test"):
        (tmp_path / "splits" / f"{split}.txt").write_text(
            "a 000000\na 000001\nb 000002\nb 000003\n"
        )
    return DepthDataModule(dataset="folder", root=str(tmp_path), batch_size=2, num_workers=0)


def _task(**kwargs):
    return SupervisedTask(
        model_kwargs={"width": 4, "depth": 2, "min_depth": 0.5, "max_depth": 30}, **kwargs
    )


def _trainer(tmp_path, **kwargs):
    options = dict(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    options.update(kwargs)
    return L.Trainer(**options)


def test_training_lowers_the_loss(datamodule, tmp_path):
    L.seed_everything(0)
    task = _task(lr=1e-2)
    datamodule.setup("fit")
    batch = next(iter(datamodule.val_dataloader()))
    task.eval()
    before = float(task.model_step(batch)[0].detach())
    task.train()  # Lightning keeps the modules' mode: train with batch statistics
    _trainer(tmp_path, max_steps=30, enable_checkpointing=False, limit_val_batches=0).fit(
        task, datamodule=datamodule
    )
    task.eval()
    after = float(task.model_step(batch)[0].detach())
    assert after < 0.8 * before  # uniform-noise depth: the best constant reaches ~0.62x


def test_validation_logs_metrics(datamodule, tmp_path):
    trainer = _trainer(tmp_path, max_epochs=1, enable_checkpointing=False)
    trainer.fit(_task(), datamodule=datamodule)
    for key in ("val/loss", "val/abs_rel", "val/rmse", "val/d1"):
        assert key in trainer.callback_metrics, key
        assert torch.isfinite(trainer.callback_metrics[key])


def test_checkpoint_roundtrip_needs_no_config(datamodule, tmp_path):
    task = _task(loss="mse", lr=3e-4)
    trainer = _trainer(tmp_path, max_steps=2, enable_checkpointing=False, limit_val_batches=0)
    trainer.fit(task, datamodule=datamodule)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    loaded = load_task(path)
    assert loaded.hparams.loss == "mse" and loaded.hparams.lr == 3e-4
    image = torch.rand(1, 3, 16, 24)
    task.eval()
    torch.testing.assert_close(loaded(image)["depth"], task(image)["depth"])


def test_crash_while_saving_keeps_the_last_good_checkpoint(datamodule, tmp_path, monkeypatch):
    task = _task()
    trainer = _trainer(tmp_path, max_steps=2, enable_checkpointing=False, limit_val_batches=0)
    trainer.fit(task, datamodule=datamodule)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    good = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # as if Ctrl-C arrived in the middle of writing

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint(path)
    monkeypatch.undo()
    assert path.read_bytes() == good
    load_task(path)


def test_bad_checkpoints(tmp_path):
    with pytest.raises(MdkError, match=r"missing.ckpt: checkpoint not found"):
        load_task(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_text("not a checkpoint")
    with pytest.raises(MdkError, match=r"junk.ckpt: not a readable PyTorch checkpoint"):
        load_task(tmp_path / "junk.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    with pytest.raises(MdkError, match=r"other.ckpt: not a monodepthkit checkpoint"):
        load_task(tmp_path / "other.ckpt")


def test_depth_is_required(tmp_path):
    write_tree(tmp_path, depth=False)
    task = _task()
    batch = {"image": torch.rand(1, 3, 16, 24)}
    with pytest.raises(MdkError, match="missing key 'depth'"):
        task.model_step(batch)


def test_depth_outside_the_head_range_warns_once():
    task = _task()  # head range [0.5, 30] m
    batch = {"image": torch.rand(2, 3, 16, 24), "depth": torch.full((2, 1, 16, 24), 45.0)}
    with pytest.warns(UserWarning, match=r"training depth spans \[45, 45\] m but .* \[0.5, 30\] m"):
        task.training_step(batch, 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task.training_step(batch, 1)
    assert not [w for w in caught if "training depth spans" in str(w.message)]


def test_loss_terms_and_normalised_loss():
    task = SupervisedTask(
        model_kwargs={
            "width": 4,
            "depth": 2,
            "head": "sigmoid",
            "min_depth": 0.001,
            "max_depth": 80,
        },
        loss="mse",
        loss_depth_scale=80.0,
    )
    batch = {"image": torch.rand(1, 3, 16, 24), "depth": torch.full((1, 1, 16, 24), 40.0)}
    loss, terms, depth = task.model_step(batch)
    expected = ((depth.detach() - 40.0) / 80.0).pow(2).mean()
    torch.testing.assert_close(loss.detach(), expected)
    assert set(terms) == {"mse"}
