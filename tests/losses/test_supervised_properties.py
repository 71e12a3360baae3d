"""Properties every supervised loss keeps: masking, module == function, gradients, identities,
the registry and its errors."""

import pytest
import torch

from monodepthkit.errors import MdkError
from monodepthkit.losses import (
    SUPERVISED_LOSSES,
    BerHuLoss,
    DenseDepthLoss,
    GradientL1Loss,
    L2SmoothnessLoss,
    ScaleInvariantLogLoss,
    SobelGradientLoss,
    SSIMLoss,
    berhu_loss,
    build_supervised_loss,
    densedepth_loss,
    get_supervised_loss,
    gradient_l1_loss,
    l2_smoothness_loss,
    masked_l1,
    scale_invariant_log_loss,
    sobel_gradient_loss,
    ssim_loss,
    supervised_loss_params,
)

ALL_NAMES = sorted(SUPERVISED_LOSSES)


def _depth_pair(size: int = 16, batch: int = 2, seed: int = 0, dtype=torch.float64):
    """Random positive depth maps (B, 1, size, size) and a mask with a hole in a corner."""
    generator = torch.Generator().manual_seed(seed)
    pred = 1.0 + 3.0 * torch.rand(batch, 1, size, size, generator=generator, dtype=dtype)
    target = 1.0 + 3.0 * torch.rand(batch, 1, size, size, generator=generator, dtype=dtype)
    mask = torch.ones_like(target, dtype=torch.bool)
    mask[:, :, :3, :3] = False
    mask[0, 0, -1, -1] = False
    target = torch.where(mask, target, 0.0)
    return pred, target, mask


@pytest.mark.parametrize("name", ALL_NAMES)
def test_masked_pixels_do_not_change_the_value_nor_poison_the_gradient(name):
    pred, target, mask = _depth_pair()
    loss = build_supervised_loss(name)
    reference, _ = loss(pred, target, mask)
    wild_pred = torch.where(mask, pred, -50.0).requires_grad_()
    wild_target = torch.where(mask, target, 1e6)
    value, _ = loss(wild_pred, wild_target, mask)
    assert float(value.detach()) == pytest.approx(float(reference), rel=1e-12, abs=1e-15)
    value.backward()
    assert torch.isfinite(wild_pred.grad).all()
    assert (wild_pred.grad[~mask] == 0).all()
    assert float(reference) > 0  # the case is not trivially zero


@pytest.mark.parametrize("name", ALL_NAMES)
def test_empty_mask_gives_zero_with_a_gradient(name):
    pred, target, _ = _depth_pair()
    pred.requires_grad_()
    empty = torch.zeros_like(target, dtype=torch.bool)
    total, terms = build_supervised_loss(name)(pred, target, empty)
    total.backward()
    assert float(total.detach()) == 0.0
    assert all(float(term.detach()) == 0.0 for term in terms.values())
    assert pred.grad is not None and (pred.grad == 0).all()


@pytest.mark.parametrize("name", ALL_NAMES)
def test_terms_sum_to_the_total(name):
    pred, target, mask = _depth_pair()
    total, terms = build_supervised_loss(name)(pred, target, mask)
    assert float(sum(terms.values())) == pytest.approx(float(total), rel=1e-12)
    assert float(total) == pytest.approx(float(get_supervised_loss(name)(pred, target, mask)))


def test_composite_term_names_and_weights():
    pred, target, mask = _depth_pair()
    _, terms = build_supervised_loss("densedepth", grad_weight=2.0, l1_weight=0.5)(
        pred, target, mask
    )
    assert set(terms) == {"grad", "ssim", "l1"}
    assert float(terms["grad"]) == pytest.approx(2.0 * float(gradient_l1_loss(pred, target, mask)))
    assert float(terms["ssim"]) == pytest.approx(float(ssim_loss(pred, target, mask)))
    assert float(terms["l1"]) == pytest.approx(0.5 * float(masked_l1(pred, target, mask)))
    _, smooth_terms = build_supervised_loss("l2_smooth")(pred, target, mask)
    assert set(smooth_terms) == {"l2", "smoothness"}
    _, simple_terms = build_supervised_loss("silog", lam=0.2)(pred, target, mask)
    assert set(simple_terms) == {"silog"}


def test_densedepth_is_the_weighted_sum_of_its_parts():
    pred, target, mask = _depth_pair()
    grad = float(gradient_l1_loss(pred, target, mask))
    ssim = float(ssim_loss(pred, target, mask, max_val=4.0))
    l1 = float(masked_l1(pred, target, mask))
    default = densedepth_loss(pred, target, mask, max_val=4.0)
    assert float(default) == pytest.approx(1.5 * grad + 1.0 * ssim + 0.2 * l1, rel=1e-12)
    custom = densedepth_loss(
        pred, target, mask, grad_weight=0.3, ssim_weight=2.0, l1_weight=0.0, max_val=4.0
    )
    assert float(custom) == pytest.approx(0.3 * grad + 2.0 * ssim, rel=1e-12)


