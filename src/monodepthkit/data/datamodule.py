"""Lightning DataModule: train/val/test loaders from a dataset name and a root folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader, Dataset

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
        return self._loader("train", shuffle=True, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")

    def _loader(self, stage: str, shuffle: bool = False, drop_last: bool = False) -> DataLoader:
        dataset = self.build_dataset(stage)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            drop_last=drop_last and len(dataset) >= self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )
