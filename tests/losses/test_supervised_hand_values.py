"""Each supervised loss on a small case whose expected value is worked out by hand."""

import math

import pytest
import torch

from monodepthkit.losses import (
    berhu_loss,
    densedepth_loss,
    gradient_l1_loss,
    l2_smoothness_loss,
    l2_smoothness_loss_terms,
    scale_invariant_log_loss,
    sobel_gradient_loss,
    ssim_loss,
)


def _map(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)[None, None]


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


def test_berhu_value_and_detached_threshold_gradient():
    # residuals |pred - target|: 0.5, 1 (negative), 5, masked -> c = 0.2 * 5 = 1
    pred = _map([[1.5, 2.0], [7.0, 9.0]]).requires_grad_()
    target = _map([[1.0, 3.0], [2.0, 0.0]])
    loss = berhu_loss(pred, target, target > 0)
    # 0.5 and 1 (= c) are on the L1 branch, 5 gives (25 + 1) / 2 = 13
    assert float(loss.detach()) == pytest.approx((0.5 + 1.0 + 13.0) / 3, rel=1e-12)
    loss.backward()
    # c is a constant for backward: d/dx (x^2 + c^2) / (2c) = x / c = 5 (a c that followed the
    # max would give 2.6 instead)
    expected = _map([[1 / 3, -1 / 3], [5 / 3, 0.0]])
    torch.testing.assert_close(pred.grad, expected)


def test_berhu_fixed_threshold():
    pred = _map([[1.5, 2.0], [7.0, 9.0]])
    target = _map([[1.0, 3.0], [2.0, 0.0]])
    # c = 2: 0.5 and 1 on the L1 branch, 5 gives (25 + 4) / 4 = 7.25
    loss = berhu_loss(pred, target, target > 0, threshold=2.0)
    assert float(loss) == pytest.approx((0.5 + 1.0 + 7.25) / 3, rel=1e-12)


def test_silog_is_computed_per_image_then_averaged():
    e = math.e
    # image 0: d = log pred - log target = [1, 0, 2] on 3 valid pixels (the 4th is masked)
    # image 1: d = [-1, -1, -1, -1]
    pred = torch.cat([_map([[e, 1.0], [e**2, 5.0]]), _map([[1.0, 1.0], [1.0, 1.0]])])
    target = torch.cat([_map([[1.0, 1.0], [1.0, 0.0]]), _map([[e, e], [e, e]])])
    mask = target > 0
    # image 0: mean d^2 = 5/3, mean d = 1; image 1: mean d^2 = 1, mean d = -1
    for lam, image0, image1 in ((0.5, 5 / 3 - 0.5, 0.5), (0.0, 5 / 3, 1.0), (1.0, 2 / 3, 0.0)):
        loss = scale_invariant_log_loss(pred, target, mask, lam=lam)
        assert float(loss) == pytest.approx((image0 + image1) / 2, rel=1e-12), lam
    # pooling the batch's 7 pixels instead would give 9/7 - 0.5/49, not 5/6
    assert float(scale_invariant_log_loss(pred, target, mask)) != pytest.approx(9 / 7 - 0.5 / 49)


def test_l2_smoothness_value_and_terms():
    pred = _map([[1.0, 2.0], [3.0, 5.0]])
    target = _map([[1.0, 1.0], [1.0, 1.0]])
    mask = target > 0
    # L2: (0 + 1 + 4 + 16) / 4; dx = [1, 2] -> mean square 2.5; dy = [2, 3] -> 6.5
    terms = l2_smoothness_loss_terms(pred, target, mask, smoothness_weight=0.1)
    assert float(terms["l2"]) == pytest.approx(21 / 4, rel=1e-12)
    assert float(terms["smoothness"]) == pytest.approx(0.1 * (2.5 + 6.5), rel=1e-12)
    loss = l2_smoothness_loss(pred, target, mask, smoothness_weight=0.1)
    assert float(loss) == pytest.approx(21 / 4 + 0.9, rel=1e-12)


