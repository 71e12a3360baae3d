"""Warping with pose parameters, and the photometric loss on warped views (synthetic and real)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from monodepthkit.data.io import read_depth_png, read_rgb
from monodepthkit.geometry import (
    backproject_depth,
    pixel_grid,
    project_points,
    transform_points,
    transformation_from_parameters,
    warp_to_target,
)
from monodepthkit.losses import min_reprojection, photometric_error

REDWOOD = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "open3d_rgbd"


def _K(batch=1, fx=20.0, height=16, width=24, dtype=torch.float64):
    K = torch.tensor(
        [[fx, 0.0, (width - 1) / 2], [0.0, fx * 1.1, (height - 1) / 2], [0.0, 0.0, 1.0]],
        dtype=dtype,
    )
    return K.repeat(batch, 1, 1)


def _rand(*shape, seed=0, dtype=torch.float64):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_project_of_backproject_is_identity(dtype):
    depth = _rand(2, 1, 16, 24, seed=1, dtype=dtype) * 30 + 0.5
    pixels, z = project_points(backproject_depth(depth, _K(2, dtype=dtype)), _K(2, dtype=dtype))
    grid = pixel_grid(16, 24, dtype=dtype)[:2].expand(2, -1, -1)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(pixels, grid, atol=tol, rtol=0)
    torch.testing.assert_close(z.reshape(depth.shape), depth)


def test_project_of_backproject_survives_a_round_trip_transform():
    depth = _rand(2, 1, 16, 24, seed=2) * 10 + 1
    axis_angle = _rand(2, 3, seed=3) * 0.4 - 0.2
    translation = _rand(2, 3, seed=4) - 0.5
    forward = transformation_from_parameters(axis_angle, translation)
    backward = transformation_from_parameters(axis_angle, translation, invert=True)
    points = transform_points(backward, transform_points(forward, backproject_depth(depth, _K(2))))
    pixels, _ = project_points(points, _K(2))
    torch.testing.assert_close(
        pixels, pixel_grid(16, 24, dtype=torch.float64)[:2].expand(2, -1, -1)
    )


def test_zero_pose_parameters_give_an_identity_warp():
    source = _rand(2, 3, 16, 24, seed=5)
    depth = _rand(2, 1, 16, 24, seed=6) * 20 + 0.5
    zeros = torch.zeros(2, 3, dtype=torch.float64)
    for invert in (False, True):
        T = transformation_from_parameters(zeros, zeros, invert=invert)
        warped, inside, source_z = warp_to_target(source, depth, T, _K(2))
        torch.testing.assert_close(warped, source)
        # Border pixels land within round-off of the image edge and must count as inside.
        assert inside.all()
        torch.testing.assert_close(source_z, depth)
        assert photometric_error(warped, source).abs().max() < 1e-10


def test_warp_gradcheck_float64_through_pose_parameters():
    # Small sizes; sample points fall strictly between pixel centres, away from bilinear kinks.
    source = _rand(1, 2, 5, 6, seed=7).requires_grad_(True)
    depth = (_rand(1, 1, 5, 6, seed=8) + 2.0).requires_grad_(True)
    axis_angle = torch.tensor([[0.02, -0.03, 0.01]], dtype=torch.float64, requires_grad=True)
    translation = torch.tensor([[0.11, -0.07, 0.05]], dtype=torch.float64, requires_grad=True)
    K = _K(fx=4.0, height=5, width=6)

    def warp(image, depth_map, rotation, shift):
        T = transformation_from_parameters(rotation, shift)
        return warp_to_target(image, depth_map, T, K)[0]

    assert torch.autograd.gradcheck(warp, (source, depth, axis_angle, translation))


def test_warp_and_photometric_loss_gradcheck_float64():
    target = _rand(1, 3, 5, 6, seed=9)
    source = _rand(1, 3, 5, 6, seed=10)
    depth = (_rand(1, 1, 5, 6, seed=11) + 2.0).requires_grad_(True)
    translation = torch.tensor([[0.13, 0.06, -0.04]], dtype=torch.float64, requires_grad=True)
    K = _K(fx=4.0, height=5, width=6)

    def loss(depth_map, shift):
        T = transformation_from_parameters(torch.zeros_like(shift), shift, invert=True)
        warped = warp_to_target(source, depth_map, T, K)[0]
        return photometric_error(warped, target)

    assert torch.autograd.gradcheck(loss, (depth, translation))


def _translating_pair(height=16, width=24, fx=20.0, shift=2, seed=12):
    """A fronto-parallel textured plane at 5 m seen by a camera that moves ``shift`` px along x.

    A patch that moves with the camera (same place in both frames) sits at rows 5:11, cols 12:18.
    Returns target, source, depth, the exact T_source_target, K.
    """
    z = 5.0
    texture = _rand(1, 3, height, width + 2 * shift, seed=seed)
    target = texture[..., shift : width + shift].clone()
    source = texture[..., 2 * shift : width + 2 * shift].clone()  # source[u] = target[u + shift]
    patch = _rand(1, 3, 6, 6, seed=seed + 1)
    target[..., 5:11, 12:18] = patch
    source[..., 5:11, 12:18] = patch
    depth = torch.full((1, 1, height, width), z, dtype=torch.float64)
    # The source camera sits shift * z / fx metres to the right: points move left in its frame.
    translation = torch.tensor([[-shift * z / fx, 0.0, 0.0]], dtype=torch.float64)
    T = transformation_from_parameters(torch.zeros_like(translation), translation)
    return target, source, depth, T, _K(fx=fx, height=height, width=width)


def test_automask_keeps_pixels_explained_by_motion_and_drops_co_moving_ones():
    target, source, depth, T, K = _translating_pair()
    warped, _, _ = warp_to_target(source, depth, T, K)
    reprojection = photometric_error(warped, target)
    identity = photometric_error(source, target)
    loss, mask = min_reprojection(
        reprojection, identity, generator=torch.Generator().manual_seed(0)
    )
    mask = mask[0, 0]

    # Background (static world, moving camera), away from the image border the warp clamps and
    # from the patch: the warp reproduces the target exactly, the unwarped frame does not.
    background = torch.zeros_like(mask)
    background[:, 3:] = True
    background[3:13, 9:21] = False
    assert reprojection[0, 0][background].max() < 1e-9
    assert identity[0, 0][background].min() > 1e-3
    assert mask[background].all()
    # Inside the co-moving patch (one pixel in from its edge, for the 3x3 SSIM windows) the
    # unwarped frame is exact, so the pixels are masked out, as for a car driving alongside.
    assert not mask[6:10, 13:17].any()
    assert loss[0, 0, 6:10, 13:17].abs().max() < 1e-4


def test_static_pair_masks_every_pixel():
    # Identical frames (the camera stood still) with a non-zero predicted motion: identity error
    # 0 everywhere, reprojection error positive everywhere -> every pixel masked out.
    target, _, depth, T, K = _translating_pair()
    source = target.clone()
    warped, _, _ = warp_to_target(source, depth, T, K)
    reprojection = photometric_error(warped, target)
    identity = photometric_error(source, target)
    _, mask = min_reprojection(reprojection, identity, generator=torch.Generator().manual_seed(1))
    assert reprojection.min() > 1e-3
    assert not mask.any()


def test_minimum_beats_average_when_one_source_is_occluded():
    # Two source frames; one of them has the target content replaced (an occluder) on a region:
    # the per-pixel minimum ignores it there, the average ablation does not.
    target, source, depth, T, K = _translating_pair()
    occluded = source.clone()
    occluded[..., 2:8, 4:10] = 0.0
    errors = [
        photometric_error(warp_to_target(frame, depth, T, K)[0], target)
        for frame in (source, occluded)
    ]
    reprojection = torch.cat(errors, dim=1)
    loss_min, _ = min_reprojection(reprojection, reduce="min")
    loss_mean, _ = min_reprojection(reprojection, reduce="mean")
    region = (..., slice(3, 7), slice(7, 11))  # target pixels that sample the occluded source area
    assert loss_min[region].max() < 1e-9
    torch.testing.assert_close(loss_mean[region], errors[1][region] / 2)
    assert loss_mean[region].min() > 1e-2


# --- real RGB-D sequence ------------------------------------------------------------------------


def _read_redwood_log(path: Path) -> np.ndarray:
    """Poses of a Redwood .log file: per frame a header line, then 4 rows of a 4x4 matrix."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return np.array(
        [
            [[float(v) for v in row] for row in lines[start + 1 : start + 5]]
            for start in range(0, len(lines), 5)
        ]
    )


