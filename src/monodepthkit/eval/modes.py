"""The names of the evaluation options, in a module that imports nothing heavy.

The `mdk` parser lists them as choices (without importing torch); `monodepthkit.eval.protocol`
implements them.
"""

from __future__ import annotations

PROTOCOL_NAMES: tuple[str, ...] = ("none", "kitti", "nyu")
"""Evaluation protocols of `monodepthkit.eval.protocol.get_protocol`."""

ALIGN_MODES: tuple[str, ...] = ("none", "median", "lstsq", "scale_shift", "scale_shift_disp")
"""Alignment modes of `monodepthkit.eval.protocol.align_prediction`."""

PREDICTION_KINDS: tuple[str, ...] = ("depth", "disparity")
"""What a prediction map holds: depth in metres, or disparity (inverse depth, any scale)."""
