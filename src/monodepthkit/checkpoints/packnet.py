"""Import packnet-sfm (TRI-ML) depth checkpoints into monodepthkit checkpoints.

packnet-sfm saves ``.ckpt`` files as a dict ``{"config", "epoch", "state_dict", "optimizer",
"scheduler"}``: ``config`` is its yacs configuration tree and ``state_dict`` the training
wrapper's weights, with the depth network under ``model.depth_net.`` (older ``.pth.tar`` files:
``disp_network.``) and the pose network under ``model.pose_net.``. Only the depth network is
imported: the result is a `SupervisedTask` checkpoint holding our ``packnet`` model, which
`monodepthkit.tasks.load_task` and every command that takes a checkpoint read.

The architecture (PackNet01 or PackNetSlim01, version A or B, channel widths, 3D filters) is read
from the weights' shapes and checked against the config when the checkpoint has one. Reading a
checkpoint never runs code from it: an allow-list unpickler rebuilds tensors and containers,
turns the yacs config into plain dicts and every other object into an inert placeholder, so
neither yacs nor packnet-sfm needs to be installed.
"""

from __future__ import annotations

import _compat_pickle
import builtins
import pickle
import re
import types
from collections import OrderedDict
from pathlib import Path

import torch
from torch import Tensor

from monodepthkit.errors import MdkError
from monodepthkit.tasks.loading import save_task

# Where the depth network's weights start, by format (the last: a bare PackNet01 state dict).
DEPTH_PREFIXES = ("model.depth_net.", "depth_net.", "model.disp_network.", "disp_network.", "")
# packnet-sfm's depth networks that we import, with their number of 3D filters.
NETWORKS = {"PackNet01": 8, "PackNetSlim01": 4}
# The ``min_depth`` of packnet-sfm's InvDepth layer: inverse depth = sigmoid / 0.5.
INV_DEPTH_MIN_DEPTH = 0.5

# packnet-sfm module path -> ours, applied in order to the key inside the depth network.
_KEY_RULES = (
    (r"^pre_calc\.", "stem."),
    (r"^conv([2-5])\.(\d+)\.conv1\.", r"res\1.\2.conv_a."),
    (r"^conv([2-5])\.(\d+)\.conv2\.", r"res\1.\2.conv_b."),
    # Trained with dropout, the 1x1 shortcut is ``conv3.0`` (followed by the dropout layer).
    (r"^conv([2-5])\.(\d+)\.conv3\.(0\.)?", r"res\1.\2.shortcut."),
    (r"^conv([2-5])\.(\d+)\.normalize\.", r"res\1.\2.norm."),
    (r"^iconv([1-5])\.", r"fuse\1."),
    (r"^disp([1-4])_layer\.conv1\.", lambda m: f"heads.{int(m.group(1)) - 1}."),
    (r"\.conv_base\.", ".conv."),
    (r"\.normalize\.", ".norm."),
)


def convert_packnet(
    ckpt: str | Path,
    out: str | Path,
    max_depth: float | None = None,
    eval_protocol: str | None = None,
) -> Path:
    """Convert a packnet-sfm checkpoint into a monodepthkit checkpoint.

    Args:
        ckpt: packnet-sfm ``.ckpt`` (or ``.pth.tar``, or a bare PackNet01 state dict) file.
        out: the monodepthkit ``.ckpt`` to write.
        max_depth: depth cap of the model in metres; None: the checkpoint config's evaluation
            ``max_depth`` (80 m on KITTI), else 100 m.
        eval_protocol: the task's validation protocol; None: ``kitti`` when the config
            evaluates with the Garg crop, else ``none``.

    Returns:
        ``out``.

    Raises:
        MdkError: unreadable file, no PackNet depth network inside, or weights that do not fit.
    """
    from monodepthkit.tasks.supervised import SupervisedTask

    ckpt, out = Path(ckpt), Path(out)
    contents = read_packnet_checkpoint(ckpt)
    config = contents.get("config") or {}
    weights = packnet_depth_weights(contents["state_dict"], str(ckpt))
    model_kwargs = packnet_model_kwargs(weights, config, str(ckpt))
    params = _get(config, "model", "params") or {}
    if max_depth is None:
        config_max = params.get("max_depth")
        max_depth = float(config_max) if config_max and config_max > 1.0 else 100.0
    model_kwargs["max_depth"] = float(max_depth)
    if eval_protocol is None:
        eval_protocol = "kitti" if params.get("crop") == "garg" else "none"
    hyper_parameters = {
        "model": "packnet",
        "model_kwargs": model_kwargs,
        "eval_protocol": eval_protocol,
    }
    task = SupervisedTask(**hyper_parameters)
    missing, unexpected = task.net.load_state_dict(weights, strict=False)
    mismatched = [
        k for k, v in task.net.state_dict().items() if k in weights and weights[k].shape != v.shape
    ]
    if missing or unexpected or mismatched:
        raise MdkError(
            f"{ckpt}: the depth weights do not fit {_network_name(model_kwargs)}: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shape {mismatched[:5]}"
        )
    return save_task(
        task, out, packnet_sfm={"source": str(ckpt), "network": _network_name(model_kwargs)}
    )