def test_report_defaults():
    assert supervised_loss_params("densedepth")["grad_weight"] == 1.5
    assert supervised_loss_params("densedepth")["ssim_weight"] == 1.0
    assert supervised_loss_params("densedepth")["l1_weight"] == 0.2
    assert supervised_loss_params("silog")["lam"] == 0.5
    assert supervised_loss_params("berhu")["threshold_ratio"] == 0.2
    assert supervised_loss_params("ssim")["window_size"] == 11
    assert supervised_loss_params("ssim")["sigma"] == 1.5


@pytest.mark.parametrize(
    ("module", "function", "params"),
    [
        (BerHuLoss, berhu_loss, {"threshold_ratio": 0.3}),
        (BerHuLoss, berhu_loss, {"threshold": 0.7}),
        (ScaleInvariantLogLoss, scale_invariant_log_loss, {"lam": 0.85}),
        (L2SmoothnessLoss, l2_smoothness_loss, {"smoothness_weight": 0.7}),
        (GradientL1Loss, gradient_l1_loss, {}),
        (SSIMLoss, ssim_loss, {"max_val": 4.0, "window_size": 5, "sigma": 1.0}),
        (DenseDepthLoss, densedepth_loss, {"grad_weight": 1.0, "max_val": 4.0, "window_size": 7}),
        (SobelGradientLoss, sobel_gradient_loss, {}),
    ],
)
def test_module_equals_function(module, function, params):
    pred, target, mask = _depth_pair()
    assert float(module(**params)(pred, target, mask)) == float(
        function(pred, target, mask, **params)
    )


def _gradcheck(function, size: int = 6, seed: int = 1) -> bool:
    pred, target, mask = _depth_pair(size=size, seed=seed)
    mask[:, :, :3, :3] = True  # keep a small hole only: the maps are small
    mask[0, 0, 0, 0] = False
    target = torch.where(mask, target.clamp_min(1.0), 0.0)
    pred.requires_grad_()
    return torch.autograd.gradcheck(lambda p: function(p, target, mask), (pred,))


@pytest.mark.parametrize(
    "function",
    [
        lambda p, t, m: scale_invariant_log_loss(p, t, m, lam=0.5),
        lambda p, t, m: l2_smoothness_loss(p, t, m, smoothness_weight=0.3),
        gradient_l1_loss,
        lambda p, t, m: ssim_loss(p, t, m, max_val=4.0, window_size=3),
        lambda p, t, m: densedepth_loss(p, t, m, max_val=4.0, window_size=3),
        sobel_gradient_loss,
        lambda p, t, m: berhu_loss(p, t, m, threshold=0.5),
    ],
    ids=["silog", "l2_smooth", "grad_l1", "ssim", "densedepth", "sobel_grad", "berhu_fixed_c"],
)
def test_gradcheck(function):
    assert _gradcheck(function)


def test_berhu_gradcheck_with_the_batch_threshold():
    # The largest residual sets c and is held fixed: c is then constant, and the other pixels'
    # gradients (both branches) must match finite differences.
    generator = torch.Generator().manual_seed(2)
    target = 2.0 + torch.rand(1, 1, 3, 3, generator=generator, dtype=torch.float64)
    offsets = torch.tensor([-1.5, -1.0, -0.5, -0.1, 0.2, 0.7, 1.2, 1.8], dtype=torch.float64)
    mask = torch.ones_like(target, dtype=torch.bool)

    def loss_of_rest(offsets: torch.Tensor) -> torch.Tensor:
        residual = torch.cat([torch.tensor([5.0], dtype=torch.float64), offsets])  # c = 1
        return berhu_loss(target + residual.view(1, 1, 3, 3), target, mask)

    assert torch.autograd.gradcheck(loss_of_rest, (offsets.clone().requires_grad_(),))


def test_ssim_of_identical_maps_is_zero():
    pred, _, mask = _depth_pair()
    assert float(ssim_loss(pred, pred.clone(), mask)) == pytest.approx(0.0, abs=1e-12)
    assert float(ssim_loss(pred, 2 * pred, mask, max_val=4.0)) > 0.01


def test_silog_with_lambda_one_ignores_a_scale_per_image():
    pred, target, mask = _depth_pair()
    scale = torch.tensor([3.0, 0.25], dtype=torch.float64).view(2, 1, 1, 1)
    for lam, invariant in ((1.0, True), (0.5, False)):
        base = float(scale_invariant_log_loss(pred, target, mask, lam=lam))
        scaled = float(scale_invariant_log_loss(pred * scale, target, mask, lam=lam))
        assert (scaled == pytest.approx(base, rel=1e-9)) is invariant, lam


def test_silog_with_lambda_zero_is_l2_on_logs():
    pred, target, mask = _depth_pair(batch=1)
    expected = float(((pred.log() - target.clamp_min(1e-9).log())[mask] ** 2).mean())
    loss = scale_invariant_log_loss(pred, target, mask, lam=0.0)
    assert float(loss) == pytest.approx(expected, rel=1e-12)


