"""Image encoders: any timm backbone as a multi-scale feature extractor (``features_only``).

Weights come from one of three places: random initialisation, timm's ImageNet weights
(``pretrained=True``, downloaded from the Hugging Face hub on a machine with internet), or a local
file (``weights=PATH``: a timm or torchvision state dict of the whole backbone, classifier
optional, in ``.pth``, ``.pt`` or ``.safetensors``).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import timm
import torch
from torch import Tensor, nn

from monodepthkit.errors import InputError

# Names the founding reports use, mapped to timm's. Report 2 used Keras' Xception, which timm
# ports as `legacy_xception`; `xception41/65/71` are DeepLab's aligned variants.
BACKBONE_ALIASES = {"xception": "legacy_xception"}

# torchvision's DenseNet files keep the pre-2019 layer names ("norm.1"); timm and torchvision's
# own loader rename them to "norm1".
_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def create_encoder(
    backbone: str,
    pretrained: bool = False,
    weights: str | Path | None = None,
    **timm_kwargs,
) -> nn.Module:
    """Build a timm backbone that returns its multi-scale feature maps.

    Args:
        backbone: timm model name (``timm.list_models()``) or an alias in `BACKBONE_ALIASES`.
        pretrained: load timm's ImageNet weights (needs internet, or the Hugging Face cache).
        weights: path of a local state dict of the backbone (3 input channels); overrides
            ``pretrained``.
        **timm_kwargs: more options of ``timm.create_model``, e.g. ``in_chans=6`` (timm adapts
            pretrained RGB kernels to it) or ``zero_init_last=False``.

    Returns:
        A timm ``features_only`` module: image [B, 3, H, W] (or ``in_chans``; normalised with
        ``module.pretrained_cfg["mean"]`` / ``["std"]``) -> list of feature maps from fine to
        coarse, described by ``module.feature_info.channels()`` and ``.reduction()``.

    Raises:
        InputError: unknown backbone, no features_only support, download failure, or a weights file
            that is missing, unreadable or does not fit the backbone.
    """
    name = resolve_backbone_name(backbone)
    if weights is not None:
        state = read_backbone_weights(name, weights)
        overlay = {"state_dict": state}
        return _features_model(name, pretrained=True, pretrained_cfg_overlay=overlay, **timm_kwargs)
    if not pretrained:
        return _features_model(name, pretrained=False, **timm_kwargs)
    try:
        return _features_model(name, pretrained=True, **timm_kwargs)
    except OSError as exc:  # hub and URL downloads (and a missing cache) raise OSError subclasses
        raise InputError(
            f"backbone '{name}': downloading its ImageNet weights failed, probably no internet "
            f"access ({type(exc).__name__}: {_one_line(exc)}); set weights: PATH to a local file "
            f"(a timm or torchvision state dict, .pth/.pt/.safetensors) or pretrained: false"
        ) from None


def resolve_backbone_name(backbone: str) -> str:
    """timm's name of ``backbone`` (aliases resolved); InputError listing close names if unknown."""
    name = BACKBONE_ALIASES.get(backbone, backbone)
    if timm.is_model(name):
        return name
    candidates = [*timm.list_models(), *BACKBONE_ALIASES]
    close = timm.list_models(f"*{backbone}*")[:8] or difflib.get_close_matches(
        backbone, candidates, n=8, cutoff=0.6
    )
    hint = f"close names: {', '.join(close)}" if close else "see timm.list_models()"
    raise InputError(f"unknown backbone '{backbone}' (not a timm model); {hint}")


def read_backbone_weights(name: str, weights: str | Path) -> dict[str, Tensor]:
    """Read a local state dict of timm backbone ``name`` and check it fits, key by key.

    Accepts a plain state dict or a checkpoint holding one under ``state_dict`` / ``model``, with
    or without a ``module.`` prefix, in ``.pth``, ``.pt`` or ``.safetensors``. The classifier may
    be absent or have any number of classes (the encoder drops it).

    Raises:
        InputError: the file is missing or unreadable, or keys are missing, unexpected or of another
            shape than the backbone's.
    """
    path = Path(weights).expanduser()
    if not path.is_file():
        raise InputError(
            f"backbone '{name}': weights file {path} not found; give the path of a state dict "
            f"(.pth/.pt/.safetensors)"
        )
    try:
        loaded = timm.models.load_state_dict(str(path))
    except Exception as exc:  # torch.load / safetensors raise many types on a bad file
        raise InputError(
            f"backbone '{name}': cannot read weights file {path} ({type(exc).__name__}: "
            f"{_one_line(exc)}); expected a state dict in .pth/.pt/.safetensors"
        ) from None
    state = {
        _OLD_DENSENET_KEY.sub(r"\1\2", key): value
        for key, value in loaded.items()
        if isinstance(value, Tensor)
    }
    _check_keys(name, path, state)
    return state


def _features_model(name: str, pretrained: bool, **kwargs) -> nn.Module:
    try:
        return timm.create_model(name, features_only=True, pretrained=pretrained, **kwargs)
    except (RuntimeError, AssertionError, NotImplementedError) as exc:
        if pretrained and "No pretrained weights" in str(exc):
            raise InputError(
                f"backbone '{name}' has no ImageNet weights in timm; set weights: PATH to a local "
                f"file or pretrained: false"
            ) from None
        raise InputError(
            f"backbone '{name}' cannot be used as a feature encoder (timm features_only: "
            f"{_one_line(exc)}); pick a convolutional backbone such as resnet34 or densenet169"
        ) from None


def _check_keys(name: str, path: Path, state: dict[str, Tensor]) -> None:
    # The meta device gives names and shapes without allocating or initialising weights.
    with torch.device("meta"):
        reference = timm.create_model(name)
    expected = {key: value.shape for key, value in reference.state_dict().items()}
    classifier = reference.pretrained_cfg.get("classifier") or ()
    classifier = (classifier,) if isinstance(classifier, str) else tuple(classifier)

    def ignored(key: str) -> bool:
        return key.endswith("num_batches_tracked") or key.startswith(
            tuple(f"{prefix}." for prefix in classifier)
        )

    missing = [key for key in expected if key not in state and not ignored(key)]
    unexpected = [key for key in state if key not in expected and not ignored(key)]
    wrong_shape = [
        f"{key} {tuple(state[key].shape)} != {tuple(expected[key])}"
        for key in state
        if key in expected and not ignored(key) and state[key].shape != expected[key]
    ]
    problems = [
        f"{len(keys)} {kind} (e.g. {', '.join(keys[:3])})"
        for kind, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", wrong_shape),
        )
        if keys
    ]
    if problems:
        raise InputError(
            f"weights file {path} does not fit backbone '{name}': {'; '.join(problems)}; "
            f"it must be a state dict of timm's (or torchvision's) '{name}'"
        )


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
