import math

import pytest
import torch
import torch.nn.functional as F

from monodepthkit.errors import InputError, MdkError
from monodepthkit.losses import (
    edge_aware_smoothness,
    min_reprojection,
    photometric_error,
    ssim_dissimilarity,
)
from monodepthkit.losses.photometric import ssim_target_statistics

C1, C2 = 0.01**2, 0.03**2


def _rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --- SSIM ------------------------------------------------------------------------------------


def test_ssim_of_identical_images_is_zero_dissimilarity():
    x = _rand(2, 3, 7, 9)
    assert ssim_dissimilarity(x, x).abs().max() < 1e-12


def test_ssim_constant_images_by_hand():
    # Constant windows: no variance, SSIM = (2 a b + C1) / (a^2 + b^2 + C1) = 0.3001 / 0.3401.
    x = torch.full((1, 1, 4, 5), 0.5, dtype=torch.float64)
    y = torch.full((1, 1, 4, 5), 0.3, dtype=torch.float64)
    expected = (1 - 0.3001 / 0.3401) / 2  # 0.0588062...
    torch.testing.assert_close(ssim_dissimilarity(x, y), torch.full_like(x, expected))
    assert abs(expected - 0.058806233) < 1e-8


def _ssim_window_by_hand(xs, ys):
    """(1 - SSIM) / 2 of one 3x3 window given as two flat lists of 9 values."""
    mx, my = sum(xs) / 9, sum(ys) / 9
    vx = sum(v * v for v in xs) / 9 - mx * mx
    vy = sum(v * v for v in ys) / 9 - my * my
    cxy = sum(a * b for a, b in zip(xs, ys, strict=True)) / 9 - mx * my
    ssim = ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2))
    return min(max((1 - ssim) / 2, 0.0), 1.0)


def test_ssim_3x3_case_by_hand_including_reflection_at_borders():
    x = [[0.1, 0.9, 0.4], [0.7, 0.2, 0.6], [0.3, 0.8, 0.5]]
    y = [[0.2, 0.8, 0.1], [0.6, 0.4, 0.9], [0.0, 0.7, 0.5]]
    result = ssim_dissimilarity(
        torch.tensor(x, dtype=torch.float64)[None, None],
        torch.tensor(y, dtype=torch.float64)[None, None],
    )[0, 0]
    # Reflection padding (no edge repeat): index -1 -> 1 and index 3 -> 1.
    reflect = {-1: 1, 0: 0, 1: 1, 2: 2, 3: 1}
    for row in range(3):
        for col in range(3):
            cells = [
                (reflect[row + dr], reflect[col + dc]) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
            ]
            expected = _ssim_window_by_hand(
                [x[r][c] for r, c in cells], [y[r][c] for r, c in cells]
            )
            assert result[row, col].item() == pytest.approx(expected, abs=1e-12), (row, col)
    # The centre window is the whole image: means 0.5 and 0.4667, variances 0.06667 and 0.08889,
    # covariance 0.05889 -> SSIM 0.0553943 / 0.0732022 = 0.75673 -> dissimilarity 0.12163.
    assert result[1, 1].item() == pytest.approx(0.1216307, abs=1e-6)


