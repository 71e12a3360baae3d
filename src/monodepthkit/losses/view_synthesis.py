"""Self-supervision by view synthesis (report 5, Monodepth2) and PackNet's velocity loss.

Pure functions of tensors built on `monodepthkit.losses.photometric` and
`monodepthkit.geometry`:

- `view_synthesis_loss`: Monodepth2's multi-scale loss. Per scale, each source view is warped
  into the target with the scale's depth; the photometric errors are combined over the sources
  by the per-pixel minimum, auto-masked against the unwarped sources; edge-aware smoothness of
  the scale's disparity is added with weight ``smoothness_weight / 2^scale``; the loss is the
  mean over scales.
- `velocity_loss`: predicted translation norms against the distance the camera travelled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from monodepthkit.geometry.camera import scale_intrinsics
from monodepthkit.geometry.disparity import mean_inverse_depth
from monodepthkit.geometry.pose import transformation_from_parameters
from monodepthkit.geometry.warp import warp_to_target
from monodepthkit.losses.photometric import (
    SsimTarget,
    edge_aware_smoothness,
    min_reprojection,
    photometric_error,
    ssim_target_statistics,
)
from monodepthkit.models.outputs import depth_key, disparity_key, output_scales


def view_synthesis_loss(
    outputs: Mapping[str, Tensor],
    target: Tensor,
    sources: Mapping[str, Tensor],
    transforms: Mapping[str, Tensor],
    K: Tensor,
    ssim_weight: float = 0.85,
    smoothness_weight: float = 1e-3,
    automask: bool = True,
    reprojection: str = "min",
    full_res_multiscale: bool = True,
    relative_motions: Mapping[str, tuple[Tensor, Tensor, bool]] | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Monodepth2's multi-scale photometric + smoothness loss.

    Args:
        outputs: a multi-scale depth network's outputs (`monodepthkit.models.outputs`):
            ``depth_s`` [B, 1, h_s, w_s] and ``disp_s`` of the same shape for every scale s
            computed; each present scale counts once.
        target: [B, 3, H, W] target image in [0, 1] (un-jittered).
        sources: [B, 3, H, W] source views in [0, 1] (un-jittered) by key.
        transforms: [B, 4, 4] T_source_target (metres, or the depth's units) by the same keys.
        K: [B, 3, 3] intrinsics in pixels of the H x W images.
        ssim_weight: weight ``alpha`` of the SSIM term in the photometric error (0.85).
        smoothness_weight: edge-aware smoothness weight at scale 0, divided by 2^scale (1e-3).
        automask: Monodepth2's auto-masking of pixels that an unwarped source explains better.
        reprojection: ``min`` (per-pixel minimum over sources) or ``mean`` (the paper's ablation).
        full_res_multiscale: upsample each scale's depth to H x W before warping (as inverse
            depth, which for Monodepth2 is upsampling its disparity); False computes each
            scale's loss at its own resolution (images downsampled, K scaled; the ablation).
        relative_motions: PoseCNN motions ``(axis_angle [B, 3] radians, translation [B, 3],
            invert)`` by source key whose translation is relative to the scene depth: per
            scale, such a key's transform is ``transformation_from_parameters(axis_angle,
            translation * mean_inverse_depth(depth), invert)`` with that scale's depth as warped
            (upsampled to H x W with full-resolution multi-scale; Monodepth2), in place of
            ``transforms[key]``. None: the transforms as given.

    Returns:
        ``(loss, terms)``: the mean over the scales of photometric + weighted smoothness, and
        the unweighted means over scales ``photometric`` and ``smoothness`` and the scale-0
        ``automask`` fraction (pixels the auto-mask keeps), all detached.
    """
    height, width = target.shape[-2:]
    scales = output_scales(outputs)
    identity_by_size: dict[tuple[int, ...], Tensor] = {}
    # The SSIM statistics of the target, like the identity errors, depend on its size only.
    statistics_by_size: dict[tuple[int, ...], SsimTarget | None] = {}
    total, photometric_sum, smoothness_sum = 0.0, 0.0, 0.0
    automask_fraction = None
    for scale in scales:
        depth = outputs[depth_key(scale)]
        disp = outputs[disparity_key(scale)]
        if full_res_multiscale or scale == 0:
            if depth.shape[-2:] != (height, width):
                # Upsample inverse depth (Monodepth2 upsamples its disparity, an affine
                # function of it), then invert.
                inverse = F.interpolate(
                    1.0 / depth, (height, width), mode="bilinear", align_corners=False
                )
                depth = 1.0 / inverse
            scale_target, scale_sources, scale_K = target, sources, K
        else:
            size = tuple(depth.shape[-2:])
            scale_target = _downsample(target, size)
            scale_sources = {key: _downsample(value, size) for key, value in sources.items()}
            scale_K = scale_intrinsics(K, (height, width), size)
        scale_transforms = dict(transforms)
        if relative_motions:
            inverse_mean = mean_inverse_depth(depth)
            for key, (axis_angle, translation, invert) in relative_motions.items():
                scale_transforms[key] = transformation_from_parameters(
                    axis_angle, translation * inverse_mean, invert=invert
                )
        size = tuple(scale_target.shape[-2:])
        if size not in statistics_by_size:
            statistics_by_size[size] = (
                ssim_target_statistics(scale_target) if ssim_weight > 0 else None
            )
        statistics = statistics_by_size[size]
        errors = torch.cat(
            [
                photometric_error(
                    warp_to_target(scale_sources[key], depth, T, scale_K)[0],
                    scale_target,
                    ssim_weight,
                    target_statistics=statistics,
                )
                for key, T in scale_transforms.items()
            ],
            dim=1,
        )
        identity = None
        if automask:
            # At full resolution the identity errors are the same for every scale.
            if size not in identity_by_size:
                identity_by_size[size] = _identity_errors(
                    scale_target, scale_sources, ssim_weight, statistics
                )
            identity = identity_by_size[size]
        per_pixel, kept = min_reprojection(errors, identity, reprojection)
        photometric = per_pixel.mean()
        smoothness = edge_aware_smoothness(disp, _downsample(target, tuple(disp.shape[-2:])))
        total = total + photometric + smoothness_weight * smoothness / 2**scale
        photometric_sum = photometric_sum + photometric.detach()
        smoothness_sum = smoothness_sum + smoothness.detach()
        if automask_fraction is None:
            automask_fraction = kept.float().mean()
    count = len(scales)
    terms = {
        "photometric": photometric_sum / count,
        "smoothness": smoothness_sum / count,
        "automask": automask_fraction,
    }
    return total / count, terms


