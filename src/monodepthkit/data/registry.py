"""Dataset registry: every dataset the DataModule can build, by name.

A builder is called as ``builder(root, split, frame_offsets=..., stereo=..., image_size=...,
require_depth=..., augment=..., **options)`` and returns a map-style dataset whose samples follow
the batch contract (`monodepthkit.data.batch`). ``options`` are the dataset-specific settings of
``DepthDataModule(dataset_options=...)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from torch.utils.data import Dataset

from monodepthkit.errors import MdkError

# Modules whose import registers the built-in datasets.
_BUILTIN_MODULES = (
    "monodepthkit.data.folder",
    "monodepthkit.data.kitti",
    "monodepthkit.data.nyu",
)
_DATASETS: dict[str, Callable[..., Dataset]] = {}


def register_dataset(name: str) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """Decorator registering a dataset class or builder under ``name``."""

    def decorator(builder: Callable[..., Dataset]) -> Callable[..., Dataset]:
        if name in _DATASETS and _DATASETS[name] is not builder:
            raise ValueError(f"dataset '{name}' is already registered")
        _DATASETS[name] = builder
        return builder

    return decorator


def list_datasets() -> list[str]:
    """Names of all registered datasets, sorted."""
    _load_builtin()
    return sorted(_DATASETS)


def get_dataset_builder(name: str) -> Callable[..., Dataset]:
    """The builder registered as ``name``.

    Raises:
        MdkError: unknown name, listing the registered ones.
    """
    _load_builtin()
    if name not in _DATASETS:
        raise MdkError(f"unknown dataset '{name}'; available: {', '.join(sorted(_DATASETS))}")
    return _DATASETS[name]


def _load_builtin() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
