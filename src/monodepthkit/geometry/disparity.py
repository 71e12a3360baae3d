"""Conversions between a network's bounded disparity and depth (Monodepth2 convention).

A sigmoid output ``disp`` in [0, 1] is mapped linearly to an inverse depth between
``1 / max_depth`` and ``1 / min_depth``, so that depth stays inside [min_depth, max_depth]. The
units of depth are those of ``min_depth`` / ``max_depth`` (metres up to the unknown scale of
self-supervised monocular training).
"""

from __future__ import annotations

from torch import Tensor

from monodepthkit.errors import InputError


def disp_to_depth(disp: Tensor, min_depth: float, max_depth: float) -> tuple[Tensor, Tensor]:
    """Turn a sigmoid disparity into a scaled inverse depth and a depth.

    ``scaled = 1 / max_depth + (1 / min_depth - 1 / max_depth) * disp`` and
    ``depth = 1 / scaled``.

    Args:
        disp: [B, 1, H, W] (any shape) network disparity in [0, 1].
        min_depth: depth for ``disp == 1``, > 0 (Monodepth2: 0.1).
        max_depth: depth for ``disp == 0``, > min_depth (Monodepth2: 100).

    Returns:
        (scaled_disp, depth), both the shape of ``disp``: inverse depth in 1/units and depth in
        units of ``min_depth``.

    Raises:
        InputError: ``min_depth`` is not positive or not below ``max_depth``.
    """
    _check_range(min_depth, max_depth)
    min_disp = 1.0 / max_depth
    max_disp = 1.0 / min_depth
    scaled_disp = min_disp + (max_disp - min_disp) * disp
    return scaled_disp, 1.0 / scaled_disp


def depth_to_disp(depth: Tensor, min_depth: float, max_depth: float) -> Tensor:
    """Inverse of `disp_to_depth`: the sigmoid disparity that gives ``depth``.

    Args:
        depth: [B, 1, H, W] (any shape) depth, > 0, in units of ``min_depth``.
        min_depth: depth for ``disp == 1``, > 0.
        max_depth: depth for ``disp == 0``, > min_depth.

    Returns:
        Disparity of the shape of ``depth``; in [0, 1] for depth in [min_depth, max_depth]
        (outside that range it leaves [0, 1]; clamp the depth first if needed).

    Raises:
        InputError: ``min_depth`` is not positive or not below ``max_depth``.
    """
    _check_range(min_depth, max_depth)
    min_disp = 1.0 / max_depth
    max_disp = 1.0 / min_depth
    return (1.0 / depth - min_disp) / (max_disp - min_disp)


def mean_inverse_depth(depth: Tensor) -> Tensor:
    """Mean of 1 / depth over each image's pixels: PoseCNN's translation unit (Monodepth2).

    Args:
        depth: [B, 1, H, W] depth, > 0 (units of the depth network's ``min_depth``).

    Returns:
        [B, 1] mean inverse depth, 1 / those units; differentiable (not detached, as in
        Monodepth2).
    """
    return (1.0 / depth).mean(dim=(2, 3))


def _check_range(min_depth: float, max_depth: float) -> None:
    if not 0 < min_depth < max_depth:
        raise InputError(
            f"need 0 < min_depth < max_depth, got min_depth={min_depth}, max_depth={max_depth}"
        )
