"""The nine standard depth metrics, computed on the valid pixels of one image.

The formulas follow Eigen et al. (2014) and the Monodepth2 / BTS evaluation code; SILog follows
the KITTI depth benchmark (see `compute_metrics`). Everything is computed in float64 so that the
numbers do not depend on the dtype or device of the inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from monodepthkit.errors import MdkError

METRIC_KEYS: tuple[str, ...] = (
    "abs_rel",
    "sq_rel",
    "rmse",
    "rmse_log",
    "log10",
    "silog",
    "d1",
    "d2",
    "d3",
)
"""Metric names in report order (also the keys of ``metrics.json``)."""

HIGHER_IS_BETTER: frozenset[str] = frozenset({"d1", "d2", "d3"})
"""Metrics where a larger value is better; for all others smaller is better."""


def compute_metrics(pred: Any, gt: Any) -> dict[str, float]:
    """Compute the nine depth metrics of one image.

    With ``p`` the predicted and ``g`` the ground-truth depth of the N evaluated pixels:

    - ``abs_rel = mean(|g - p| / g)``
    - ``sq_rel = mean((g - p)^2 / g)``
    - ``rmse = sqrt(mean((g - p)^2))`` (metres)
    - ``rmse_log = sqrt(mean((ln g - ln p)^2))``
    - ``log10 = mean(|log10 g - log10 p|)``
    - ``silog = 100 * sqrt(mean(d^2) - mean(d)^2)`` with ``d = ln p - ln g``: the KITTI depth
      benchmark / BTS convention (Eigen's scale-invariant error with lambda = 1, square-rooted and
      scaled by 100). Other codebases use lambda = 0.85 or omit the factor 100; their numbers are
      not comparable with this one.
    - ``d_k = mean(max(g / p, p / g) < 1.25^k)`` for k = 1, 2, 3 (a fraction in [0, 1]).

    Args:
        pred: predicted depth in metres, N values (any shape, flattened), numpy array or torch
            tensor, all finite and > 0 (clamp them first; see `monodepthkit.eval.evaluate_image`).
        gt: ground-truth depth in metres, same number of values, all finite and > 0.

    Returns:
        ``{key: value}`` for the keys of `METRIC_KEYS`, as Python floats.

    Raises:
        MdkError: empty inputs, different sizes, or non-positive / non-finite values.
    """
    pred = to_float64(pred).ravel()
    gt = to_float64(gt).ravel()
    if pred.size != gt.size:
        raise MdkError(
            f"compute_metrics: expected as many predicted as ground-truth values, "
            f"found {pred.size} and {gt.size}; pass the same masked pixels of both"
        )
    if gt.size == 0:
        raise MdkError("compute_metrics: expected at least one valid pixel, found none")
    for label, values in (("pred", pred), ("gt", gt)):
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            raise MdkError(
                f"compute_metrics: expected finite depths > 0 in {label}, found {int(bad.sum())} "
                f"values that are not (e.g. {values[bad][0]!r}); mask invalid ground truth and "
                f"clamp predictions to [min_depth, max_depth] first"
            )

    diff = gt - pred
    log_diff = np.log(pred) - np.log(gt)
    ratio = np.maximum(gt / pred, pred / gt)
    # mean(d^2) - mean(d)^2 can be a tiny negative number by rounding when d is constant.
    log_variance = max(float(np.mean(log_diff**2) - np.mean(log_diff) ** 2), 0.0)
    metrics = {
        "abs_rel": np.mean(np.abs(diff) / gt),
        "sq_rel": np.mean(diff**2 / gt),
        "rmse": np.sqrt(np.mean(diff**2)),
        "rmse_log": np.sqrt(np.mean(log_diff**2)),
        "log10": np.mean(np.abs(np.log10(gt) - np.log10(pred))),
        "silog": 100.0 * np.sqrt(log_variance),
        "d1": np.mean(ratio < 1.25),
        "d2": np.mean(ratio < 1.25**2),
        "d3": np.mean(ratio < 1.25**3),
    }
    return {key: float(metrics[key]) for key in METRIC_KEYS}


def to_float64(values: Any) -> np.ndarray:
    """Convert a numpy array, torch tensor (any device) or sequence to a float64 numpy array.

    Args:
        values: array-like of any shape.

    Returns:
        float64 numpy array of the same shape (a copy when a conversion was needed).
    """
    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", torch.float64).numpy()
    return np.asarray(values, dtype=np.float64)
