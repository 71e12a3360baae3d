"""The camera a DataModule configuration implies, for checkpoints that do not store theirs.

Training stores the intrinsics of its data in the checkpoint (`monodepthkit.training`); older
checkpoints only hold the DataModule's hyper-parameters. Of the registered datasets only the
synthetic world knows its camera without reading files (its presets), so only its checkpoints
get a camera back here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def configured_camera(data: Mapping[str, Any]) -> tuple[np.ndarray, tuple[int, int]] | None:
    """K of the images a DataModule configuration describes, without reading any file.

    Args:
        data: the DataModule's hyper-parameters (a checkpoint's
            ``datamodule_hyper_parameters``): ``dataset`` and, for ``synthetic``, the
            ``synthetic`` options (a `SyntheticOptions` or a dict with ``preset``, ``width``,
            ``height``).

    Returns:
        ([3, 3] float64 K in pixels, (height, width) of the images K belongs to), or None for
        datasets whose camera is only in their files and for unknown presets.
    """
    if data.get("dataset") != "synthetic":
        return None
    from monodepthkit.data.synthetic import PRESETS

    options = data.get("synthetic")
    if isinstance(options, Mapping):
        name, width, height = options.get("preset"), options.get("width"), options.get("height")
    else:
        name = getattr(options, "preset", None)
        width, height = getattr(options, "width", None), getattr(options, "height", None)
    preset = PRESETS.get(name or "driving")
    if preset is None:
        return None
    width, height = width or preset.width, height or preset.height
    return preset.camera_matrix(width, height), (height, width)
