"""Import Monodepth2 weights (Niantic's release format) into a monodepthkit checkpoint.

Monodepth2 saves one folder per model with up to four PyTorch state dicts:

- ``encoder.pth``: the depth encoder, a torchvision ResNet under the prefix ``encoder.`` (its
  ImageNet classifier ``encoder.fc.*`` included), plus three plain entries: the training
  ``height`` and ``width`` and ``use_stereo``.
- ``depth.pth``: the depth decoder, its convolutions in one ``decoder`` ModuleList, level 4 to
  level 0, two blocks per level (``decoder.N.conv.conv.*``), then one disparity convolution per
  scale (``decoder.N.conv.*``).
- ``pose_encoder.pth`` (optional): the ``separate`` pose network's ResNet on two stacked frames
  (conv1 with 6 input channels), prefix ``encoder.``.
- ``pose.pth`` (optional): the pose decoder (``net.0`` squeeze, ``net.1-3``; its last layer
  predicts two motions of which Monodepth2 uses the first), or for the ``posecnn`` pose network
  ``net.0-6`` and ``pose_conv``.

The result is a `SelfSupervisedTask` checkpoint that `load_task`, `mdk predict` and `mdk eval`
read without a config.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import torch
from torch import Tensor

from monodepthkit.errors import MdkError
from monodepthkit.tasks.loading import save_task

# ResNet depth from (block type, blocks per stage): torchvision's five ResNets.
_RESNETS = {
    ("basic", (2, 2, 2, 2)): 18,
    ("basic", (3, 4, 6, 3)): 34,
    ("bottleneck", (3, 4, 6, 3)): 50,
    ("bottleneck", (3, 4, 23, 3)): 101,
    ("bottleneck", (3, 8, 36, 3)): 152,
}
_DECODER_LEVELS = 5
_BLOCK_KEY = re.compile(r"^layer([1-4])\.(\d+)\.")
_INDEXED_KEY = re.compile(r"^(decoder|net)\.(\d+)\.(.+)$")


def import_monodepth2(
    weights_dir: str | Path,
    out: str | Path,
    min_depth: float = 0.1,
    max_depth: float = 100.0,
) -> Path:
    """Convert a Monodepth2 weights folder into a monodepthkit checkpoint.

    Args:
        weights_dir: folder with ``encoder.pth`` and ``depth.pth``, optionally ``pose.pth``
            (and ``pose_encoder.pth`` for the default ``separate`` pose network).
        out: checkpoint file to write (``.ckpt``); parent folders are created.
        min_depth: Monodepth2's ``--min_depth`` used in training (0.1); not stored in the files.
        max_depth: Monodepth2's ``--max_depth`` used in training (100).

    Returns:
        The path written. The checkpoint's task has mode ``mono`` (``use_stereo`` false),
        ``stereo`` (``use_stereo`` and no pose files) or ``mono+stereo``; its training size
        (``height``, ``width``) is stored as the data's ``image_size`` for the predictor.

    Raises:
        MdkError: a file is missing, unreadable, or its keys or shapes are not Monodepth2's.
    """
    from monodepthkit.tasks.self_supervised import SelfSupervisedTask

    folder = Path(weights_dir).expanduser()
    if not folder.is_dir():
        raise MdkError(f"monodepth2 import: weights folder {folder} not found")
    encoder_file, depth_file = folder / "encoder.pth", folder / "depth.pth"
    encoder_state, extras = _split_extras(_read_state(encoder_file))
    missing_extras = [key for key in ("height", "width", "use_stereo") if key not in extras]
    if missing_extras:
        raise MdkError(
            f"{encoder_file}: no {', '.join(missing_extras)} entries; Monodepth2's encoder.pth "
            f"stores the training height, width and use_stereo next to the weights"
        )
    height, width = int(extras["height"]), int(extras["width"])
    depth_layers = _resnet_layers(encoder_state, encoder_file)
    depth_state = _read_state(depth_file)
    decoder_state, num_scales = _convert_depth_decoder(depth_state, depth_file)

    pose_kind, pose_kwargs, pose_state = _read_pose(folder)
    mode = "mono"
    if bool(extras["use_stereo"]):
        mode = "stereo" if pose_kind is None else "mono+stereo"

    task = SelfSupervisedTask(
        depth_model="monodepth2",
        depth_model_kwargs={
            "num_layers": depth_layers,
            "min_depth": float(min_depth),
            "max_depth": float(max_depth),
            "scales": num_scales,
        },
        pose_model=pose_kind or "separate",
        pose_model_kwargs=pose_kwargs,
        mode=mode,
    )
    net_state = {**_prefixed(_resnet_state(encoder_state), "encoder."), **decoder_state}
    _load(task.net, net_state, f"{encoder_file} + {depth_file}")
    if pose_state is not None:
        _load(task.pose_net, pose_state, f"pose files in {folder}")
    # The pose network of a depth-only import keeps its random initialisation (fine-tuning).

    return save_task(
        task,
        out,
        # Where `checkpoint_facts` (predictor, model cards) reads the training size.
        datamodule_hyper_parameters={"image_size": [height, width]},
        mdk_import={
            "source": "monodepth2",
            "weights_dir": str(folder),
            "files": sorted(p.name for p in folder.glob("*.pth")),
            "pose_model": pose_kind,
        },
    )


# --- depth network ---------------------------------------------------------------------------


def _convert_depth_decoder(state: dict[str, Tensor], path: Path) -> tuple[dict[str, Tensor], int]:
    """Monodepth2 decoder keys -> `DisparityDecoder` keys (prefixed ``decoder.``), scale count."""
    converted = {}
    indices = set()
    for key, value in state.items():
        match = _INDEXED_KEY.match(key)
        if not match or match.group(1) != "decoder":
            raise MdkError(
                f"{path}: unexpected key '{key}'; Monodepth2's depth.pth holds only "
                f"decoder.N.conv.conv.* (blocks) and decoder.N.conv.* (disparity) entries"
            )
        index, rest = int(match.group(2)), match.group(3)
        indices.add(index)
        blocks = 2 * _DECODER_LEVELS
        if index < blocks:
            # Blocks run from the coarsest level down: (level 4, up), (level 4, merge), ...
            level = _DECODER_LEVELS - 1 - index // 2
            kind = "up_convs" if index % 2 == 0 else "merge_convs"
            new_rest = rest.removeprefix("conv.conv.")
            target = f"decoder.{kind}.{level}.conv.{new_rest}"
        else:
            new_rest = rest.removeprefix("conv.")
            target = f"decoder.disp_convs.{index - blocks}.conv.{new_rest}"
        if new_rest == rest:
            raise MdkError(f"{path}: unexpected key '{key}' (not a Monodepth2 decoder layout)")
        converted[target] = value
    num_scales = len(indices) - 2 * _DECODER_LEVELS
    if sorted(indices) != list(range(len(indices))) or not 1 <= num_scales <= 4:
        raise MdkError(
            f"{path}: decoder entries {sorted(indices)} are not Monodepth2's 10 blocks followed "
            f"by 1-4 disparity convolutions"
        )
    return converted, num_scales


def _resnet_layers(state: dict[str, Tensor], path: Path) -> int:
    """ResNet depth of a torchvision ResNet state dict (keys without ``encoder.``)."""
    blocks = [0, 0, 0, 0]
    for key in state:
        match = _BLOCK_KEY.match(key)
        if match:
            stage, block = int(match.group(1)) - 1, int(match.group(2))
            blocks[stage] = max(blocks[stage], block + 1)
    kind = "bottleneck" if "layer1.0.conv3.weight" in state else "basic"
    layers = _RESNETS.get((kind, tuple(blocks)))
    if layers is None:
        raise MdkError(
            f"{path}: the encoder.* entries are not a torchvision ResNet-18/34/50/101/152 "
            f"({kind} blocks per stage {blocks}); is this a Monodepth2 weights folder?"
        )
    return layers


def _resnet_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    # The ImageNet classifier is unused by Monodepth2 and absent from a features_only encoder.
    return {key: value for key, value in state.items() if not key.startswith("fc.")}


# --- pose network ----------------------------------------------------------------------------


def _read_pose(folder: Path) -> tuple[str | None, dict, dict[str, Tensor] | None]:
    """(pose kind, its create_pose_network kwargs, converted state) or (None, {}, None)."""
    pose_file, encoder_file = folder / "pose.pth", folder / "pose_encoder.pth"
    if not pose_file.is_file():
        if encoder_file.is_file():
            raise MdkError(
                f"{encoder_file} exists but {pose_file} does not; copy both pose files, or "
                f"remove pose_encoder.pth for a depth-only import"
            )
        return None, {}, None
    pose_state = _read_state(pose_file)
    if encoder_file.is_file():
        encoder_state, _ = _split_extras(_read_state(encoder_file))
        layers = _resnet_layers(encoder_state, encoder_file)
        conv1 = encoder_state.get("conv1.weight")
        if conv1 is None or conv1.shape[1] != 6:
            shape = None if conv1 is None else tuple(conv1.shape)
            raise MdkError(
                f"{encoder_file}: encoder.conv1.weight has shape {shape}; only pose encoders "
                f"on two frames (6 input channels, --pose_model_input pairs) are supported"
            )
        decoder = _convert_pose_decoder(pose_state, pose_file, num_inputs=1)
        state = {**_prefixed(_resnet_state(encoder_state), "encoder."), **decoder}
        return "separate", {"num_layers": layers}, state
    if "pose_conv.weight" in pose_state:
        return "posecnn", {}, _convert_posecnn(pose_state, pose_file)
    return "shared", {}, _convert_pose_decoder(pose_state, pose_file, num_inputs=2)


def _convert_pose_decoder(
    state: dict[str, Tensor], path: Path, num_inputs: int
) -> dict[str, Tensor]:
    names = {0: "squeeze", 1: "conv1", 2: "conv2", 3: "conv3"}
    converted = {}
    for key, value in state.items():
        match = _INDEXED_KEY.match(key)
        if not match or match.group(1) != "net" or int(match.group(2)) not in names:
            raise MdkError(
                f"{path}: unexpected key '{key}'; Monodepth2's pose.pth holds net.0-3 (pose "
                f"decoder) or net.0-6 + pose_conv (posecnn)"
            )
        index = int(match.group(2))
        if index == 3:
            if value.shape[0] % 6:
                raise MdkError(f"{path}: {key} has {value.shape[0]} outputs, not a multiple of 6")
            # Monodepth2's separate decoder predicts two motions; training uses the first.
            value = value[:6]
        converted[f"decoder.{names[index]}.{match.group(3)}"] = value
    first = state.get("net.1.weight")
    if first is not None and first.shape[1] != num_inputs * 256:
        raise MdkError(
            f"{path}: net.1.weight takes {first.shape[1]} channels, expected {num_inputs * 256} "
            f"for a {'separate' if num_inputs == 1 else 'shared'} pose decoder"
        )
    return converted


def _convert_posecnn(state: dict[str, Tensor], path: Path) -> dict[str, Tensor]:
    converted = {}
    for key, value in state.items():
        match = _INDEXED_KEY.match(key)
        if key.startswith("pose_conv."):
            converted["head." + key.removeprefix("pose_conv.")] = value
        elif match and match.group(1) == "net" and int(match.group(2)) < 7:
            converted[f"convs.{match.group(2)}.{match.group(3)}"] = value
        else:
            raise MdkError(f"{path}: unexpected key '{key}' for Monodepth2's PoseCNN")
    return converted


# --- files -----------------------------------------------------------------------------------


def _read_state(path: Path) -> dict:
    if not path.is_file():
        raise MdkError(
            f"monodepth2 import: {path} not found; the folder needs encoder.pth and depth.pth "
            f"(and optionally pose_encoder.pth + pose.pth) as saved by Monodepth2"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        raise MdkError(f"{path}: not a readable PyTorch state dict ({exc})") from None
    if not isinstance(state, dict):
        raise MdkError(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


def _split_extras(state: dict) -> tuple[dict[str, Tensor], dict]:
    """(ResNet tensors without the ``encoder.`` prefix, the non-weight entries)."""
    weights = {
        key.removeprefix("encoder."): value
        for key, value in state.items()
        if isinstance(value, Tensor) and key.startswith("encoder.")
    }
    extras = {key: value for key, value in state.items() if not key.startswith("encoder.")}
    return weights, extras


def _prefixed(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {prefix + key: value for key, value in state.items()}


def _load(module: torch.nn.Module, state: dict[str, Tensor], source: str) -> None:
    expected = module.state_dict()
    # Batch-norm step counters are not used in eval mode; older files may lack them.
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        details = " ".join(str(exc).split())
        raise MdkError(
            f"{source}: the weights do not fit the Monodepth2 architecture ({details[:400]})"
        ) from None
