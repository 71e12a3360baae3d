"""LightningModules that combine a model, its losses and an optimiser."""

from monodepthkit.tasks.adversarial import AdversarialTask
from monodepthkit.tasks.base import DepthTask
from monodepthkit.tasks.distill import DistillationTask
from monodepthkit.tasks.loading import load_task
from monodepthkit.tasks.self_supervised import SelfSupervisedTask
from monodepthkit.tasks.supervised import SupervisedTask

__all__ = [
    "AdversarialTask",
    "DepthTask",
    "DistillationTask",
    "SelfSupervisedTask",
    "SupervisedTask",
    "load_task",
]
