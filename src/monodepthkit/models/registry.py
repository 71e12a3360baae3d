"""Model registry: architectures by name, built with keyword arguments (timm style).

Each registered model also has a `ModelConfig`: the facts about it that code running the model
needs without building it (timm's per-model ``pretrained_cfg``), read with `model_config`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from monodepthkit.errors import InputError

_MODELS: dict[str, Callable[..., nn.Module]] = {}
_CONFIGS: dict[str, ModelConfig] = {}


@dataclass(frozen=True)
class ModelConfig:
    """Per-model facts for the code that runs a model.

    Attributes:
        input_multiple: image height and width must be multiples of this (pixels) at any input
            size, e.g. 32 for an encoder that downsamples five times by 2. The `Predictor` rounds
            free input sizes to it.
    """

    input_multiple: int = 32


def register_model(
    name: str, *, input_multiple: int = 32
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class or factory decorator that makes a model available to `create_model` by ``name``.

    Args:
        name: registry name.
        input_multiple: see `ModelConfig`.
    """

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise InputError(f"model '{name}' is already registered")
        _MODELS[name] = factory
        _CONFIGS[name] = ModelConfig(input_multiple=input_multiple)
        return factory

    return decorator


def model_config(name: str) -> ModelConfig:
    """The `ModelConfig` of a registered model.

    Raises:
        InputError: unknown name.
    """
    if name not in _CONFIGS:
        raise InputError(f"unknown model '{name}'; available: {', '.join(list_models())}")
    return _CONFIGS[name]


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model.

    Args:
        name: registry name, see `list_models`.
        **kwargs: the architecture's options.

    Raises:
        InputError: unknown name or option.
    """
    if name not in _MODELS:
        raise InputError(f"unknown model '{name}'; available: {', '.join(list_models())}")
    try:
        return _MODELS[name](**kwargs)
    except TypeError as exc:
        raise InputError(f"model '{name}': {exc}") from None


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_MODELS)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements of ``model`` (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
