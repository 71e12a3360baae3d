"""Supervised depth losses of founding reports 1-3: pure functions of tensors plus thin modules.

Every loss is ``fn(pred, target, mask, **params) -> Tensor`` (a scalar) where

- ``pred`` and ``target`` are depth maps of shape (B, 1, H, W) in the same units; the caller
  decides which (metres, or depth divided by a fixed range such as 80 m);
- ``mask`` is a boolean (B, 1, H, W) tensor of the pixels that have ground truth (usually
  ``target > 0``). Values of ``pred`` and ``target`` at masked-out pixels never change a loss.

Unless a docstring says otherwise, a loss is averaged over the valid pixels of the whole batch.
A batch without a valid pixel (or without a valid pixel pair or window, for the losses on
gradients and windows) gives 0, still connected to the graph so that backward works.

`build_supervised_loss` returns a callable giving ``(total, terms)``, the total loss and a dict
of its weighted named terms, for logging.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monodepthkit.errors import InputError

# ---------------------------------------------------------------------------------------------
# Pointwise losses: L1, MSE, BerHu, Eigen's scale-invariant log loss, L2 + smoothness


def masked_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean absolute error over valid pixels.

    Args:
        pred: predicted depth (B, 1, H, W).
        target: ground-truth depth (B, 1, H, W), same units.
        mask: boolean (B, 1, H, W), True where ``target`` is valid.

    Returns:
        Scalar in the units of the inputs.
    """
    _check_inputs(pred, target, mask)
    return _masked_mean((pred - target).abs(), mask)


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over valid pixels (shapes as `masked_l1`), in squared units."""
    _check_inputs(pred, target, mask)
    return _masked_mean((pred - target) ** 2, mask)


def sum_terms(terms: dict[str, Tensor]) -> Tensor:
    """The total of a dict of scalar loss terms (terms of mixed precision are promoted)."""
    values = list(terms.values())
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def berhu_loss(
    pred: Tensor,
    target: Tensor,
    mask: Tensor,
    *,
    threshold_ratio: float = 0.2,
    threshold: float | None = None,
) -> Tensor:
    """Reverse Huber (BerHu) loss of Laina et al. 2016, listed in report 1's Table 1.

    With ``x = |pred - target|``: ``x`` where ``x <= c`` and ``(x^2 + c^2) / (2c)`` above, which
    is continuous at ``c``. Report 1 writes the residual without the absolute value; the loss
    is meant to be symmetric, as in Laina et al.

    Args:
        pred: predicted depth (B, 1, H, W).
        target: ground-truth depth (B, 1, H, W), same units.
        mask: boolean (B, 1, H, W), True where ``target`` is valid.
        threshold_ratio: ``c = threshold_ratio * max |pred - target|`` over the valid pixels of
            the whole batch; ``c`` is detached (a constant for backward), as in Laina et al.
        threshold: a fixed ``c`` in the units of the inputs instead; overrides the ratio.

    Returns:
        Scalar, the mean over valid pixels, in the units of the inputs.
    """
    _check_inputs(pred, target, mask)
    residual = (pred - target).abs()
    if threshold is not None:
        _check_positive("threshold", threshold)
        c = torch.as_tensor(threshold, dtype=residual.dtype, device=residual.device)
    else:
        _check_positive("threshold_ratio", threshold_ratio)
        c = threshold_ratio * torch.where(mask, residual, 0.0).detach().amax()
    # All residuals zero gives c = 0: every pixel is then on the L1 branch; the clamp only keeps
    # the unused quadratic branch finite (a NaN there would leak into the gradient).
    c = c.clamp_min(torch.finfo(residual.dtype).tiny)
    values = torch.where(residual <= c, residual, (residual**2 + c**2) / (2 * c))
    return _masked_mean(values, mask)


def scale_invariant_log_loss(
    pred: Tensor, target: Tensor, mask: Tensor, *, lam: float = 0.5, eps: float = 1e-6
) -> Tensor:
    """Eigen et al.'s scale-invariant log loss, as report 3 trains with it.

    Per image, with ``d_i = log(pred_i) - log(target_i)`` on its ``n`` valid pixels::

        L = 1/n * sum_i d_i^2 - lam/n^2 * (sum_i d_i)^2

    then averaged over the images of the batch that have a valid pixel. ``n`` counts the pixels
    of one depth map (report 3: "d_i ... the difference between the prediction and the ground
    truth at pixel i"), so the loss is computed per image: with ``lam = 1`` each image may have
    its own scale. ``lam = 0`` is the L2 loss on log depth, ``lam = 1`` is fully scale invariant;
    report 3 uses 0.5.

    Args:
        pred: predicted depth (B, 1, H, W), positive.
        target: ground-truth depth (B, 1, H, W), same units, positive where ``mask`` is True.
        mask: boolean (B, 1, H, W), True where ``target`` is valid.
        lam: weight of the scale-invariant term, in [0, 1].
        eps: predictions are clamped to at least ``eps`` before the log, so that a head that
            underflows to 0 does not turn the loss into inf/NaN; clamped pixels get no gradient.

    Returns:
        Scalar, in squared natural-log units.

    Raises:
        InputError: a valid target pixel is not positive (the mask must exclude such pixels).
    """
    _check_inputs(pred, target, mask)
    if not 0.0 <= lam <= 1.0:
        raise InputError(f"lam must be in [0, 1] (0: L2 on logs, 1: scale invariant), got {lam}")
    _check_positive("eps", eps)
    if bool((target[mask] <= 0).any()):
        raise InputError(
            "scale_invariant_log_loss: target has non-positive depth at valid pixels; "
            "the mask must exclude pixels without ground truth (e.g. mask = target > 0)"
        )
    # Masked pixels are set to 1 before the log so that their (unused) log stays finite.
    log_pred = torch.where(mask, pred, 1.0).clamp_min(eps).log()
    log_target = torch.where(mask, target, 1.0).log()
    d = torch.where(mask, log_pred - log_target, 0.0)
    count = mask.sum(dim=(1, 2, 3))
    n = count.clamp_min(1).to(d.dtype)
    mean_square = (d**2).sum(dim=(1, 2, 3)) / n
    mean = d.sum(dim=(1, 2, 3)) / n
    per_image = mean_square - lam * mean**2
    return _mean_over_images(per_image, count > 0)


def l2_smoothness_loss(
    pred: Tensor, target: Tensor, mask: Tensor, *, smoothness_weight: float = 0.1
) -> Tensor:
    """Report 3's "L2 with smoothness regularization": MSE + weight * squared depth gradients.

    Report 3 names this loss without defining the smoothness term. Our reading: the L2
    regulariser on the prediction's first differences used by Garg et al. 2016, whose network
    report 3 started from; it is not edge-aware (report 3 mentions no image term)::

        L = mean_valid (pred - target)^2
            + smoothness_weight * (mean (dx pred)^2 + mean (dy pred)^2)

    with ``dx``/``dy`` forward differences between horizontal/vertical neighbours, averaged
    over the pairs whose two pixels are both valid, so that masked pixels never count (on
    report 3's dense NYU depth this is the whole image). The L2 term is on depth; L2 on log
    depth is ``scale_invariant_log_loss`` with ``lam=0``.

    Args:
        pred: predicted depth (B, 1, H, W).
        target: ground-truth depth (B, 1, H, W), same units.
        mask: boolean (B, 1, H, W), True where ``target`` is valid.
        smoothness_weight: weight of the smoothness term (report 3 gives none), >= 0.

    Returns:
        Scalar, in squared units of the inputs.
    """
    return sum_terms(
        l2_smoothness_loss_terms(pred, target, mask, smoothness_weight=smoothness_weight)
    )


def l2_smoothness_loss_terms(
    pred: Tensor, target: Tensor, mask: Tensor, *, smoothness_weight: float = 0.1
) -> dict[str, Tensor]:
    """The weighted terms of `l2_smoothness_loss`: ``{"l2": ..., "smoothness": ...}``."""
    _check_inputs(pred, target, mask)
    _check_non_negative("smoothness_weight", smoothness_weight)
    (pred_dx, valid_x), (pred_dy, valid_y) = _forward_differences(pred, mask)
    smoothness = _masked_mean(pred_dx**2, valid_x) + _masked_mean(pred_dy**2, valid_y)
    return {
        "l2": _masked_mean((pred - target) ** 2, mask),
        "smoothness": smoothness_weight * smoothness,
    }


# ---------------------------------------------------------------------------------------------
# Report 2 / DenseDepth: gradient L1, SSIM and their weighted sum


def gradient_l1_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """L1 difference of depth gradients (DenseDepth's edge term, report 2's ``L_grad``).

    ``mean |dx pred - dx target| + mean |dy pred - dy target|`` with ``dx``/``dy`` forward
    differences between horizontal/vertical neighbours; each mean runs over the pairs whose two
    pixels are both valid, in the whole batch.

    Args:
        pred: predicted depth (B, 1, H, W).
        target: ground-truth depth (B, 1, H, W), same units.
        mask: boolean (B, 1, H, W), True where ``target`` is valid.

    Returns:
        Scalar, in the units of the inputs (per pixel step).
    """
    _check_inputs(pred, target, mask)
    (pred_dx, valid_x), (pred_dy, valid_y) = _forward_differences(pred, mask)
    (target_dx, _), (target_dy, _) = _forward_differences(target, mask)
    return _masked_mean((pred_dx - target_dx).abs(), valid_x) + _masked_mean(
        (pred_dy - target_dy).abs(), valid_y
    )


def ssim_loss(
    pred: Tensor,
    target: Tensor,
    mask: Tensor,
    *,
    max_val: float = 10.0,
    window_size: int = 11,
    sigma: float = 1.5,
) -> Tensor:
    """Structural dissimilarity of depth maps: ``clamp((1 - SSIM) / 2, 0, 1)`` (report 2).

    SSIM as ``tf.image.ssim``, which report 2 (TensorFlow) and its reference DenseDepth call:
    Gaussian window ``window_size`` x ``window_size`` with standard deviation ``sigma``, no
    padding (only windows inside the image), ``C1 = (0.01 max_val)^2``,
    ``C2 = (0.03 max_val)^2``, biased local (co)variances. SSIM is averaged per image over the
    windows whose pixels are all valid, the clamp is applied per image (as DenseDepth clips the
    per-image value) and the result is averaged over the images that have such a window.
    Sparse ground truth (raw LiDAR) has few fully valid windows; use dense depth.

    Args:
        pred: predicted depth (B, 1, H, W).
        target: ground-truth depth (B, 1, H, W), same units; H and W >= ``window_size``.
        mask: boolean (B, 1, H, W), True where ``target`` is valid.
        max_val: dynamic range of the depth values, in their units: 10 for NYU in metres (its
            10 m cap; DenseDepth's data range in its own units); 1 for depth in [0, 1].
        window_size: odd side of the window, in pixels.
        sigma: standard deviation of the Gaussian window, in pixels.

    Returns:
        Scalar in [0, 1], unitless.
    """
    _check_inputs(pred, target, mask)
    _check_positive("max_val", max_val)
    _check_positive("sigma", sigma)
    if window_size < 1 or window_size % 2 == 0:
        raise InputError(f"window_size must be a positive odd number of pixels, got {window_size}")
    height, width = pred.shape[-2:]
    if height < window_size or width < window_size:
        raise InputError(
            f"ssim_loss needs images of at least window_size={window_size} pixels per side, "
            f"got {height}x{width}; pass a smaller window_size"
        )
    ssim_map = _ssim_map(pred, target, mask, max_val, window_size, sigma)
    # A window counts when all its pixels are valid: a min-pool of the mask over the window.
    window_valid = -F.max_pool2d(-mask.to(ssim_map.dtype), window_size, stride=1) > 0.5
    count = window_valid.sum(dim=(1, 2, 3))
    ssim = torch.where(window_valid, ssim_map, 0.0).sum(dim=(1, 2, 3)) / count.clamp_min(1)
    per_image = ((1.0 - ssim) / 2.0).clamp(0.0, 1.0)
    return _mean_over_images(per_image, count > 0).to(pred.dtype)


def densedepth_loss(
    pred: Tensor,
    target: Tensor,
    mask: Tensor,
    *,
    grad_weight: float = 1.5,
    ssim_weight: float = 1.0,
    l1_weight: float = 0.2,
    max_val: float = 10.0,
    window_size: int = 11,
    sigma: float = 1.5,
) -> Tensor:
    """Report 2's loss ``1.5 * L_grad + 1.0 * L_SSIM + 0.2 * L1`` (DenseDepth's three terms).

    ``L_grad`` is `gradient_l1_loss`, ``L_SSIM`` is `ssim_loss` and ``L1`` is `masked_l1`.

    Args:
        pred: predicted depth (B, 1, H, W).
        target: ground-truth depth (B, 1, H, W), same units; H and W >= ``window_size``.
        mask: boolean (B, 1, H, W), True where ``target`` is valid.
        grad_weight: weight of ``L_grad`` (report 2: 1.5).
        ssim_weight: weight of ``L_SSIM`` (report 2: 1.0).
        l1_weight: weight of ``L1`` (report 2: 0.2).
        max_val: SSIM dynamic range, see `ssim_loss`.
        window_size: SSIM window side, see `ssim_loss`.
        sigma: SSIM Gaussian standard deviation, see `ssim_loss`.

    Returns:
        Scalar, in the units of the inputs (the SSIM term is unitless).
    """
    terms = densedepth_loss_terms(
        pred,
        target,
        mask,
        grad_weight=grad_weight,
        ssim_weight=ssim_weight,
        l1_weight=l1_weight,
        max_val=max_val,
        window_size=window_size,
        sigma=sigma,
    )
    return sum_terms(terms)


def densedepth_loss_terms(
    pred: Tensor,
    target: Tensor,
    mask: Tensor,
    *,
    grad_weight: float = 1.5,
    ssim_weight: float = 1.0,
    l1_weight: float = 0.2,
    max_val: float = 10.0,
    window_size: int = 11,
    sigma: float = 1.5,
) -> dict[str, Tensor]:
    """The weighted terms of `densedepth_loss`: ``{"grad": ..., "ssim": ..., "l1": ...}``."""
    _check_non_negative("grad_weight", grad_weight)
    _check_non_negative("ssim_weight", ssim_weight)
    _check_non_negative("l1_weight", l1_weight)
    ssim = ssim_loss(pred, target, mask, max_val=max_val, window_size=window_size, sigma=sigma)
    return {
        "grad": grad_weight * gradient_l1_loss(pred, target, mask),
        "ssim": ssim_weight * ssim,
        "l1": l1_weight * masked_l1(pred, target, mask),
    }


# ---------------------------------------------------------------------------------------------
# Report 1: the gradient loss of the pix2pix generator


def sobel_gradient_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Report 1's gradient loss: sigmoid-bounded, max-normalised squared Sobel gradients.

    Report 1 (eqs. 2-5), for the ground truth ``I`` and the prediction ``Î``::

        G_x = I * g_x,  G_y = I * g_y                  (Sobel, "valid" convolution)
        G_xy = S(G_x^2 / max(G_x^2) + G_y^2 / max(G_y^2))        (S: sigmoid)
        F_xy = the same for Î
        loss = sum_ij ||G_xy|| - ||F_xy||

    Our reading, where the report is ambiguous:

    - ``g_x``, ``g_y`` are the 3x3 Sobel kernels; their scale and sign cancel in the
      max-normalisation and the square. Positions are those of the "valid" convolution
      ((H-2) x (W-2)) whose 3x3 support is all valid pixels.
    - ``max`` is taken per image, over its valid positions; it is not detached (the report
      differentiates the formula as written). A flat map (max 0) gives a normalised term of 0.
    - Eq. 5 literally sums a signed difference, which a generator would minimise by inflating
      its own gradients; the text says the loss "penalizes difference in the gradients", so we
      take ``|G_xy - F_xy|``.
    - The sum over positions becomes a mean over the valid positions of the batch, so that the
      loss weight (``a1``, which the report gives no value for) does not depend on resolution.

    Args:
        pred: predicted depth (B, 1, H, W), H and W >= 3.
        target: ground-truth depth (B, 1, H, W), any units (they cancel).
        mask: boolean (B, 1, H, W), True where ``target`` is valid.

    Returns:
        Scalar in [0, S(2) - S(0)] (about 0.38), unitless.
    """
    _check_inputs(pred, target, mask)
    height, width = pred.shape[-2:]
    if height < 3 or width < 3:
        raise InputError(f"sobel_gradient_loss needs images of at least 3x3, got {height}x{width}")
    valid = -F.max_pool2d(-mask.to(pred.dtype), 3, stride=1) > 0.5
    bounded_target = _bounded_sobel_gradients(torch.where(mask, target, 0.0), valid)
    bounded_pred = _bounded_sobel_gradients(torch.where(mask, pred, 0.0), valid)
    return _masked_mean((bounded_target - bounded_pred).abs(), valid)


# ---------------------------------------------------------------------------------------------
# Modules: thin wrappers that hold the parameters


class MaskedL1Loss(nn.Module):
    """Module form of `masked_l1`."""

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return masked_l1(pred, target, mask)


class MaskedMSELoss(nn.Module):
    """Module form of `masked_mse`."""

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return masked_mse(pred, target, mask)


class BerHuLoss(nn.Module):
    """Module form of `berhu_loss`."""

    def __init__(self, threshold_ratio: float = 0.2, threshold: float | None = None) -> None:
        super().__init__()
        self.threshold_ratio = threshold_ratio
        self.threshold = threshold

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return berhu_loss(
            pred, target, mask, threshold_ratio=self.threshold_ratio, threshold=self.threshold
        )

    def extra_repr(self) -> str:
        return f"threshold_ratio={self.threshold_ratio}, threshold={self.threshold}"


class ScaleInvariantLogLoss(nn.Module):
    """Module form of `scale_invariant_log_loss`."""

    def __init__(self, lam: float = 0.5, eps: float = 1e-6) -> None:
        super().__init__()
        self.lam = lam
        self.eps = eps

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return scale_invariant_log_loss(pred, target, mask, lam=self.lam, eps=self.eps)

    def extra_repr(self) -> str:
        return f"lam={self.lam}, eps={self.eps}"


class L2SmoothnessLoss(nn.Module):
    """Module form of `l2_smoothness_loss`."""

    def __init__(self, smoothness_weight: float = 0.1) -> None:
        super().__init__()
        self.smoothness_weight = smoothness_weight

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return l2_smoothness_loss(pred, target, mask, smoothness_weight=self.smoothness_weight)

    def extra_repr(self) -> str:
        return f"smoothness_weight={self.smoothness_weight}"


class GradientL1Loss(nn.Module):
    """Module form of `gradient_l1_loss`."""

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return gradient_l1_loss(pred, target, mask)


class SSIMLoss(nn.Module):
    """Module form of `ssim_loss`."""

    def __init__(self, max_val: float = 10.0, window_size: int = 11, sigma: float = 1.5) -> None:
        super().__init__()
        self.max_val = max_val
        self.window_size = window_size
        self.sigma = sigma

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return ssim_loss(
            pred,
            target,
            mask,
            max_val=self.max_val,
            window_size=self.window_size,
            sigma=self.sigma,
        )

    def extra_repr(self) -> str:
        return f"max_val={self.max_val}, window_size={self.window_size}, sigma={self.sigma}"


class DenseDepthLoss(nn.Module):
    """Module form of `densedepth_loss`."""

    def __init__(
        self,
        grad_weight: float = 1.5,
        ssim_weight: float = 1.0,
        l1_weight: float = 0.2,
        max_val: float = 10.0,
        window_size: int = 11,
        sigma: float = 1.5,
    ) -> None:
        super().__init__()
        self.grad_weight = grad_weight
        self.ssim_weight = ssim_weight
        self.l1_weight = l1_weight
        self.max_val = max_val
        self.window_size = window_size
        self.sigma = sigma

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return densedepth_loss(
            pred,
            target,
            mask,
            grad_weight=self.grad_weight,
            ssim_weight=self.ssim_weight,
            l1_weight=self.l1_weight,
            max_val=self.max_val,
            window_size=self.window_size,
            sigma=self.sigma,
        )

    def extra_repr(self) -> str:
        return (
            f"grad_weight={self.grad_weight}, ssim_weight={self.ssim_weight}, "
            f"l1_weight={self.l1_weight}, max_val={self.max_val}, "
            f"window_size={self.window_size}, sigma={self.sigma}"
        )


class SobelGradientLoss(nn.Module):
    """Module form of `sobel_gradient_loss`."""

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return sobel_gradient_loss(pred, target, mask)


# ---------------------------------------------------------------------------------------------
# Registry

SUPERVISED_LOSSES: dict[str, Callable[..., Tensor]] = {
    "l1": masked_l1,
    "mse": masked_mse,
    "berhu": berhu_loss,
    "silog": scale_invariant_log_loss,
    "l2_smooth": l2_smoothness_loss,
    "grad_l1": gradient_l1_loss,
    "ssim": ssim_loss,
    "densedepth": densedepth_loss,
    "sobel_grad": sobel_gradient_loss,
}

# Losses made of several weighted terms: the function that returns them by name.
_LOSS_TERMS: dict[str, Callable[..., dict[str, Tensor]]] = {
    "l2_smooth": l2_smoothness_loss_terms,
    "densedepth": densedepth_loss_terms,
}


def get_supervised_loss(name: str) -> Callable[..., Tensor]:
    """Look up a supervised loss function by name (its parameters keep their defaults).

    Raises:
        InputError: unknown name, listing the available ones.
    """
    if name not in SUPERVISED_LOSSES:
        raise InputError(
            f"unknown loss '{name}'; available: {', '.join(sorted(SUPERVISED_LOSSES))}"
        )
    return SUPERVISED_LOSSES[name]


def supervised_loss_params(name: str) -> dict[str, object]:
    """The parameters of a registered loss and their defaults, e.g. ``{"lam": 0.5, ...}``."""
    signature = inspect.signature(get_supervised_loss(name))
    return {
        param.name: param.default
        for param in signature.parameters.values()
        if param.kind is inspect.Parameter.KEYWORD_ONLY
    }


class SupervisedLoss:
    """A registered loss with its parameters bound, returning the total and its named terms.

    Call it as ``loss(pred, target, mask) -> (total, terms)`` with shapes as the loss functions;
    ``terms`` maps names to weighted terms that sum to ``total`` (``{"grad", "ssim", "l1"}``
    for ``densedepth``, ``{"l2", "smoothness"}`` for ``l2_smooth``, ``{name: total}`` for the
    others). Build it with `build_supervised_loss`.
    """

    def __init__(self, name: str, params: dict[str, object]) -> None:
        self.name = name
        self.params = dict(params)
        self._loss = get_supervised_loss(name)
        self._terms = _LOSS_TERMS.get(name)

    def __call__(
        self, pred: Tensor, target: Tensor, mask: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        if self._terms is None:
            total = self._loss(pred, target, mask, **self.params)
            return total, {self.name: total}
        terms = self._terms(pred, target, mask, **self.params)
        return sum_terms(terms), terms

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"SupervisedLoss('{self.name}'{', ' if params else ''}{params})"


def build_supervised_loss(name: str, **params: object) -> SupervisedLoss:
    """Bind a registered loss to its parameters: ``(pred, target, mask) -> (total, terms)``.

    Args:
        name: registry name (see `SUPERVISED_LOSSES`).
        **params: the loss's keyword parameters, e.g. ``lam=0.5`` for ``silog``.

    Raises:
        InputError: unknown name (listing the names) or unknown parameter (listing the loss's).
    """
    valid = supervised_loss_params(name)
    for key in params:
        if key not in valid:
            accepted = ", ".join(valid) if valid else "none"
            raise InputError(
                f"unknown parameter '{key}' for loss '{name}'; its parameters: {accepted}"
            )
    return SupervisedLoss(name, params)


# ---------------------------------------------------------------------------------------------
# Helpers


def _check_inputs(pred: Tensor, target: Tensor, mask: Tensor) -> None:
    if pred.shape != target.shape or mask.shape != pred.shape:
        raise InputError(
            f"pred, target and mask must share a shape, got {tuple(pred.shape)}, "
            f"{tuple(target.shape)} and {tuple(mask.shape)}"
        )
    if pred.ndim != 4 or pred.shape[1] != 1:
        raise InputError(f"expected depth maps of shape (B, 1, H, W), got {tuple(pred.shape)}")
    if mask.dtype != torch.bool:
        raise InputError(f"mask must be a boolean tensor (e.g. target > 0), got {mask.dtype}")
    if not (pred.is_floating_point() and target.is_floating_point()):
        raise InputError(
            f"pred and target must be floating point, got {pred.dtype} and {target.dtype}"
        )


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise InputError(f"{name} must be positive, got {value}")


def _check_non_negative(name: str, value: float) -> None:
    if not value >= 0:
        raise InputError(f"{name} must be >= 0, got {value}")


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    # `where` rather than indexing: no host sync, and an empty mask gives 0 still on the graph.
    return torch.where(mask, values, 0.0).sum() / mask.sum().clamp_min(1)


def _mean_over_images(per_image: Tensor, has_pixels: Tensor) -> Tensor:
    """Mean of a (B,) loss over the images with valid pixels; 0 (on the graph) if none."""
    total = torch.where(has_pixels, per_image, 0.0).sum()
    return total / has_pixels.sum().clamp_min(1)


def _forward_differences(
    depth: Tensor, mask: Tensor
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """Horizontal and vertical forward differences of (B, 1, H, W) maps with their validity.

    Returns ``((dx, valid_x), (dy, valid_y))``; dx is (B, 1, H, W-1), dy is (B, 1, H-1, W); a
    difference is valid when both of its pixels are.
    """
    dx = depth[..., :, 1:] - depth[..., :, :-1]
    dy = depth[..., 1:, :] - depth[..., :-1, :]
    valid_x = mask[..., :, 1:] & mask[..., :, :-1]
    valid_y = mask[..., 1:, :] & mask[..., :-1, :]
    return (dx, valid_x), (dy, valid_y)


def _ssim_map(
    pred: Tensor, target: Tensor, mask: Tensor, max_val: float, window_size: int, sigma: float
) -> Tensor:
    """SSIM of every window inside the image: (B, 1, H - size + 1, W - size + 1).

    Computed in at least float32 with autocast off: the local variances E[x^2] - E[x]^2 cancel
    catastrophically in half precision.
    """
    dtype = torch.promote_types(pred.dtype, torch.float32)
    with torch.autocast(pred.device.type, enabled=False):
        # Masked pixels only enter windows that are not counted; zeroing them keeps a NaN or
        # inf stored there out of the arithmetic.
        x = torch.where(mask, pred, 0.0).to(dtype)
        y = torch.where(mask, target, 0.0).to(dtype)
        coords = torch.arange(window_size, dtype=dtype, device=pred.device) - window_size // 2
        gauss = torch.exp(-(coords**2) / (2.0 * sigma**2))
        gauss = gauss / gauss.sum()

        def blur(values: Tensor) -> Tensor:
            values = F.conv2d(values, gauss.view(1, 1, -1, 1))
            return F.conv2d(values, gauss.view(1, 1, 1, -1))

        mu_x, mu_y = blur(x), blur(y)
        var_x = blur(x * x) - mu_x**2
        var_y = blur(y * y) - mu_y**2
        cov_xy = blur(x * y) - mu_x * mu_y
        c1 = (0.01 * max_val) ** 2
        c2 = (0.03 * max_val) ** 2
        luminance = (2.0 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
        contrast_structure = (2.0 * cov_xy + c2) / (var_x + var_y + c2)
        return luminance * contrast_structure


# Sobel kernels (cross-correlation): x increases to the right, y downwards.
_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))


def _bounded_sobel_gradients(depth: Tensor, valid: Tensor) -> Tensor:
    """``S(Gx^2 / max Gx^2 + Gy^2 / max Gy^2)`` of (B, 1, H, W) depth: (B, 1, H-2, W-2).

    The maxima run over the ``valid`` positions of each image.
    """
    sobel_x = torch.tensor(_SOBEL_X, dtype=depth.dtype, device=depth.device).view(1, 1, 3, 3)
    sobel_y = sobel_x.transpose(-1, -2)
    normalised = 0.0
    for kernel in (sobel_x, sobel_y):
        squared = F.conv2d(depth, kernel) ** 2
        peak = torch.where(valid, squared, 0.0).amax(dim=(1, 2, 3), keepdim=True)
        normalised = normalised + squared / peak.clamp_min(torch.finfo(depth.dtype).tiny)
    return torch.sigmoid(normalised)
