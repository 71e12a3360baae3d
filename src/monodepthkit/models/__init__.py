"""Architectures only: they see tensors, never configs, datasets or losses.

A bad option, input shape or weights file raises `monodepthkit.errors.InputError`.
"""

# Importing a model module registers its architecture by name.
from monodepthkit.models import (  # noqa: F401
    conv_autoencoder,
    encoder_decoder,
    foundation,
    monodepth2,
    packnet,
    patchgan,
    unet,
)
from monodepthkit.models.encoders import create_encoder
from monodepthkit.models.heads import HEADS, build_head, head_range
from monodepthkit.models.registry import (
    count_parameters,
    create_model,
    list_models,
    register_model,
)

__all__ = [
    "HEADS",
    "build_head",
    "count_parameters",
    "create_encoder",
    "create_model",
    "head_range",
    "list_models",
    "register_model",
]
