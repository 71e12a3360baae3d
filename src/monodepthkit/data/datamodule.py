"""Lightning DataModule: train/val/test loaders from a dataset name and a root folder."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from monodepthkit.data.registry import get_dataset_builder
from monodepthkit.data.transforms import AugmentOptions


@dataclass
class SyntheticOptions:
    """How to generate the synthetic world when ``dataset="synthetic"`` and ROOT is missing.

    Attributes:
        preset: ``"driving"`` or ``"indoor"``.
        num_sequences: number of independent scenes.
        frames_per_sequence: frames rendered along each trajectory.
        seed: random seed; the same seed gives identical files.
        width: image width in pixels (None: the preset's default).
        height: image height in pixels (None: the preset's default).
        stereo: also render the stereo partner.
    """

    preset: str = "driving"
    num_sequences: int = 20
    frames_per_sequence: int = 30
    seed: int = 0
    width: int | None = None
    height: int | None = None
    stereo: bool = False


class DepthDataModule(L.LightningDataModule):
    """Builds the loaders of a dataset.

    Args:
        dataset: a registered dataset name (`monodepthkit.data.registry.list_datasets`):
            ``"folder"`` (an existing folder-format tree), ``"synthetic"`` (the procedural
            world, generated into ``root`` on first use and cached there), ...
        root: dataset folder.
        batch_size: samples per batch.
        num_workers: DataLoader worker processes.
        image_size: (height, width) the samples are resized to; None keeps the files' size.
        frame_offsets: context frames to load, e.g. [-1, 1] for self-supervision.
        stereo: also load the stereo partner.
        flip: random horizontal flips on the training split (kept for older configs): flips
            happen when both ``flip`` and ``augment.flip`` are true, so ``flip: false`` turns
            them off whatever ``augment`` says.
        require_depth: fail early if a frame lacks ground-truth depth.
        train_split: split file name of the training frames.
        val_split: split file name of the validation frames.
        test_split: split file name of the test frames.
        synthetic: generation options for ``dataset="synthetic"``.
        dataset_options: dataset-specific settings passed to its builder.
        augment: training-split augmentation (flip, colour jitter, scale-and-crop, channel
            swap; see `AugmentOptions`); None = flips only, as ``flip`` says. Validation and
            test samples are never augmented.
    """

    def __init__(
        self,
        dataset: str = "synthetic",
        root: str = ".cache/synthetic/driving",
        batch_size: int = 8,
        num_workers: int = 2,
        image_size: tuple[int, int] | None = None,
        frame_offsets: list[int] | None = None,
        stereo: bool = False,
        flip: bool = True,
        require_depth: bool = True,
        train_split: str = "train",
        val_split: str = "val",
        test_split: str = "test",
        synthetic: SyntheticOptions | None = None,
        augment: AugmentOptions | None = None,
        dataset_options: dict | None = None,
    ) -> None:
        super().__init__()
        # Stored in checkpoints: evaluation reuses the training image size.
        self.save_hyperparameters()
        self.builder = get_dataset_builder(dataset)
        self.dataset = dataset
        self.dataset_options = dict(dataset_options or {})
        self.root = Path(root)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.image_size = image_size
        self.frame_offsets = list(frame_offsets or [])
        self.stereo = stereo
        self.flip = flip
        self.require_depth = require_depth
        self.splits = {"train": train_split, "val": val_split, "test": test_split}
        self.synthetic = synthetic or SyntheticOptions()
        augment = augment or AugmentOptions()
        self.augment = replace(augment, flip=flip and augment.flip)
        self._datasets: dict[str, Dataset] = {}

    def prepare_data(self) -> None:
        """Generate the synthetic world once (a cache hit when it already exists)."""
        if self.dataset == "synthetic":
            from monodepthkit.data.synthetic import generate_world

            generate_world(self.root, **asdict(self.synthetic))

    def build_dataset(self, stage: str) -> Dataset:
        """The dataset of ``stage`` (``"train"``, ``"val"`` or ``"test"``), built once."""
        if stage not in self._datasets:
            self._datasets[stage] = self.builder(
                self.root,
                split=self.splits[stage],
                frame_offsets=self.frame_offsets,
                stereo=self.stereo,
                image_size=self.image_size,
                require_depth=self.require_depth,
                augment=self.augment if stage == "train" else None,
                **self.dataset_options,
            )
        return self._datasets[stage]

    def setup(self, stage: str | None = None) -> None:
        wanted = {
            "fit": ("train", "val"),
            "validate": ("val",),
            "test": ("test",),
            "predict": ("test",),
        }
        for name in wanted.get(stage or "fit", ("train", "val", "test")):
            self.build_dataset(name)

    def train_dataloader(self) -> DataLoader:
        """The shuffled training loader: resumable mid-epoch (see `ResumableLoader`)."""
        dataset = self.build_dataset("train")
        trainer = self.trainer
        sampler = EpochSampler(
            len(dataset),
            num_replicas=trainer.world_size if trainer is not None else 1,
            rank=trainer.global_rank if trainer is not None else 0,
            seed=run_seed(),
        )
        return ResumableLoader(
            SeededSamples(dataset, sampler.seed),
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=len(dataset) >= self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(sampler.seed),
        )

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")

    def _loader(self, stage: str) -> DataLoader:
        return DataLoader(
            self.build_dataset(stage),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            # Its own generator: starting an iterator draws the workers' base seed from it,
            # which would otherwise advance the global RNG that training draws from.
            generator=torch.Generator().manual_seed(0),
        )


# --- resumable training data ------------------------------------------------------------------
#
# A run resumed from a checkpoint must see the same batches, with the same augmentation, as the
# run that was not interrupted. Three pieces make the training data a pure function of
# (seed, epoch, position):
# - `EpochSampler`: the order of an epoch is a permutation drawn from (seed, epoch) and can
#   start part-way through an epoch;
# - `SeededSamples`: each sample's augmentation draws from an RNG seeded by (seed, epoch,
#   index), whichever process (main or DataLoader worker) loads it and whatever ran before;
# - `ResumableLoader`: counts the batches handed to the training loop and, through Lightning's
#   ``state_dict``/``load_state_dict`` interface for dataloaders, restores the epoch and the
#   position in it.


def run_seed() -> int:
    """The run's seed: the one `seed_everything` set (``PL_GLOBAL_SEED``), else 0."""
    return int(os.environ.get("PL_GLOBAL_SEED", 0))


class EpochSampler(DistributedSampler):
    """Shuffled sample order of one epoch, split across processes, that can start mid-epoch.

    The order is `DistributedSampler`'s (a permutation seeded by ``seed + epoch``, padded so that
    every process gets as many samples, then every ``num_replicas``-th sample from ``rank``), so
    one process and many see the same order. Lightning sets the epoch (`set_epoch`) and leaves a
    `DistributedSampler` in place under DDP.

    Yields ``(epoch, index)`` pairs, read by `SeededSamples`: the epoch travels with the index
    to the DataLoader workers, which hold their own copy of the sampler's dataset.

    Args:
        num_samples: samples in the dataset.
        num_replicas: processes sharing the data (DDP world size).
        rank: this process's rank.
        seed: seed of the permutations.
        shuffle: shuffle the samples (else dataset order).
    """

    def __init__(
        self,
        num_samples: int,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        super().__init__(
            range(num_samples), num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed
        )
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        """Make ``epoch``'s order; a new epoch starts at its beginning."""
        if epoch != self.epoch:
            self.start = 0
        super().set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        indices = list(super().__iter__())[self.start :]
        self.start = 0  # only the first iteration after a restore resumes mid-epoch
        return iter([(self.epoch, index) for index in indices])


class SeededSamples(Dataset):
    """A dataset whose samples draw their randomness (augmentation) from (seed, epoch, index).

    ``dataset[(epoch, index)]`` loads ``dataset[index]`` with torch's, numpy's and Python's
    global RNGs seeded from ``(seed, epoch, index)``, and puts the caller's RNG states back
    afterwards: a sample's augmentation is the same in any worker, after any restart, and
    loading it does not change the RNG stream of the training step.

    Args:
        dataset: a map-style dataset indexed by integers.
        seed: seed of the augmentation.
    """

    def __init__(self, dataset: Dataset, seed: int = 0) -> None:
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        state = np.random.SeedSequence([self.seed, epoch, index]).generate_state(2, dtype=np.uint64)
        python_state, numpy_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(state[0]) >> 1)
            np.random.seed(int(state[1]) % 2**32)
            random.seed(int(state[1]))
            try:
                return self.dataset[index]
            finally:
                random.setstate(python_state)
                np.random.set_state(numpy_state)


class ResumableLoader(DataLoader):
    """A DataLoader over an `EpochSampler` that saves and restores its place in the epoch.

    Lightning calls ``state_dict()`` when it writes a checkpoint and ``load_state_dict()``
    before the first batch of a resumed run (its interface for stateful dataloaders); the
    state is the seed, the epoch and the number of batches handed out in that epoch. Lightning
    does not prefetch from loaders with a length, so batches handed out = batches trained on.
    """

    sampler: EpochSampler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._batches_done = 0

    def __iter__(self) -> Iterator:
        self._batches_done = self.sampler.start // self.batch_size
        for batch in super().__iter__():
            self._batches_done += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """``{"seed", "epoch", "batches"}``: where the training data stands."""
        return {
            "seed": self.sampler.seed,
            "epoch": self.sampler.epoch,
            "batches": self._batches_done,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue after ``state["batches"]`` batches of epoch ``state["epoch"]``."""
        self.sampler.seed = state["seed"]
        self.dataset.seed = state["seed"]
        self.sampler.set_epoch(state["epoch"])
        # Lightning then sets the epoch it resumes in: the same one mid-epoch, the next one
        # after a finished epoch (which makes the sampler start afresh). The sampler is read at
        # the first batch (`__iter__` is lazy), after both.
        self.sampler.start = state["batches"] * self.batch_size
        self._batches_done = state["batches"]