def velocity_loss(
    translations: Mapping[int, Tensor], speed: Tensor, time_steps: Mapping[int, Tensor]
) -> Tensor:
    """PackNet's velocity supervision: predicted translation norms vs distance travelled.

    ``mean over offsets f and samples of | ||t_f|| - |speed| * |dt_f| |``.

    Args:
        translations: [B, 3] predicted translation per frame offset, in the depth's units: the
            pose network's own, or for PoseCNN the one the scale-0 warp uses (times the mean
            inverse depth).
        speed: [B] camera speed at the target frame, m/s.
        time_steps: [B] time of the frame at each offset minus the target's, seconds.

    Returns:
        Scalar loss in metres.
    """
    errors = [
        (translation.norm(dim=1) - speed.abs() * time_steps[offset].abs()).abs().mean()
        for offset, translation in translations.items()
    ]
    return torch.stack(errors).mean()


def _identity_errors(
    target: Tensor,
    sources: Mapping[str, Tensor],
    alpha: float,
    statistics: SsimTarget | None,
) -> Tensor:
    """[B, N, H, W] photometric errors of the N unwarped source views (auto-masking)."""
    return torch.cat(
        [
            photometric_error(src, target, alpha, target_statistics=statistics)
            for src in sources.values()
        ],
        1,
    )


def _downsample(image: Tensor, size: Sequence[int]) -> Tensor:
    """Resize [B, C, H, W] to ``size`` (antialiased bilinear; unchanged when equal)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, tuple(size), mode="bilinear", align_corners=False, antialias=True)
