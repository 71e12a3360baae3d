"""LightningModules that combine a model, its losses and an optimiser."""

from monodepthkit.tasks.loading import load_task
from monodepthkit.tasks.supervised import SupervisedTask

__all__ = ["SupervisedTask", "load_task"]