def read_packnet_checkpoint(path: str | Path) -> dict:
    """Read a packnet-sfm checkpoint without importing yacs or running pickled code.

    Returns:
        A dict with at least ``state_dict`` (name -> Tensor) and, for ``.ckpt`` files,
        ``config`` as nested plain dicts.

    Raises:
        MdkError: missing or unreadable file, or no state dict inside.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: checkpoint not found")
    try:
        contents = torch.load(
            path, map_location="cpu", pickle_module=_restricted_pickle, weights_only=False
        )
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise MdkError(f"{path}: not a readable PyTorch checkpoint ({exc})") from None
    is_bare = isinstance(contents, dict) and "state_dict" not in contents and bool(contents)
    if is_bare and all(isinstance(value, Tensor) for value in contents.values()):
        contents = {"state_dict": contents}  # a bare state dict
    if not isinstance(contents, dict) or not isinstance(contents.get("state_dict"), dict):
        raise MdkError(f"{path}: no 'state_dict' entry; expected a packnet-sfm .ckpt file")
    return contents


def packnet_depth_weights(state_dict: dict[str, Tensor], source: str = "") -> dict[str, Tensor]:
    """The depth network's weights of a packnet-sfm state dict, renamed to our ``packnet``.

    Args:
        state_dict: packnet-sfm weights (any of the `DEPTH_PREFIXES`).
        source: file name for error messages.

    Returns:
        State dict of `monodepthkit.models.packnet.PackNet`.

    Raises:
        MdkError: no PackNet depth network found.
    """
    prefix = next(
        (p for p in DEPTH_PREFIXES if f"{p}pre_calc.conv_base.weight" in state_dict), None
    )
    if prefix is None:
        raise MdkError(
            f"{source}: no PackNet depth network in the checkpoint (looked for "
            f"'<prefix>pre_calc.conv_base.weight' with prefix one of "
            f"{', '.join(repr(p) for p in DEPTH_PREFIXES[:-1])}); only PackNet01 and "
            "PackNetSlim01 depth networks can be imported"
        )
    return {
        _our_key(key[len(prefix) :]): value
        for key, value in state_dict.items()
        if key.startswith(prefix)
    }


def packnet_model_kwargs(weights: dict[str, Tensor], config: dict, source: str = "") -> dict:
    """Our ``packnet`` options that rebuild the network of ``weights`` (renamed, see above).

    Channels, 3D filters and version come from the weight shapes; the config's depth network
    name and version, when present, must agree with them.

    Raises:
        MdkError: the weights are not a PackNet01 layout, or disagree with the config.
    """
    try:
        stem = weights["stem.conv.weight"].shape[0]
        stages = [weights["conv1.conv.weight"].shape[0]]
        stages += [weights[f"res{level}.0.conv_a.conv.weight"].shape[0] for level in range(2, 6)]
        features_3d = weights["pack1.conv3d.weight"].shape[0]
        fuse5_in = weights["fuse5.conv.weight"].shape[1]
    except KeyError as exc:
        raise MdkError(f"{source}: not a PackNet01 depth network (missing {exc})") from None
    # Version A concatenates pack4's output (stages[3] channels) to the unpacked features.
    version = "A" if fuse5_in == stages[4] + stages[3] else "B"
    dropout = 0.0
    depth_net = _get(config, "model", "depth_net") or {}
    if depth_net:
        name, config_version = depth_net.get("name", ""), str(depth_net.get("version", ""))
        if name and name not in NETWORKS:
            raise MdkError(
                f"{source}: depth network '{name}' is not supported; importable: "
                f"{', '.join(NETWORKS)}"
            )
        if name and NETWORKS[name] != features_3d:
            raise MdkError(
                f"{source}: config says {name} ({NETWORKS[name]} 3D filters) but the weights "
                f"have {features_3d}"
            )
        if config_version[1:] and config_version[1:] != version:
            raise MdkError(
                f"{source}: config says version '{config_version}' but the weights are "
                f"version {version}"
            )
        dropout = float(depth_net.get("dropout") or 0.0)
    return {
        "version": version,
        "channels": [int(stem), *(int(c) for c in stages)],
        "features_3d": int(features_3d),
        "dropout": dropout,
        "activation": "sigmoid",
        "inverse_depth": True,
        "min_depth": INV_DEPTH_MIN_DEPTH,
    }


def _our_key(key: str) -> str:
    for pattern, replacement in _KEY_RULES:
        key = re.sub(pattern, replacement, key)
    return key


def _network_name(model_kwargs: dict) -> str:
    slim = model_kwargs["features_3d"] == NETWORKS["PackNetSlim01"]
    return f"{'PackNetSlim01' if slim else 'PackNet01'} version {model_kwargs['version']}"


def _get(tree: dict, *keys: str):
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree


# --- reading pickles safely -------------------------------------------------------------------


class ConfigNode(dict):
    """Stands in for yacs' ``CfgNode`` (a dict subclass) when unpickling a config."""


class _Opaque:
    """Stands in for any other pickled object: accepts its arguments and state, does nothing."""

    def __init__(self, *args, **kwargs) -> None:
        self.args = args

    def __setstate__(self, state) -> None:
        self.state = state


_TORCH_REBUILDERS = {
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
}
_BUILTINS = {"set", "frozenset", "list", "dict", "tuple", "slice", "complex", "bytearray"}


class _RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds tensors, containers and configs; every other global becomes `_Opaque`."""

    def find_class(self, module: str, name: str):
        # Protocol 2 pickles (torch.save's default) name builtins by their Python 2 module.
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if module == "torch._utils" and name in _TORCH_REBUILDERS:
            return getattr(torch._utils, name)
        if module == "torch" and (
            name == "Size" or isinstance(getattr(torch, name, 0), torch.dtype)
        ):
            return getattr(torch, name)
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "builtins" and name in _BUILTINS:
            return getattr(builtins, name)
        if module == "yacs.config" and name == "CfgNode":
            return ConfigNode
        return type(name, (_Opaque,), {"__module__": f"opaque.{module}"})


def _load(file, **kwargs):
    return _RestrictedUnpickler(file, **kwargs).load()


# The module-like object that `torch.load(pickle_module=...)` expects.
_restricted_pickle = types.SimpleNamespace(
    Unpickler=_RestrictedUnpickler, load=_load, __name__="monodepthkit_restricted_pickle"
)