def test_ssim_rejects_bad_inputs():
    with pytest.raises(
        MdkError, match=r"same shape \[B, C, H, W\].*\(1, 3, 4, 4\).*\(1, 3, 4, 5\)"
    ):
        ssim_dissimilarity(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    with pytest.raises(MdkError, match="at least 2x2"):
        ssim_dissimilarity(torch.zeros(1, 3, 1, 4), torch.zeros(1, 3, 1, 4))


def _ssim_with_avg_pool(x, y):
    """The SSIM term written with ``F.avg_pool2d`` windows (Monodepth2's ``SSIM`` layer)."""
    x, y = F.pad(x, (1, 1, 1, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="reflect")
    mu_x, mu_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    sigma_x = F.avg_pool2d(x * x, 3, 1) - mu_x**2
    sigma_y = F.avg_pool2d(y * y, 3, 1) - mu_y**2
    sigma_xy = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
    n = (2 * mu_x * mu_y + C1) * (2 * sigma_xy + C2)
    d = (mu_x**2 + mu_y**2 + C1) * (sigma_x + sigma_y + C2)
    return ((1 - n / d) / 2).clamp(0, 1)


def test_ssim_matches_the_avg_pool_formula_in_value_and_gradient():
    """The row-and-column window sums give avg_pool2d's numbers: exactly in float64, and in
    float32 no further from the float64 values than the avg_pool2d formula is (the variances
    are differences of close numbers, so float32 rounding shows at ~1e-6 in both)."""
    x64, y64, weights = (
        _rand(2, 3, 20, 36),
        _rand(2, 3, 20, 36, seed=1),
        _rand(2, 3, 20, 36, seed=2),
    )

    def value_and_gradient(ssim, x, y):
        x = x.detach().clone().requires_grad_()
        value = ssim(x, y)
        (grad,) = torch.autograd.grad((value * weights.to(x.dtype)).sum(), x)
        return value.double(), grad.double()

    exact, exact_grad = value_and_gradient(ssim_dissimilarity, x64, y64)
    reference, reference_grad = value_and_gradient(_ssim_with_avg_pool, x64, y64)
    torch.testing.assert_close(exact, reference, rtol=0, atol=1e-14)
    torch.testing.assert_close(exact_grad, reference_grad, rtol=0, atol=1e-12)
    ours, ours_grad = value_and_gradient(ssim_dissimilarity, x64.float(), y64.float())
    pooled, pooled_grad = value_and_gradient(_ssim_with_avg_pool, x64.float(), y64.float())
    for float32, yardstick, truth in ((ours, pooled, exact), (ours_grad, pooled_grad, exact_grad)):
        assert (float32 - truth).abs().max() <= 2 * (yardstick - truth).abs().max()
        assert (float32 - truth).abs().mean() <= 1.5 * (yardstick - truth).abs().mean()
        assert (float32 - truth).abs().max() < 1e-5 * truth.abs().max().clamp_min(1)


def test_precomputed_target_statistics_give_the_same_numbers():
    pred, target = _rand(2, 3, 8, 10).float(), _rand(2, 3, 8, 10, seed=1).float()
    statistics = ssim_target_statistics(target)
    assert torch.equal(
        ssim_dissimilarity(pred, target, statistics), ssim_dissimilarity(pred, target)
    )
    assert torch.equal(
        photometric_error(pred, target, target_statistics=statistics),
        photometric_error(pred, target),
    )
    # ... and they are the target's: another target's give other numbers.
    other = ssim_target_statistics(_rand(2, 3, 8, 10, seed=2).float())
    assert not torch.allclose(
        ssim_dissimilarity(pred, target, other), ssim_dissimilarity(pred, target)
    )
    with pytest.raises(MdkError, match="at least 2x2"):
        ssim_target_statistics(torch.zeros(1, 3, 1, 4))


# --- photometric error -------------------------------------------------------------------------


def test_l1_part_by_hand():
    pred = torch.tensor([0.2, 0.1, 0.9], dtype=torch.float64).reshape(1, 3, 1, 1).expand(1, 3, 3, 4)
    target = (
        torch.tensor([0.5, 0.4, 0.3], dtype=torch.float64).reshape(1, 3, 1, 1).expand(1, 3, 3, 4)
    )
    l1 = photometric_error(pred, target, alpha=0.0)
    assert l1.shape == (1, 1, 3, 4)
    torch.testing.assert_close(
        l1, torch.full((1, 1, 3, 4), (0.3 + 0.3 + 0.6) / 3, dtype=torch.float64)
    )


def test_photometric_error_combines_ssim_and_l1_by_hand():
    # Constant channels 0.5 vs 0.3 (twice) and 0.2 vs 0.2: SSIM terms d, d, 0; L1 terms .2, .2, 0.
    pred = torch.tensor([0.5, 0.5, 0.2], dtype=torch.float64).reshape(1, 3, 1, 1).expand(2, 3, 4, 4)
    target = (
        torch.tensor([0.3, 0.3, 0.2], dtype=torch.float64).reshape(1, 3, 1, 1).expand(2, 3, 4, 4)
    )
    d = (1 - 0.3001 / 0.3401) / 2
    expected = 0.85 * (2 * d / 3) + 0.15 * (0.4 / 3)
    torch.testing.assert_close(
        photometric_error(pred, target), torch.full((2, 1, 4, 4), expected, dtype=torch.float64)
    )


def test_photometric_error_is_zero_for_identical_images_and_positive_otherwise():
    x = _rand(1, 3, 6, 8)
    assert photometric_error(x, x).abs().max() < 1e-12
    assert (photometric_error(x, _rand(1, 3, 6, 8, seed=1)) > 0).all()


def test_photometric_error_gradcheck_float64():
    pred = _rand(1, 3, 4, 5, seed=2).requires_grad_(True)
    target = _rand(1, 3, 4, 5, seed=3)
    assert torch.autograd.gradcheck(lambda p: photometric_error(p, target), (pred,))


def test_photometric_error_rejects_bad_alpha():
    with pytest.raises(MdkError, match=r"alpha must be in \[0, 1\].*1.5"):
        photometric_error(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), alpha=1.5)


# --- minimum reprojection and auto-masking ------------------------------------------------------


def _constant_frames(values, shape=(1, 4, 5)):
    batch, height, width = shape
    return (
        torch.tensor(values, dtype=torch.float64)
        .reshape(1, -1, 1, 1)
        .expand(batch, len(values), height, width)
    )


def test_min_and_mean_without_automask():
    reprojection = _constant_frames([0.2, 0.6])
    loss, mask = min_reprojection(reprojection, None, reduce="min")
    torch.testing.assert_close(loss, torch.full((1, 1, 4, 5), 0.2, dtype=torch.float64))
    assert mask.dtype == torch.bool and mask.all()
    loss, mask = min_reprojection(reprojection, None, reduce="mean")
    torch.testing.assert_close(loss, torch.full((1, 1, 4, 5), 0.4, dtype=torch.float64))
    assert mask.all()


def test_average_ablation_changes_the_automask_decision():
    # Reprojection errors (0.2, 0.6), identity errors (0.3, 0.4):
    # minimum: 0.2 < 0.3 -> keep, loss 0.2; average: 0.4 > 0.35 -> mask out, loss 0.35.
    reprojection = _constant_frames([0.2, 0.6])
    identity = _constant_frames([0.3, 0.4])
    generator = torch.Generator().manual_seed(0)
    loss, mask = min_reprojection(reprojection, identity, reduce="min", generator=generator)
    assert mask.all()
    torch.testing.assert_close(loss, torch.full_like(loss, 0.2))
    loss, mask = min_reprojection(reprojection, identity, reduce="mean", generator=generator)
    assert not mask.any()
    torch.testing.assert_close(loss, torch.full_like(loss, 0.35), atol=1e-4, rtol=0)


def test_per_pixel_minimum_picks_the_best_frame_per_pixel():
    reprojection = torch.stack(
        [torch.tensor([[0.1, 0.5]]), torch.tensor([[0.4, 0.2]]), torch.tensor([[0.3, 0.9]])]
    )[None]  # [1, 3, 1, 2]
    loss, _ = min_reprojection(reprojection)
    torch.testing.assert_close(loss, torch.tensor([[[[0.1, 0.2]]]]))


def test_automask_static_pair_masks_everything():
    # A static camera: the unwarped source equals the target, so the identity error is 0 while
    # any (here a wrong) warp leaves a positive reprojection error at every pixel.
    target = _rand(1, 3, 8, 10, seed=4)
    source = target.clone()
    wrongly_warped = torch.roll(source, shifts=1, dims=-1)
    reprojection = photometric_error(wrongly_warped, target)
    identity = photometric_error(source, target)
    loss, mask = min_reprojection(
        reprojection, identity, generator=torch.Generator().manual_seed(1)
    )
    assert reprojection.min() > 1e-3
    assert not mask.any()
    assert loss.abs().max() < 1e-4  # only the tie-break noise remains


def test_automask_tie_break_is_random_small_and_seeded():
    errors = torch.full((1, 1, 100, 100), 0.25, dtype=torch.float64)
    loss_a, mask_a = min_reprojection(errors, errors, generator=torch.Generator().manual_seed(2))
    loss_b, mask_b = min_reprojection(errors, errors, generator=torch.Generator().manual_seed(2))
    assert torch.equal(mask_a, mask_b) and torch.equal(loss_a, loss_b)
    assert 0.4 < mask_a.double().mean().item() < 0.6
    assert (loss_a - 0.25).abs().max() < 1e-4
    assert torch.equal(loss_a[mask_a], errors[mask_a])  # kept pixels keep their own error


def test_masked_pixels_give_no_gradient_to_the_reprojection():
    reprojection = torch.tensor([[[[0.1, 0.5]]]], dtype=torch.float64, requires_grad=True)
    identity = torch.tensor([[[[0.3, 0.3]]]], dtype=torch.float64)
    loss, mask = min_reprojection(
        reprojection, identity, generator=torch.Generator().manual_seed(3)
    )
    assert mask.tolist() == [[[[True, False]]]]
    loss.sum().backward()
    assert reprojection.grad.tolist() == [[[[1.0, 0.0]]]]


def test_min_reprojection_rejects_bad_inputs():
    with pytest.raises(MdkError, match=r"reduce must be one of \('min', 'mean'\), got 'median'"):
        min_reprojection(torch.zeros(1, 2, 3, 3), reduce="median")
    with pytest.raises(MdkError, match=r"identity must have shape.*\(1, 2, 4, 3\)"):
        min_reprojection(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 4, 3))
    with pytest.raises(MdkError, match=r"reprojection must have shape \[B, N, H, W\]"):
        min_reprojection(torch.zeros(2, 3, 3))


