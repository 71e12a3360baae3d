"""Architectures only: they see tensors, never configs, datasets or losses."""

from monodepthkit.models import unet  # noqa: F401  (registers "unet")
from monodepthkit.models.heads import HEADS, build_head
from monodepthkit.models.registry import create_model, list_models, register_model

__all__ = ["HEADS", "build_head", "create_model", "list_models", "register_model"]
