"""Losses of a student trained on a teacher's predictions (pseudo-labels, no ground truth).

A relative teacher (Depth Anything V2 relative, DPT/MiDaS) predicts a disparity up to an
unknown scale and shift, so the student is compared with it in a way that ignores both, as
MiDaS (Ranftl et al. 2020) and Depth Anything train:

- `scale_shift_invariant_loss`: both disparities normalised per image by their median and
  mean absolute deviation from it, then the mean absolute difference (MiDaS's L_ssi with the
  median / MAD normalisation, untrimmed; Depth Anything's affine-invariant loss). A student
  equal to ``a * teacher + b`` with ``a > 0`` costs exactly 0; a reversed ordering (``a < 0``)
  does not.
- `least_squares_scale_shift_loss`: the student aligned to the teacher per image by the least
  squares scale and shift, then the mean squared residual (MiDaS's L_ssimse). It is 0 for any
  affine student, a reversed one (``a < 0``) included.

A metric teacher is distilled with a supervised loss on depth
(`monodepthkit.losses.supervised`, e.g. the scale-invariant log loss).
"""

from __future__ import annotations

import torch
from torch import Tensor

from monodepthkit.errors import InputError, check_shape

# Smallest per-image deviation a disparity is divided by (a constant map has none).
MIN_DEVIATION = 1e-6


def normalise_median_deviation(
    disparity: Tensor, mask: Tensor, eps: float = MIN_DEVIATION
) -> Tensor:
    """Per image: subtract the median, divide by the mean absolute deviation from it.

    ``n(d) = (d - t) / s`` with ``t = median(d)`` and ``s = mean(|d - t|)`` over the image's
    valid pixels (the lower median of an even count, as ``torch.median``), ``s`` at least
    ``eps``.

    Args:
        disparity: [B, 1, H, W] disparity (any units).
        mask: [B, 1, H, W] bool, True on the pixels that count; each image needs one.
        eps: smallest deviation divided by.

    Returns:
        [B, 1, H, W] normalised disparity (unitless); 0 where ``mask`` is False.

    Raises:
        InputError: wrong shapes, or an image without a valid pixel.
    """
    _check_pair(disparity, disparity, mask, "normalise_median_deviation")
    flat = torch.where(mask, disparity, torch.nan).flatten(1)
    centre = flat.nanmedian(dim=1).values.view(-1, 1, 1, 1)
    count = mask.sum(dim=(1, 2, 3), keepdim=True).to(disparity.dtype)
    deviation = torch.where(mask, (disparity - centre).abs(), 0.0).sum(dim=(1, 2, 3), keepdim=True)
    spread = (deviation / count).clamp_min(eps)
    return torch.where(mask, (disparity - centre) / spread, 0.0)


def scale_shift_invariant_loss(
    pred: Tensor, target: Tensor, mask: Tensor, eps: float = MIN_DEVIATION
) -> Tensor:
    """MiDaS's scale-and-shift-invariant loss with median / mean-deviation normalisation.

    Per image, ``mean over valid pixels of |n(pred) - n(target)|`` with ``n`` =
    `normalise_median_deviation`; then the mean over images. Gradients flow through
    ``n(pred)``'s median and deviation too, as in MiDaS.

    Args:
        pred: [B, 1, H, W] the student's disparity (any scale and shift, e.g. 1 / depth).
        target: [B, 1, H, W] the teacher's disparity (affine-invariant).
        mask: [B, 1, H, W] bool, True on the pixels that count; each image needs one.
        eps: smallest per-image deviation divided by.

    Returns:
        Scalar, unitless (in mean absolute deviations of the disparity).
    """
    _check_pair(pred, target, mask, "scale_shift_invariant_loss")
    difference = (
        normalise_median_deviation(pred, mask, eps) - normalise_median_deviation(target, mask, eps)
    ).abs()
    per_image = difference.sum(dim=(1, 2, 3)) / mask.sum(dim=(1, 2, 3)).to(pred.dtype)
    return per_image.mean()


def least_squares_scale_shift(pred: Tensor, target: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Per image, the least-squares ``(s, t)`` minimising ``sum (s * pred + t - target)^2``.

    Closed form over the valid pixels: ``scale = cov(p, q) / var(p)``,
    ``shift = mean(q) - scale * mean(p)``; a constant ``pred`` (no variance) gets scale 0.

    Args:
        pred: [B, 1, H, W].
        target: [B, 1, H, W].
        mask: [B, 1, H, W] bool; each image needs one valid pixel.

    Returns:
        ``(scale, shift)``, each [B, 1, 1, 1] (shift in ``target``'s units).
    """
    _check_pair(pred, target, mask, "least_squares_scale_shift")
    weight = mask.to(pred.dtype)
    count = weight.sum(dim=(1, 2, 3), keepdim=True)
    mean_p = (weight * pred).sum(dim=(1, 2, 3), keepdim=True) / count
    mean_q = (weight * target).sum(dim=(1, 2, 3), keepdim=True) / count
    centred_p = torch.where(mask, pred - mean_p, 0.0)
    covariance = (centred_p * (target - mean_q)).sum(dim=(1, 2, 3), keepdim=True)
    variance = (centred_p**2).sum(dim=(1, 2, 3), keepdim=True)
    scale = torch.where(variance > 0, covariance / variance.clamp_min(1e-30), 0.0)
    return scale, mean_q - scale * mean_p


def least_squares_scale_shift_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """MiDaS's L_ssimse: the student aligned by `least_squares_scale_shift`, then the MSE.

    Per image ``mean over valid pixels of (s * pred + t - target)^2``, then the mean over images;
    the gradient flows through (s, t).

    Args:
        pred: [B, 1, H, W] the student's disparity.
        target: [B, 1, H, W] the teacher's disparity.
        mask: [B, 1, H, W] bool; each image needs one valid pixel.

    Returns:
        Scalar, in squared units of ``target``.
    """
    scale, shift = least_squares_scale_shift(pred, target, mask)
    residual = torch.where(mask, scale * pred + shift - target, 0.0)
    per_image = (residual**2).sum(dim=(1, 2, 3)) / mask.sum(dim=(1, 2, 3)).to(pred.dtype)
    return per_image.mean()


RELATIVE_LOSSES = {
    "ssi": scale_shift_invariant_loss,
    "ssi_lsq": least_squares_scale_shift_loss,
}
"""Losses for a relative teacher by name: ``ssi`` (median / MAD, the default), ``ssi_lsq``."""


def _check_pair(pred: Tensor, target: Tensor, mask: Tensor, name: str) -> None:
    check_shape(pred, "B 1 H W", f"{name}: pred")
    if target.shape != pred.shape or mask.shape != pred.shape:
        raise InputError(
            f"{name}: pred {tuple(pred.shape)}, target {tuple(target.shape)} and mask "
            f"{tuple(mask.shape)} must have one shape [B, 1, H, W]"
        )
    if mask.dtype != torch.bool:
        raise InputError(f"{name}: mask must be bool, got {mask.dtype}")
    if bool((mask.sum(dim=(1, 2, 3)) == 0).any()):
        raise InputError(f"{name}: an image has no valid pixel in mask; every image needs one")