# --- edge-aware smoothness ----------------------------------------------------------------------


def test_smoothness_of_a_ramp_by_hand():
    # disp = 1, 2, 3, 4 along x (mean 2.5): normalised steps 0.4, no steps along y.
    disp = torch.arange(1.0, 5.0, dtype=torch.float64).repeat(2, 1, 3, 1)
    flat = torch.full((2, 3, 3, 4), 0.5, dtype=torch.float64)
    assert edge_aware_smoothness(disp, flat).item() == pytest.approx(0.4, abs=1e-6)
    # An image ramp of 0.1 per pixel along x down-weights every x step by exp(-0.1).
    image = (0.1 * torch.arange(4, dtype=torch.float64)).repeat(2, 3, 3, 1)
    assert edge_aware_smoothness(disp, image).item() == pytest.approx(
        0.4 * math.exp(-0.1), abs=1e-6
    )


def test_smoothness_edge_weight_on_a_vertical_ramp_by_hand():
    # disp rows 1, 2, 3 (mean 2): normalised steps 0.5 along y; the image has a step of 1.0 in
    # every channel between rows 0 and 1, so that pair is weighted exp(-1), the other 1.
    disp = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64).reshape(1, 1, 3, 1).expand(1, 1, 3, 4)
    image = torch.zeros(1, 3, 3, 4, dtype=torch.float64)
    image[:, :, 1:] = 1.0
    expected = (0.5 * math.exp(-1.0) + 0.5) / 2
    assert edge_aware_smoothness(disp, image).item() == pytest.approx(expected, abs=1e-6)


def test_smoothness_is_invariant_to_disparity_scale():
    disp = _rand(2, 1, 6, 7, seed=5) + 0.1
    image = _rand(2, 3, 6, 7, seed=6)
    torch.testing.assert_close(
        edge_aware_smoothness(7.5 * disp, image), edge_aware_smoothness(disp, image)
    )


def test_smoothness_rejects_mismatched_image():
    with pytest.raises(MdkError, match=r"image must have shape.*\(1, 1, 6, 7\).*\(1, 3, 12, 14\)"):
        edge_aware_smoothness(torch.ones(1, 1, 6, 7), torch.ones(1, 3, 12, 14))


def test_smoothness_rejects_a_multichannel_disparity_with_input_error():
    with pytest.raises(
        InputError,
        match=r"edge_aware_smoothness: disp must have shape \[B, 1, H, W\], got \(1, 3, 6, 7\)",
    ):
        edge_aware_smoothness(torch.ones(1, 3, 6, 7), torch.ones(1, 3, 6, 7))
