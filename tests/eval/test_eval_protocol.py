"""Protocols: valid range, crops, resizing, alignment, clamping and the per-image pipeline."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from monodepthkit.errors import MdkError
from monodepthkit.eval import (
    METRIC_KEYS,
    Protocol,
    align_prediction,
    compute_metrics,
    crop_box,
    evaluate_image,
    evaluation_mask,
    fit_alignment,
    get_protocol,
    resize_prediction,
)


def _random_depth(shape, seed=0, low=1.0, high=30.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


# --- protocols ---------------------------------------------------------------------------------


def test_named_protocols():
    assert get_protocol("kitti") == Protocol("kitti", 1e-3, 80.0, "garg")
    assert get_protocol("nyu") == Protocol("nyu", 1e-3, 10.0, "eigen_nyu")
    assert get_protocol("none") == Protocol("none", 1e-3, math.inf, None)
    assert get_protocol("none", max_depth=80) == Protocol("none", 1e-3, 80.0, None)
    assert get_protocol("kitti", min_depth=0.1).min_depth == 0.1


def test_unknown_protocol_lists_choices():
    with pytest.raises(MdkError, match=r"'eigen'.*kitti, nyu, none"):
        get_protocol("eigen")


@pytest.mark.parametrize(("low", "high"), [(0.0, None), (-1.0, None), (None, 1e-4), (5.0, 5.0)])
def test_bad_depth_range_raises(low, high):
    with pytest.raises(MdkError, match="kitti"):
        get_protocol("kitti", min_depth=low, max_depth=high)


def test_valid_range_is_strict():
    gt = np.array([[0.0, 1e-3, 0.0011, 5.0], [79.99, 80.0, 81.0, np.nan]])
    mask = evaluation_mask(gt, get_protocol("none", max_depth=80))
    np.testing.assert_array_equal(mask, [[False, False, True, True], [True, False, False, False]])


# --- crops -------------------------------------------------------------------------------------


def _true_span(flags):
    indices = np.flatnonzero(flags)
    assert np.array_equal(indices, np.arange(indices[0], indices[-1] + 1)), "not contiguous"
    return int(indices[0]), int(indices[-1]) + 1


def test_garg_crop_at_kitti_size():
    assert crop_box(375, 1242, "garg") == (153, 371, 44, 1197)
    mask = evaluation_mask(np.full((375, 1242), 10.0), get_protocol("kitti"))
    assert _true_span(mask.any(axis=1)) == (153, 371)
    assert _true_span(mask.any(axis=0)) == (44, 1197)
    assert mask.sum() == (371 - 153) * (1197 - 44)


def test_garg_crop_truncates_at_other_sizes():
    # 0.40810811 * 352 = 143.65, 0.99189189 * 352 = 349.15, 0.03594771 * 1216 = 43.71,
    # 0.96405229 * 1216 = 1172.29 -> truncated like Monodepth2's astype(np.int32).
    assert crop_box(352, 1216, "garg") == (143, 349, 43, 1172)


def test_eigen_nyu_crop_at_480x640():
    assert crop_box(480, 640, "eigen_nyu") == (45, 471, 41, 601)
    mask = evaluation_mask(np.full((480, 640), 3.0), get_protocol("nyu"))
    assert _true_span(mask.any(axis=1)) == (45, 471)
    assert _true_span(mask.any(axis=0)) == (41, 601)
    assert mask.sum() == (471 - 45) * (601 - 41)


def test_eigen_nyu_crop_scales_and_rounds_half_up():
    # Half size: 22.5 -> 23, 235.5 -> 236, 20.5 -> 21, 300.5 -> 301.
    assert crop_box(240, 320, "eigen_nyu") == (23, 236, 21, 301)
    assert crop_box(960, 1280, "eigen_nyu") == (90, 942, 82, 1202)


def test_no_crop_and_unknown_crop():
    assert crop_box(10, 10, None) is None
    with pytest.raises(MdkError, match="garg, eigen_nyu"):
        crop_box(10, 10, "kb")


def test_crop_and_range_combine():
    gt = np.full((480, 640), 3.0)
    gt[100, 100] = 0.0  # inside the crop but invalid
    gt[200, 300] = 12.0  # beyond the NYU cap
    mask = evaluation_mask(gt, get_protocol("nyu"))
    assert not mask[100, 100] and not mask[200, 300] and mask[101, 100]
    assert mask.sum() == (471 - 45) * (601 - 41) - 2


# --- resizing ----------------------------------------------------------------------------------


def test_resize_depth_is_bilinear_half_pixel():
    # Upsampling width 2 -> 4: output x maps to source (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75,
    # 1.25, clamped at the borders -> weights give a, 0.75a + 0.25b, 0.25a + 0.75b, b.
    depth = np.array([[1.0, 0.5], [1.0, 0.5]])
    resized = resize_prediction(depth, (2, 4), kind="depth")
    np.testing.assert_allclose(resized, [[1.0, 0.875, 0.625, 0.5]] * 2, rtol=1e-12)


def test_resize_disparity_resizes_then_inverts():
    disparity = np.array([[1.0, 2.0], [1.0, 2.0]])
    resized = resize_prediction(disparity, (2, 4), kind="disparity")
    # Disparity interpolates to 1, 1.25, 1.75, 2, then depth = 1 / disparity.
    np.testing.assert_allclose(resized, [[1.0, 0.8, 1 / 1.75, 0.5]] * 2, rtol=1e-12)
    # Resizing the depth instead would give 1, 0.875, 0.625, 0.5: a different answer.
    assert not np.allclose(resized, resize_prediction(1 / disparity, (2, 4), "depth"))


def test_resize_accepts_torch_and_leading_axes():
    disparity = torch.rand(1, 1, 6, 8, dtype=torch.float32) + 0.5
    resized = resize_prediction(disparity, (12, 16), kind="disparity")
    assert resized.shape == (12, 16) and resized.dtype == np.float64
    same = resize_prediction(disparity[0, 0].numpy(), (12, 16), kind="disparity")
    np.testing.assert_array_equal(resized, same)


def test_resize_same_size_is_identity_and_bad_inputs_raise():
    depth = _random_depth((5, 7))
    np.testing.assert_array_equal(resize_prediction(depth, (5, 7)), depth)
    with pytest.raises(MdkError, match="depth, disparity"):
        resize_prediction(depth, (5, 7), kind="inverse")
    with pytest.raises(MdkError, match=r"\(3, 5, 7\)"):
        resize_prediction(np.ones((3, 5, 7)), (5, 7))


# --- alignment ---------------------------------------------------------------------------------


def test_median_alignment_makes_metrics_scale_invariant():
    gt = _random_depth((20, 30), seed=1)
    pred = gt * _random_depth((20, 30), seed=2, low=0.7, high=1.3)
    protocol = get_protocol("none")
    reference = evaluate_image(pred, gt, protocol, align="median")
    scaled = evaluate_image(pred * 37.5, gt, protocol, align="median")
    for key in METRIC_KEYS:
        assert scaled[key] == pytest.approx(reference[key], rel=1e-12, abs=1e-12), key
    # Without alignment the scaled prediction is far worse.
    assert evaluate_image(pred * 37.5, gt, protocol)["abs_rel"] > 10 * reference["abs_rel"]


def test_median_ratio():
    scale, shift = fit_alignment(np.array([1.0, 2.0, 10.0]), np.array([3.0, 8.0, 9.0]), "median")
    assert (scale, shift) == (4.0, 0.0)


def test_lstsq_recovers_exact_scale():
    gt = _random_depth(500, seed=3)
    scale, shift = fit_alignment(gt / 3.0, gt, "lstsq")
    assert scale == pytest.approx(3.0, rel=1e-12) and shift == 0.0
    np.testing.assert_allclose(align_prediction(gt / 3.0, gt, "lstsq"), gt, rtol=1e-12)


def test_lstsq_closed_form():
    pred, gt = np.array([1.0, 2.0]), np.array([2.0, 3.0])
    # s = <p, g> / <p, p> = (2 + 6) / (1 + 4) = 1.6
    assert fit_alignment(pred, gt, "lstsq")[0] == pytest.approx(1.6, rel=1e-12)


def test_scale_shift_recovers_exact_affine_in_depth():
    gt = _random_depth(500, seed=4)
    pred = (gt - 1.5) / 2.0  # gt = 2 * pred + 1.5; pred may be negative
    scale, shift = fit_alignment(pred, gt, "scale_shift")
    assert scale == pytest.approx(2.0, rel=1e-10) and shift == pytest.approx(1.5, rel=1e-10)
    np.testing.assert_allclose(align_prediction(pred, gt, "scale_shift"), gt, rtol=1e-10)


def test_scale_shift_disp_recovers_affine_in_inverse_depth():
    gt = _random_depth(500, seed=5, low=1.0, high=10.0)
    disparity = (1.0 / gt - 0.05) / 0.5  # 1/gt = 0.5 * disparity + 0.05, disparity in [0.1, 1.9]
    pred_depth = 1.0 / disparity
    scale, shift = fit_alignment(pred_depth, gt, "scale_shift_disp")
    assert scale == pytest.approx(0.5, rel=1e-10) and shift == pytest.approx(0.05, rel=1e-8)
    np.testing.assert_allclose(align_prediction(pred_depth, gt, "scale_shift_disp"), gt, rtol=1e-9)
    # The same relation is not an affine map in depth: scale_shift cannot recover it.
    assert not np.allclose(align_prediction(pred_depth, gt, "scale_shift"), gt, rtol=1e-3)


def test_scale_shift_disp_guards_non_positive_disparity():
    # Nine disparities on 1/gt = 0.5 * x - 0.1 plus one outlier at x = 0.05: the fit has a
    # negative shift, so the outlier's fitted disparity is negative.
    disparity = np.concatenate([np.linspace(0.4, 2.0, 9), [0.05]])
    gt_disparity = 0.5 * disparity - 0.1
    gt_disparity[-1] = 0.01
    pred_depth, gt = 1.0 / disparity, 1.0 / gt_disparity
    scale, shift = fit_alignment(pred_depth, gt, "scale_shift_disp")
    fitted_disparity = scale / pred_depth + shift
    assert fitted_disparity[-1] < 0  # the case the guard is for
    aligned = align_prediction(pred_depth, gt, "scale_shift_disp", max_depth=80.0)
    assert np.all(np.isfinite(aligned)) and np.all(aligned > 0)
    np.testing.assert_allclose(aligned[fitted_disparity <= 1 / 80], 80.0)
    np.testing.assert_allclose(
        aligned[fitted_disparity > 1 / 80], 1 / fitted_disparity[fitted_disparity > 1 / 80]
    )
    # Without a finite cap the floor is 1e-6 / m, i.e. 1e6 m: still finite.
    assert np.all(np.isfinite(align_prediction(pred_depth, gt, "scale_shift_disp")))


def test_alignment_errors():
    with pytest.raises(MdkError, match="none, median, lstsq, scale_shift, scale_shift_disp"):
        align_prediction(np.ones(3), np.ones(3), "mean")
    with pytest.raises(MdkError, match="median"):
        align_prediction(-np.ones(3), np.ones(3), "median")
    with pytest.raises(MdkError, match="kind='disparity'"):
        align_prediction(np.array([1.0, -1.0]), np.ones(2), "scale_shift_disp")


# --- the per-image pipeline --------------------------------------------------------------------


def test_invalid_ground_truth_is_excluded():
    gt = _random_depth((16, 16), seed=6)
    gt[::3, ::2] = 0.0
    pred = gt * 1.1
    protocol = get_protocol("none")
    before = evaluate_image(pred, gt, protocol)
    pred_changed = pred.copy()
    pred_changed[gt == 0] = 1000.0
    after = evaluate_image(pred_changed, gt, protocol)
    assert before == after
    assert before["abs_rel"] == pytest.approx(0.1, rel=1e-12)


def test_clamp_after_alignment():
    gt = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([0.5e-3, 2.0, 3.0, 100.0])
    protocol = get_protocol("none", max_depth=5.0)
    metrics = evaluate_image(pred.reshape(2, 2), gt.reshape(2, 2), protocol)
    assert metrics == compute_metrics(np.array([1e-3, 2.0, 3.0, 5.0]), gt)


def test_clamp_happens_after_alignment():
    gt = np.array([[1.0, 2.0, 3.0, 4.0, 1.0]])
    pred = np.array([[0.5, 1.0, 1.5, 4.0, 0.0008]])  # median ratio 2 / 1 = 2
    metrics = evaluate_image(pred, gt, get_protocol("none", max_depth=5.0), align="median")
    # Aligned: 1, 2, 3, 8, 0.0016; clamped to [1e-3, 5]: 8 -> 5 although 4 was inside the range,
    # and 0.0016 stays (clamping first would have given 0.002).
    expected = compute_metrics(np.array([1.0, 2.0, 3.0, 5.0, 0.0016]), gt)
    for key in METRIC_KEYS:
        assert metrics[key] == pytest.approx(expected[key], rel=1e-12), key
    clamped_first = compute_metrics(np.array([1.0, 2.0, 3.0, 5.0, 0.002]), gt)
    assert metrics["abs_rel"] != pytest.approx(clamped_first["abs_rel"], rel=1e-6)


def test_fixed_scale_is_applied_before_alignment():
    gt = _random_depth((8, 8), seed=7)
    pred = gt / 5.4
    protocol = get_protocol("none")
    assert evaluate_image(pred, gt, protocol, scale=5.4)["abs_rel"] == pytest.approx(0, abs=1e-12)
    assert evaluate_image(pred, gt, protocol)["abs_rel"] == pytest.approx(1 - 1 / 5.4)


def test_pipeline_matches_step_by_step_monodepth2_order():
    rng = np.random.default_rng(8)
    gt = rng.uniform(2.0, 90.0, size=(60, 200))
    gt[rng.random(gt.shape) < 0.7] = 0.0  # sparse, like projected LiDAR
    disparity = rng.uniform(0.01, 0.5, size=(16, 48)).astype(np.float32)
    protocol = get_protocol("kitti")
    metrics = evaluate_image(disparity, gt, protocol, align="median", kind="disparity")

    depth = 1.0 / cv2.resize(disparity, (200, 60), interpolation=cv2.INTER_LINEAR).astype(float)
    mask = (gt > 1e-3) & (gt < 80)
    crop = np.zeros_like(mask)
    crop[24:59, 7:192] = True  # int(0.40810811 * 60) = 24, ..., int(0.96405229 * 200) = 192
    mask &= crop
    pred_valid, gt_valid = depth[mask], gt[mask]
    pred_valid *= np.median(gt_valid) / np.median(pred_valid)
    pred_valid = np.clip(pred_valid, 1e-3, 80)
    expected = compute_metrics(pred_valid, gt_valid)
    for key in METRIC_KEYS:
        assert metrics[key] == pytest.approx(expected[key], rel=1e-12), key


def test_image_without_valid_pixel_returns_empty():
    gt = np.zeros((375, 1242))
    gt[:100] = 10.0  # valid depth only above the Garg crop
    assert evaluate_image(np.ones((10, 10)), gt, get_protocol("kitti")) == {}


def test_non_finite_prediction_raises():
    gt = np.ones((4, 4))
    pred = np.ones((4, 4))
    pred[1, 1] = np.nan
    with pytest.raises(MdkError, match="non-finite"):
        evaluate_image(pred, gt, get_protocol("none"))
