"""Distillation losses: scale-and-shift invariance, parity with the formulas, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monodepthkit.errors import InputError
from monodepthkit.losses.distillation import (
    least_squares_scale_shift,
    least_squares_scale_shift_loss,
    normalise_median_deviation,
    scale_shift_invariant_loss,
)


def _pair(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    teacher = torch.rand(3, 1, 7, 9, generator=generator, dtype=torch.float64) * 4
    student = torch.rand(3, 1, 7, 9, generator=generator, dtype=torch.float64)
    mask = torch.rand(3, 1, 7, 9, generator=generator) > 0.3
    return student, teacher, mask


def _numpy_ssi(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """MiDaS's L_ssi per image from its definition: (d - median) / mean |d - median|."""
    losses = []
    for p, q, m in zip(pred, target, mask, strict=True):
        normalised = []
        for values in (p[m], q[m]):
            median = np.sort(values)[(values.size - 1) // 2]  # torch's lower median
            normalised.append((values - median) / np.abs(values - median).mean())
        losses.append(np.abs(normalised[0] - normalised[1]).mean())
    return float(np.mean(losses))


@pytest.mark.parametrize(("scale", "shift"), [(3.0, 0.5), (0.02, -7.0)])
def test_ssi_is_zero_for_an_affine_student_with_positive_scale(scale, shift):
    _, teacher, mask = _pair()
    student = scale * teacher + shift
    assert float(scale_shift_invariant_loss(student, teacher, mask)) < 1e-12
    assert float(least_squares_scale_shift_loss(student, teacher, mask)) < 1e-20


def test_ssi_penalises_a_reversed_ordering_and_the_lsq_variant_does_not():
    _, teacher, mask = _pair()
    reversed_student = -2.0 * teacher + 1.0
    assert float(scale_shift_invariant_loss(reversed_student, teacher, mask)) > 0.5
    assert float(least_squares_scale_shift_loss(reversed_student, teacher, mask)) < 1e-20


def test_ssi_matches_the_formula():
    student, teacher, mask = _pair(1)
    expected = _numpy_ssi(student.numpy()[:, 0], teacher.numpy()[:, 0], mask.numpy()[:, 0])
    loss = scale_shift_invariant_loss(student, teacher, mask)
    assert float(loss) == pytest.approx(expected, rel=1e-12)
    assert expected > 0.1  # random pairs are far from affine


def test_normalised_disparity_has_median_zero_and_unit_deviation():
    student, _, mask = _pair(2)
    normalised = normalise_median_deviation(student, mask)
    for values, valid in zip(normalised, mask, strict=True):
        kept = values[valid]
        assert float(kept.abs().mean()) == pytest.approx(1.0, rel=1e-12)
        assert float(kept.median()) == pytest.approx(0.0, abs=1e-12)
    assert float(normalised[~mask].abs().max()) == 0.0


def test_least_squares_alignment_matches_numpy():
    student, teacher, mask = _pair(3)
    scale, shift = least_squares_scale_shift(student, teacher, mask)
    residuals = []
    for index in range(student.shape[0]):
        valid = mask[index, 0].numpy()
        p, q = student[index, 0].numpy()[valid], teacher[index, 0].numpy()[valid]
        solution = np.linalg.lstsq(np.stack([p, np.ones_like(p)], 1), q, rcond=None)[0]
        assert float(scale[index]) == pytest.approx(solution[0], rel=1e-10)
        assert float(shift[index]) == pytest.approx(solution[1], rel=1e-10)
        residuals.append(np.mean((solution[0] * p + solution[1] - q) ** 2))
    loss = least_squares_scale_shift_loss(student, teacher, mask)
    assert float(loss) == pytest.approx(np.mean(residuals), rel=1e-10)


def test_ssi_gradient_reaches_the_student():
    student, teacher, mask = _pair(4)
    student.requires_grad_(True)
    scale_shift_invariant_loss(student, teacher, mask).backward()
    assert torch.isfinite(student.grad).all() and float(student.grad.abs().sum()) > 0


def test_errors_name_the_problem():
    student, teacher, mask = _pair()
    with pytest.raises(InputError, match="no valid pixel"):
        scale_shift_invariant_loss(student, teacher, torch.zeros_like(mask))
    with pytest.raises(InputError, match="one shape"):
        scale_shift_invariant_loss(student, teacher[:, :, :5], mask)
    with pytest.raises(InputError, match="bool"):
        least_squares_scale_shift_loss(student, teacher, mask.double())
