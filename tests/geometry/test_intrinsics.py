"""The one intrinsics convention: K follows every resize, crop and flip of the image.

The images here are the normalised ray coordinate x / z = (u - cx) / fx of each pixel, which
is linear in u, so bilinear resizing (``align_corners=False``) at an integer factor keeps it
exact: the resized image must equal the same ramp computed from the resized K. Monodepth2's
linear scaling (cx' = cx s) fails this by (s - 1) / 2 pixels.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from monodepthkit.data.synthetic import PRESETS
from monodepthkit.geometry import crop_intrinsics, flip_intrinsics, scale_intrinsics

K = np.array([[50.0, 0.0, 15.3], [0.0, 55.0, 11.7], [0.0, 0.0, 1.0]])
SIZE = (24, 32)


def _ray_x(K: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """[1, 1, H, W] x / z of the ray through each pixel centre."""
    u = torch.arange(size[1], dtype=torch.float64)
    return ((u - K[0, 2]) / K[0, 0]).expand(size)[None, None].clone()


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_scaled_intrinsics_match_the_resized_image(factor):
    image = _ray_x(K, SIZE)
    size = (int(SIZE[0] * factor), int(SIZE[1] * factor))
    resized = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
    expected = _ray_x(scale_intrinsics(K, SIZE, size), size)
    inner = (..., slice(2, -2), slice(2, -2))  # bilinear upsampling clamps at the border
    torch.testing.assert_close(resized[inner], expected[inner], rtol=0, atol=1e-12)

    linear = K.copy()
    linear[:2] *= factor  # Monodepth2's normalised-intrinsics scaling
    shift = (factor - 1) / 2 / linear[0, 0]
    assert abs(float((_ray_x(linear, size) - resized)[inner].mean()) - shift) < 1e-9


def test_cropped_intrinsics_match_the_cropped_image():
    image = _ray_x(K, SIZE)
    top, left = 3, 5
    window = image[..., top : top + 10, left : left + 12]
    torch.testing.assert_close(window, _ray_x(crop_intrinsics(K, top, left), (10, 12)))


def test_flipped_intrinsics_match_the_mirrored_image():
    # Mirroring the image mirrors the camera's x axis: the ray's x / z changes sign.
    mirrored = -torch.flip(_ray_x(K, SIZE), dims=[-1])
    torch.testing.assert_close(mirrored, _ray_x(flip_intrinsics(K, SIZE[1]), SIZE))
    skewed = K.copy()
    skewed[0, 1] = 0.5
    assert flip_intrinsics(skewed, SIZE[1])[0, 1] == -0.5


def test_scaling_composes_and_round_trips():
    there = scale_intrinsics(K, (375, 1242), (128, 416))
    np.testing.assert_allclose(scale_intrinsics(there, (128, 416), (375, 1242)), K)
    np.testing.assert_allclose(
        scale_intrinsics(there, (128, 416), (64, 192)), scale_intrinsics(K, (375, 1242), (64, 192))
    )


def test_arrays_are_copied_and_bad_shapes_are_named():
    original = K.copy()
    for function in (
        lambda k: scale_intrinsics(k, SIZE, (12, 16)),
        lambda k: crop_intrinsics(k, 1, 2),
        lambda k: flip_intrinsics(k, 32),
    ):
        function(K)
        np.testing.assert_array_equal(K, original)
        with pytest.raises(ValueError, match=r"\[\.\.\., 3, 3\], got \(3, 4\)"):
            function(np.zeros((3, 4)))


def test_synthetic_cameras_use_the_convention():
    for preset in PRESETS.values():
        width, height = preset.reference_size
        reference = preset.camera_matrix(width, height)
        np.testing.assert_allclose(
            preset.camera_matrix(192, 64), scale_intrinsics(reference, (height, width), (64, 192))
        )


def test_scale_intrinsics_of_a_tensor_batch_matches_the_array_formula():
    K = torch.tensor([[[721.5, 0.0, 609.6], [0.0, 721.5, 172.9], [0.0, 0.0, 1.0]]] * 2)
    K[1, 0, 1] = 0.5  # a skew term scales with x
    scaled = scale_intrinsics(K, (375, 1242), (64, 224))
    assert scaled.dtype == K.dtype and scaled.shape == K.shape
    assert K[0, 0, 0] == 721.5  # the input is left untouched
    sy, sx = 64 / 375, 224 / 1242
    expected = [[721.5 * sx, 0.5 * sx, (609.6 + 0.5) * sx - 0.5], [0, 721.5 * sy, 0], [0, 0, 1]]
    expected[1][2] = (172.9 + 0.5) * sy - 0.5
    torch.testing.assert_close(scaled[1], torch.tensor(expected))
    for index in range(2):
        torch.testing.assert_close(
            scaled[index].double(),
            torch.from_numpy(scale_intrinsics(K[index].numpy(), (375, 1242), (64, 224))),
        )