def _read_image(path: Path) -> torch.Tensor:
    """[1, 3, H, W] float32 in [0, 1]."""
    return torch.from_numpy(read_rgb(path)).permute(2, 0, 1)[None].float() / 255.0


def test_redwood_rgbd_warp_lowers_photometric_error():
    if not (REDWOOD / "trajectory.log").is_file():
        pytest.skip(f"Redwood RGB-D sequence not found at {REDWOOD} (shared real data absent)")
    # trajectory.log holds camera-to-world poses; depth PNGs are millimetres; PrimeSense K.
    poses = _read_redwood_log(REDWOOD / "trajectory.log")
    images = [_read_image(REDWOOD / "color" / f"{i:05d}.jpg") for i in range(5)]
    depth = torch.from_numpy(read_depth_png(REDWOOD / "depth" / "00002.png", scale=1000.0))
    depth = depth[None, None]  # float32 metres, 0 = invalid
    K = torch.tensor([[525.0, 0.0, 319.5], [0.0, 525.0, 239.5], [0.0, 0.0, 1.0]])[None]
    target_index, sources = 2, (0, 1, 3, 4)
    target = images[target_index]

    warped_errors, identity_errors, valid = [], [], depth > 0
    for index in sources:
        T = torch.from_numpy(np.linalg.inv(poses[index]) @ poses[target_index]).float()[None]
        warped, inside, _ = warp_to_target(images[index], depth, T, K)
        valid = valid & inside
        warped_errors.append(photometric_error(warped, target))
        identity_errors.append(photometric_error(images[index], target))
    reprojection = torch.cat(warped_errors, dim=1)
    identity = torch.cat(identity_errors, dim=1)
    per_frame = [
        (
            reprojection[:, k : k + 1][valid].mean().item(),
            identity[:, k : k + 1][valid].mean().item(),
        )
        for k in range(len(sources))
    ]
    _, mask = min_reprojection(reprojection, identity, generator=torch.Generator().manual_seed(0))
    no_warp = identity.min(dim=1, keepdim=True).values[valid].mean().item()
    with_warp = reprojection.min(dim=1, keepdim=True).values[valid].mean().item()
    reduction = 1.0 - with_warp / no_warp
    figures = (
        f"Redwood frame 2 vs frames 0,1,3,4 on {int(valid.sum())} valid pixels: per-pixel-min "
        f"photometric error with warp {with_warp:.4f}, without warp {no_warp:.4f} "
        f"({100 * reduction:.1f}% lower); per source (warp, no warp): "
        + ", ".join(
            f"{s}: ({w:.4f}, {n:.4f})" for s, (w, n) in zip(sources, per_frame, strict=True)
        )
        + f"; auto-mask keeps {100 * mask[valid].double().mean().item():.1f}% of valid pixels"
    )
    print(figures)
    assert reduction >= 0.30, figures
    assert all(w <= 0.7 * n for w, n in per_frame), figures
    assert mask[valid].double().mean().item() > 0.5, figures
