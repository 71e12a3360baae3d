"""The evaluation protocol: which pixels count, and how a prediction is prepared before scoring.

One image is evaluated in this order (Monodepth2's ``evaluate_depth.py`` order)::

    prediction [h, w] --resize_prediction--> depth [H, W] (disparity: resized, then inverted)
      * scale (fixed factor, e.g. 5.4 for Monodepth2 stereo models)
      -> keep evaluation_mask(gt) pixels (valid range + crop)
      -> align_prediction (none | median | lstsq | scale_shift | scale_shift_disp)
      -> clamp to [min_depth, max_depth]
      -> compute_metrics

Protocols (`get_protocol`):

- ``kitti``: ground truth strictly inside (1e-3, 80) m and the Garg crop.
- ``nyu``: ground truth strictly inside (1e-3, 10) m and the Eigen NYU crop.
- ``none``: ground truth strictly inside (1e-3, inf) m, no crop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

from monodepthkit.data.nyu import EIGEN_CROP, NYU_SIZE
from monodepthkit.errors import MdkError
from monodepthkit.eval.metrics import compute_metrics, to_float64
from monodepthkit.eval.modes import ALIGN_MODES, PREDICTION_KINDS

CROPS: tuple[str, ...] = ("garg", "eigen_nyu")
"""Named crops of `crop_box`."""

# Garg et al. (2016) crop as fractions of the KITTI ground-truth size (top, bottom, left, right).
_GARG_FRACTIONS = (0.40810811, 0.99189189, 0.03594771, 0.96405229)
# Smallest disparity (1/m) kept by scale_shift_disp when no finite max_depth is known (1000 km).
_MIN_DISPARITY = 1e-6


@dataclass(frozen=True)
class Protocol:
    """Which ground-truth pixels are evaluated.

    Attributes:
        name: protocol name (``kitti``, ``nyu`` or ``none``).
        min_depth: ground truth must be strictly greater (metres); predictions are clamped to it.
        max_depth: ground truth must be strictly smaller (metres, may be ``inf``); predictions
            are clamped to it.
        crop: ``"garg"``, ``"eigen_nyu"`` or ``None`` (see `crop_box`).
    """

    name: str
    min_depth: float
    max_depth: float
    crop: str | None


_PROTOCOLS: dict[str, Protocol] = {
    "kitti": Protocol("kitti", 1e-3, 80.0, "garg"),
    "nyu": Protocol("nyu", 1e-3, 10.0, "eigen_nyu"),
    "none": Protocol("none", 1e-3, math.inf, None),
}


def get_protocol(
    name: str, min_depth: float | None = None, max_depth: float | None = None
) -> Protocol:
    """Look up a protocol by name, optionally overriding its depth range.

    Args:
        name: ``kitti``, ``nyu`` or ``none``.
        min_depth: replaces the protocol's minimum depth (metres, > 0).
        max_depth: replaces the protocol's maximum depth (metres, > min_depth; ``inf`` allowed),
            e.g. 80 with ``none`` for the synthetic world.

    Returns:
        The `Protocol`.

    Raises:
        MdkError: unknown name, or an invalid depth range.
    """
    if name not in _PROTOCOLS:
        raise MdkError(
            f"unknown evaluation protocol {name!r}; expected one of {', '.join(_PROTOCOLS)}"
        )
    base = _PROTOCOLS[name]
    low = base.min_depth if min_depth is None else float(min_depth)
    high = base.max_depth if max_depth is None else float(max_depth)
    if not (math.isfinite(low) and low > 0):
        raise MdkError(
            f"protocol {name!r}: expected min_depth > 0 (metres), found {low!r}; "
            f"use e.g. 1e-3 (depth logs need positive values)"
        )
    if not high > low:
        raise MdkError(
            f"protocol {name!r}: expected max_depth > min_depth ({low:g} m), found {high!r}"
        )
    return Protocol(name, low, high, base.crop)


def crop_box(height: int, width: int, crop: str | None) -> tuple[int, int, int, int] | None:
    """Pixel bounds of a named evaluation crop.

    - ``garg``: ``int(f * size)`` (truncation, as Monodepth2's ``astype(np.int32)``) of the
      fractions (0.40810811 H, 0.99189189 H, 0.03594771 W, 0.96405229 W); at 375x1242 this is
      rows 153:371, cols 44:1197.
    - ``eigen_nyu``: rows 45:471, cols 41:601 at 480x640. At another size each bound is scaled
      proportionally and rounded to the nearest integer, halves rounded up
      (``floor(b * size / ref + 0.5)``); e.g. at 240x320: rows 23:236, cols 21:301.

    Args:
        height: image height H in pixels.
        width: image width W in pixels.
        crop: ``"garg"``, ``"eigen_nyu"`` or ``None``.

    Returns:
        ``(top, bottom, left, right)`` for ``image[top:bottom, left:right]``, or ``None`` when
        ``crop`` is ``None``.

    Raises:
        MdkError: unknown crop name.
    """
    if crop is None:
        return None
    if crop == "garg":
        top, bottom, left, right = _GARG_FRACTIONS
        return int(top * height), int(bottom * height), int(left * width), int(right * width)
    if crop == "eigen_nyu":
        ref_h, ref_w = NYU_SIZE
        top, bottom, left, right = EIGEN_CROP
        return (
            _scale_round(top, height, ref_h),
            _scale_round(bottom, height, ref_h),
            _scale_round(left, width, ref_w),
            _scale_round(right, width, ref_w),
        )
    raise MdkError(f"unknown crop {crop!r}; expected one of {', '.join(CROPS)} or None")


def evaluation_mask(gt: Any, protocol: Protocol) -> np.ndarray:
    """Pixels that are evaluated: ground truth strictly inside the depth range and in the crop.

    Args:
        gt: [H, W] ground-truth depth in metres (0 or non-finite = no ground truth); numpy
            array or torch tensor.
        protocol: the `Protocol`.

    Returns:
        [H, W] bool mask.
    """
    gt = _as_2d(to_float64(gt), "ground truth")
    with np.errstate(invalid="ignore"):
        mask = (gt > protocol.min_depth) & (gt < protocol.max_depth)
    box = crop_box(gt.shape[0], gt.shape[1], protocol.crop)
    if box is not None:
        top, bottom, left, right = box
        inside = np.zeros_like(mask)
        inside[top:bottom, left:right] = True
        mask &= inside
    return mask


def resize_prediction(pred: Any, size: tuple[int, int], kind: str = "depth") -> np.ndarray:
    """Resize a prediction to the ground-truth size and return depth.

    Uses ``cv2.resize(..., INTER_LINEAR)`` like Monodepth2. A disparity map is resized as
    disparity and inverted afterwards (``depth = 1 / disparity``; disparity 0 gives ``inf`` and
    negative disparity a negative depth, both handled by the later clamp). float32 inputs are
    resized in float32 (as Monodepth2 does), others in float64.

    Args:
        pred: [h, w] (or [1, h, w], [1, 1, h, w]) depth in metres or disparity (1/m, any scale);
            numpy array or torch tensor.
        size: target ``(H, W)`` in pixels.
        kind: ``"depth"`` or ``"disparity"``.

    Returns:
        [H, W] float64 depth (metres when ``pred`` was metric).

    Raises:
        MdkError: unknown kind, or a prediction that is not a single-channel map.
    """
    _check_choice(kind, PREDICTION_KINDS, "prediction kind")
    if isinstance(pred, torch.Tensor):
        pred = pred.detach().cpu().numpy()
    values = _as_2d(np.asarray(pred), "prediction")
    if values.dtype != np.float32:
        values = values.astype(np.float64)
    height, width = int(size[0]), int(size[1])
    if values.shape != (height, width):
        values = cv2.resize(
            np.ascontiguousarray(values), (width, height), interpolation=cv2.INTER_LINEAR
        )
    values = values.astype(np.float64)
    if kind == "disparity":
        with np.errstate(divide="ignore"):
            values = 1.0 / values
    return values


def fit_alignment(pred: Any, gt: Any, mode: str) -> tuple[float, float]:
    """Fit the scale and shift of an alignment mode on the evaluated pixels.

    - ``none``: (1, 0).
    - ``median``: ``s = median(g) / median(p)``, shift 0.
    - ``lstsq``: ``s = <p, g> / <p, p>``, shift 0.
    - ``scale_shift``: least squares ``s * p + t ~ g`` in depth.
    - ``scale_shift_disp``: least squares ``s / p + t ~ 1 / g`` in inverse depth; (s, t) are in
      disparity units.

    Args:
        pred: N predicted depths in metres (> 0 for median and scale_shift_disp).
        gt: N ground-truth depths in metres (> 0).
        mode: one of `ALIGN_MODES`.

    Returns:
        ``(scale, shift)``.

    Raises:
        MdkError: unknown mode, or a prediction the mode cannot fit.
    """
    _check_choice(mode, ALIGN_MODES, "alignment mode")
    pred = to_float64(pred).ravel()
    gt = to_float64(gt).ravel()
    if pred.size != gt.size or pred.size == 0:
        raise MdkError(
            f"align {mode}: expected the same non-zero number of predicted and ground-truth "
            f"values, found {pred.size} and {gt.size}"
        )
    if mode == "none":
        return 1.0, 0.0
    if mode == "median":
        pred_median = float(np.median(pred))
        if not pred_median > 0:
            raise MdkError(
                f"align median: expected a positive median predicted depth, found {pred_median!r}; "
                f"check that the prediction is depth (or pass kind='disparity')"
            )
        return float(np.median(gt)) / pred_median, 0.0
    if mode == "lstsq":
        energy = float(np.dot(pred, pred))
        if not energy > 0:
            raise MdkError("align lstsq: the prediction is zero on every evaluated pixel")
        return float(np.dot(pred, gt)) / energy, 0.0
    if mode == "scale_shift":
        return _affine_lstsq(pred, gt)
    if np.any(pred <= 0):
        raise MdkError(
            f"align scale_shift_disp: expected predicted depths > 0 to invert, found "
            f"{int(np.sum(pred <= 0))} values <= 0; predict disparity and pass kind='disparity'"
        )
    return _affine_lstsq(1.0 / pred, 1.0 / gt)


def align_prediction(pred: Any, gt: Any, mode: str, max_depth: float = math.inf) -> np.ndarray:
    """Align predicted depth to the ground truth on the evaluated pixels (see `fit_alignment`).

    For ``scale_shift_disp`` the aligned disparity ``s / p + t`` is inverted; disparities below
    ``max(1 / max_depth, 1e-6)`` (including non-positive ones) are raised to that floor first, so
    the result is finite and positive, and such pixels end at ``max_depth`` after the clamp.

    Args:
        pred: N predicted depths in metres (numpy array or torch tensor, flattened).
        gt: N ground-truth depths in metres, > 0.
        mode: one of `ALIGN_MODES`.
        max_depth: the protocol's maximum depth (metres), used only by ``scale_shift_disp``.

    Returns:
        [N] float64 aligned depth in metres (not yet clamped).

    Raises:
        MdkError: see `fit_alignment`.
    """
    scale, shift = fit_alignment(pred, gt, mode)
    pred = to_float64(pred).ravel()
    if mode == "scale_shift_disp":
        disparity = scale / pred + shift
        return 1.0 / np.maximum(disparity, max(1.0 / max_depth, _MIN_DISPARITY))
    return scale * pred + shift


def evaluate_image(
    pred: Any,
    gt: Any,
    protocol: Protocol,
    align: str = "none",
    scale: float = 1.0,
    kind: str = "depth",
) -> dict[str, float]:
    """Evaluate one prediction against its ground truth under a protocol.

    Steps: resize to the ground-truth size (`resize_prediction`), multiply by ``scale``, keep the
    `evaluation_mask` pixels, align (`align_prediction`), clamp to
    ``[protocol.min_depth, protocol.max_depth]``, then `compute_metrics`.

    Args:
        pred: [h, w] depth in metres or disparity (any size; [1, h, w] accepted); numpy or torch.
        gt: [H, W] ground-truth depth in metres, 0 = no ground truth; numpy or torch.
        protocol: the `Protocol`.
        align: one of `ALIGN_MODES`.
        scale: fixed factor applied to the depth before alignment (5.4 for Monodepth2 stereo).
        kind: ``"depth"`` or ``"disparity"``.

    Returns:
        The nine metrics (`METRIC_KEYS`), or an empty dict when no pixel is valid after
        masking (the caller skips the image; `DepthEvaluator` counts it as skipped).

    Raises:
        MdkError: bad arguments, or a prediction that is not finite after alignment and clamping.
    """
    _check_choice(align, ALIGN_MODES, "alignment mode")
    gt = _as_2d(to_float64(gt), "ground truth")
    depth = resize_prediction(pred, gt.shape, kind) * float(scale)
    mask = evaluation_mask(gt, protocol)
    if not mask.any():
        return {}
    pred_valid, gt_valid = depth[mask], gt[mask]
    pred_valid = align_prediction(pred_valid, gt_valid, align, protocol.max_depth)
    pred_valid = np.clip(pred_valid, protocol.min_depth, protocol.max_depth)
    bad = ~np.isfinite(pred_valid)
    if bad.any():
        raise MdkError(
            f"prediction has {int(bad.sum())} non-finite values (e.g. {pred_valid[bad][0]!r}) on "
            f"evaluated pixels after '{align}' alignment and clamping to "
            f"[{protocol.min_depth:g}, {protocol.max_depth:g}] m; check the model output for "
            f"NaN/inf or set a finite max_depth"
        )
    return compute_metrics(pred_valid, gt_valid)


def _affine_lstsq(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares (s, t) minimising ||s * x + t - y||^2 (minimum-norm if x is constant)."""
    design = np.stack([x, np.ones_like(x)], axis=1)
    (scale, shift), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(scale), float(shift)


def _scale_round(bound: int, size: int, reference: int) -> int:
    """``floor(bound * size / reference + 0.5)`` in exact integer arithmetic."""
    return (2 * bound * size + reference) // (2 * reference)


def _as_2d(values: np.ndarray, label: str) -> np.ndarray:
    """Drop leading singleton axes ([1, H, W], [1, 1, H, W]) and require [H, W]."""
    while values.ndim > 2 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 2:
        raise MdkError(
            f"expected the {label} to be a [H, W] map (or [1, H, W]), found shape "
            f"{tuple(values.shape)}"
        )
    return values


def _check_choice(value: str, choices: tuple[str, ...], label: str) -> None:
    if value not in choices:
        raise MdkError(f"unknown {label} {value!r}; expected one of {', '.join(choices)}")