def test_silog_clamps_non_positive_predictions():
    pred, target, mask = _depth_pair(batch=1)
    pred = pred.clone()
    pred[0, 0, 8, 8] = 0.0
    clamped = pred.clone()
    clamped[0, 0, 8, 8] = 1e-6
    pred.requires_grad_()
    loss = scale_invariant_log_loss(pred, target, mask)
    loss.backward()
    assert torch.isfinite(pred.grad).all() and float(pred.grad[0, 0, 8, 8]) == 0.0
    assert float(loss.detach()) == pytest.approx(
        float(scale_invariant_log_loss(clamped, target, mask))
    )


def test_silog_rejects_non_positive_valid_targets():
    pred, target, _ = _depth_pair()
    with pytest.raises(ValueError, match="non-positive depth at valid pixels"):
        scale_invariant_log_loss(pred, target, torch.ones_like(target, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"lam must be in \[0, 1\]"):
        scale_invariant_log_loss(pred, target, target > 0, lam=1.5)


def test_berhu_equals_l1_when_all_residuals_are_below_c():
    pred, target, mask = _depth_pair()
    berhu = float(berhu_loss(pred, target, mask, threshold=10.0))  # residuals are below 3
    assert berhu == pytest.approx(float(masked_l1(pred, target, mask)), rel=1e-12)
    # with the batch threshold the largest residuals are above c, so BerHu exceeds L1
    assert float(berhu_loss(pred, target, mask)) > berhu


def test_berhu_of_a_perfect_prediction_is_zero_with_finite_gradient():
    _, target, mask = _depth_pair()
    pred = target.clone().requires_grad_()
    loss = berhu_loss(pred, target, mask)
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.isfinite(pred.grad).all()


def test_sobel_gradient_loss_properties():
    pred, target, mask = _depth_pair()
    # units cancel in the max-normalisation
    base = float(sobel_gradient_loss(pred, target, mask))
    assert float(sobel_gradient_loss(3.0 * pred, 0.5 * target, mask)) == pytest.approx(base)
    assert float(sobel_gradient_loss(pred, pred.clone(), mask)) == 0.0
    # sigmoid-bounded: both maps lie in [S(0), S(2)]
    flat = torch.ones_like(pred)
    assert 0 < float(sobel_gradient_loss(flat, target, mask)) < 0.3808


def test_shape_and_parameter_errors():
    pred, target, mask = _depth_pair()
    with pytest.raises(ValueError, match="share a shape"):
        gradient_l1_loss(pred, target[..., :-1], mask)
    with pytest.raises(ValueError, match=r"shape \(B, 1, H, W\)"):
        gradient_l1_loss(pred[:, 0], target[:, 0], mask[:, 0])
    with pytest.raises(ValueError, match="mask must be a boolean tensor"):
        gradient_l1_loss(pred, target, mask.double())
    with pytest.raises(ValueError, match="at least window_size=11"):
        ssim_loss(pred[..., :8, :8], target[..., :8, :8], mask[..., :8, :8])
    with pytest.raises(ValueError, match="window_size must be a positive odd"):
        ssim_loss(pred, target, mask, window_size=4)
    with pytest.raises(ValueError, match="max_val must be positive"):
        ssim_loss(pred, target, mask, max_val=0.0)
    with pytest.raises(ValueError, match="threshold must be positive"):
        berhu_loss(pred, target, mask, threshold=-1.0)
    with pytest.raises(ValueError, match="smoothness_weight must be >= 0"):
        l2_smoothness_loss(pred, target, mask, smoothness_weight=-0.1)


def test_registry_names_and_errors():
    assert set(SUPERVISED_LOSSES) == {
        "l1",
        "mse",
        "berhu",
        "silog",
        "l2_smooth",
        "grad_l1",
        "ssim",
        "densedepth",
        "sobel_grad",
    }
    with pytest.raises(MdkError, match="unknown loss 'huber'; available: berhu, densedepth"):
        build_supervised_loss("huber")
    with pytest.raises(
        MdkError, match="unknown parameter 'lambda' for loss 'silog'; its parameters: lam, eps"
    ):
        build_supervised_loss("silog", **{"lambda": 0.5})
    with pytest.raises(
        MdkError, match="unknown parameter 'lam' for loss 'l1'; its parameters: none"
    ):
        build_supervised_loss("l1", lam=0.5)
    assert "lam=0.85" in repr(build_supervised_loss("silog", lam=0.85))


@pytest.mark.parametrize("name", ["silog", "ssim"])
def test_per_image_losses_skip_images_without_ground_truth(name):
    pred, target, mask = _depth_pair()
    mask[1] = False  # the second image has no valid pixel: it must not pull the mean to 0
    loss = build_supervised_loss(name)
    alone, _ = loss(pred[:1], target[:1], mask[:1])
    together, _ = loss(pred, target, mask)
    assert float(together) == pytest.approx(float(alone), rel=1e-12)