def test_l2_smoothness_skips_pairs_with_a_masked_pixel():
    pred = _map([[1.0, 2.0], [3.0, 5.0]])
    target = _map([[1.0, 1.0], [1.0, 0.0]])  # bottom-right has no ground truth
    # L2: (0 + 1 + 4) / 3; only the pairs (0,0)-(0,1): dx = 1 and (0,0)-(1,0): dy = 2 remain
    loss = l2_smoothness_loss(pred, target, target > 0, smoothness_weight=0.5)
    assert float(loss) == pytest.approx(5 / 3 + 0.5 * (1.0 + 4.0), rel=1e-12)


def test_gradient_l1_value():
    pred = _map([[1.0, 2.0, 4.0], [1.0, 1.0, 1.0]])
    target = _map([[9.0, 9.0, 9.0], [1.0, 3.0, 5.0]])
    # dx: pred [[1, 2], [0, 0]], target [[0, 0], [2, 2]] -> |diff| 1, 2, 2, 2 -> mean 7/4
    # dy: pred [0, -1, -3], target [-8, -6, -4] -> |diff| 8, 5, 1 -> mean 14/3
    loss = gradient_l1_loss(pred, target, target > 0)
    assert float(loss) == pytest.approx(7 / 4 + 14 / 3, rel=1e-12)


def test_gradient_l1_skips_pairs_with_a_masked_pixel():
    pred = _map([[1.0, 2.0, 4.0], [1.0, 1.0, 1.0]])
    target = _map([[9.0, 9.0, 9.0], [1.0, 3.0, 0.0]])  # bottom-right has no ground truth
    # dx pairs left: |1 - 0|, |2 - 0|, |0 - 2| -> 5/3; dy pairs left: |0 + 8|, |-1 + 6| -> 13/2
    loss = gradient_l1_loss(pred, target, target > 0)
    assert float(loss) == pytest.approx(5 / 3 + 13 / 2, rel=1e-12)


def test_ssim_of_constant_maps_is_the_luminance_term():
    pred = torch.full((1, 1, 4, 4), 2.0, dtype=torch.float64)
    target = torch.full((1, 1, 4, 4), 1.0, dtype=torch.float64)
    # no variance: SSIM = (2 * 2 * 1 + C1) / (2^2 + 1^2 + C1), C1 = (0.01 * 1)^2
    ssim = (4.0 + 1e-4) / (5.0 + 1e-4)
    loss = ssim_loss(pred, target, target > 0, max_val=1.0, window_size=3)
    assert float(loss) == pytest.approx((1 - ssim) / 2, rel=1e-9)


