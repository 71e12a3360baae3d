"""Model registry: architectures by name, built with keyword arguments (timm style)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from monodepthkit.errors import MdkError

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class or factory decorator that makes a model available to `create_model` by ``name``."""

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model '{name}' is already registered")
        _MODELS[name] = factory
        return factory

    return decorator


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model.

    Args:
        name: registry name, see `list_models`.
        **kwargs: the architecture's options.

    Raises:
        MdkError: unknown name or option.
    """
    if name not in _MODELS:
        raise MdkError(f"unknown model '{name}'; available: {', '.join(list_models())}")
    try:
        return _MODELS[name](**kwargs)
    except TypeError as exc:
        raise MdkError(f"model '{name}': {exc}") from None


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_MODELS)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements of ``model`` (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
