"""The nine metrics against values worked out by hand from their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monodepthkit.errors import MdkError
from monodepthkit.eval import METRIC_KEYS, compute_metrics

# gt and pred chosen so that every metric, and each threshold, gives a distinct value:
# ratios max(g/p, p/g) = 1.8, 1, 2, 1.5 -> d1 = 1/4, d2 (< 1.5625) = 2/4, d3 (< 1.953125) = 3/4.
GT = [1.0, 2.0, 4.0, 1.0]
PRED = [1.8, 2.0, 2.0, 1.5]
LN18, LN2, LN15 = math.log(1.8), math.log(2.0), math.log(1.5)
MEAN_D = (LN18 - LN2 + LN15) / 4  # d = ln p - ln g = (ln 1.8, 0, -ln 2, ln 1.5)
MEAN_D2 = (LN18**2 + LN2**2 + LN15**2) / 4
EXPECTED = {
    "abs_rel": (0.8 / 1 + 0 / 2 + 2 / 4 + 0.5 / 1) / 4,  # 0.45
    "sq_rel": (0.64 / 1 + 0 / 2 + 4 / 4 + 0.25 / 1) / 4,  # 0.4725
    "rmse": math.sqrt((0.64 + 0 + 4 + 0.25) / 4),  # sqrt(1.2225)
    "rmse_log": math.sqrt(MEAN_D2),
    "log10": (math.log10(1.8) + 0 + math.log10(2) + math.log10(1.5)) / 4,
    "silog": 100 * math.sqrt(MEAN_D2 - MEAN_D**2),
    "d1": 0.25,
    "d2": 0.5,
    "d3": 0.75,
}


def test_keys_in_report_order():
    expected = ["abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "d1", "d2", "d3"]
    assert expected == list(METRIC_KEYS)


def test_hand_computed_values():
    metrics = compute_metrics(np.array(PRED), np.array(GT))
    assert list(metrics) == list(METRIC_KEYS)
    assert metrics["abs_rel"] == pytest.approx(0.45, abs=1e-12)
    assert metrics["sq_rel"] == pytest.approx(0.4725, abs=1e-12)
    assert metrics["rmse"] == pytest.approx(1.1056672193, abs=1e-9)
    for key, value in EXPECTED.items():
        assert metrics[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_torch_float32_and_numpy_agree_in_float64():
    from_numpy = compute_metrics(np.array(PRED), np.array(GT))
    from_torch = compute_metrics(torch.tensor(PRED, dtype=torch.float32), torch.tensor(GT))
    for key in METRIC_KEYS:
        # 1.8 is not exact in float32; everything else is computed in float64.
        assert from_torch[key] == pytest.approx(from_numpy[key], rel=1e-6), key
    assert all(isinstance(value, float) for value in from_torch.values())


def test_silog_is_zero_for_a_global_scale():
    gt = np.array([1.0, 3.0, 7.0, 20.0])
    metrics = compute_metrics(gt * 1.7, gt)
    assert metrics["silog"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["rmse_log"] == pytest.approx(math.log(1.7), rel=1e-12)


def test_perfect_prediction():
    gt = np.linspace(0.5, 80, 50)
    metrics = compute_metrics(gt, gt)
    for key in ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog"):
        assert metrics[key] == 0.0
    assert metrics["d1"] == metrics["d2"] == metrics["d3"] == 1.0


@pytest.mark.parametrize(
    ("pred", "gt", "fragment"),
    [
        ([1.0, 2.0], [1.0], "found 2 and 1"),
        ([], [], "at least one"),
        ([0.0, 1.0], [1.0, 1.0], "pred"),
        ([1.0, 1.0], [1.0, float("nan")], "gt"),
    ],
)
def test_invalid_inputs_raise(pred, gt, fragment):
    with pytest.raises(MdkError, match=fragment):
        compute_metrics(np.array(pred), np.array(gt))