def _ssim_of_window(x: list[float], y: list[float], weights: list[float], max_val: float):
    """SSIM of one window written out from the formula (weighted means, biased moments)."""
    mu_x = sum(w * a for w, a in zip(weights, x, strict=True))
    mu_y = sum(w * b for w, b in zip(weights, y, strict=True))
    var_x = sum(w * (a - mu_x) ** 2 for w, a in zip(weights, x, strict=True))
    var_y = sum(w * (b - mu_y) ** 2 for w, b in zip(weights, y, strict=True))
    cov = sum(w * (a - mu_x) * (b - mu_y) for w, a, b in zip(weights, x, y, strict=True))
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    return (
        (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    )


def test_ssim_gaussian_window_and_valid_windows_by_hand():
    pred_rows = [[1.0, 2.0, 0.5, 3.0], [2.0, 4.0, 1.0, 1.0], [0.5, 1.5, 2.5, 2.0], [3.0, 1, 2, 1]]
    target_rows = [[0.0, 2.5, 1.0, 2.0], [1.0, 3.0, 1.5, 0.5], [1.0, 1.0, 2.0, 2.5], [2.0, 2, 1, 1]]
    # 3x3 Gaussian with sigma 1.5: 1-D weights (g, 1, g) / (1 + 2g), g = exp(-1 / (2 * 1.5^2))
    g = math.exp(-1 / 4.5)
    one_d = [g / (1 + 2 * g), 1 / (1 + 2 * g), g / (1 + 2 * g)]
    weights = [a * b for a in one_d for b in one_d]
    # windows with top-left corners (0,0), (0,1), (1,0), (1,1); the first holds the masked pixel
    values = []
    for top, left in ((0, 1), (1, 0), (1, 1)):
        x = [pred_rows[top + i][left + j] for i in range(3) for j in range(3)]
        y = [target_rows[top + i][left + j] for i in range(3) for j in range(3)]
        values.append(_ssim_of_window(x, y, weights, max_val=4.0))
    expected = (1 - sum(values) / 3) / 2
    pred, target = _map(pred_rows), _map(target_rows)
    loss = ssim_loss(pred, target, target > 0, max_val=4.0, window_size=3)
    assert float(loss) == pytest.approx(expected, rel=1e-10)


def test_densedepth_value_on_constant_maps():
    pred = torch.full((1, 1, 4, 4), 2.0, dtype=torch.float64)
    target = torch.full((1, 1, 4, 4), 1.0, dtype=torch.float64)
    # grad 0 (flat maps), SSIM term as in the constant-map test, L1 = 1
    ssim_term = (1 - (4.0 + 1e-4) / (5.0 + 1e-4)) / 2
    loss = densedepth_loss(pred, target, target > 0, max_val=1.0, window_size=3)
    assert float(loss) == pytest.approx(1.5 * 0.0 + 1.0 * ssim_term + 0.2 * 1.0, rel=1e-9)


def test_sobel_gradient_loss_horizontal_by_hand():
    # valid positions: row 1, columns 1 and 2
    target = _map([[float(j) for j in range(4)] for _ in range(3)])  # Gx = 4 * 2 = 8, Gy = 0
    pred = _map([[float(j * j) for j in range(4)] for _ in range(3)])  # Gx = 16j: 16, 32
    # target: Gx^2 / max = 1 at both, Gy term 0 (flat) -> S(1); pred: 256/1024, 1 -> S(.25), S(1)
    expected = (abs(_sigmoid(1) - _sigmoid(0.25)) + 0.0) / 2
    loss = sobel_gradient_loss(pred, target, torch.ones_like(target, dtype=torch.bool))
    assert float(loss) == pytest.approx(expected, rel=1e-12)


def test_sobel_gradient_loss_vertical_by_hand():
    # valid positions: rows 1 and 2, column 1
    target = _map([[float(i + j) for j in range(3)] for i in range(4)])  # Gx = Gy = 8
    pred = _map([[float(i * i + j) for j in range(3)] for i in range(4)])  # Gx = 8, Gy = 16i
    # target: 1 + 1 -> S(2) at both; pred: 1 + 256/1024 -> S(1.25), 1 + 1 -> S(2)
    expected = (abs(_sigmoid(2) - _sigmoid(1.25)) + 0.0) / 2
    loss = sobel_gradient_loss(pred, target, torch.ones_like(target, dtype=torch.bool))
    assert float(loss) == pytest.approx(expected, rel=1e-12)


def test_sobel_gradient_loss_maxima_run_over_valid_positions():
    target = _map([[float(j) for j in range(4)] for _ in range(3)])
    pred = _map([[float(j * j) for j in range(4)] for _ in range(3)])
    mask = torch.ones_like(target, dtype=torch.bool)
    mask[0, 0, 0, 3] = False  # removes the position at column 2 (its 3x3 support holds it)
    # one position left: both normalise to Gx^2 / max = 1 -> S(1) - S(1) = 0
    assert float(sobel_gradient_loss(pred, target, mask)) == pytest.approx(0.0, abs=1e-15)
