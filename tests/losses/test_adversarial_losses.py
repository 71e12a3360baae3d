"""Report 1's adversarial losses: hand values, gradients, function == module, the composite G."""

import math

import pytest
import torch

from monodepthkit.losses.adversarial import (
    DiscriminatorLeastSquaresLoss,
    GeneratorAdversarialLoss,
    GeneratorLoss,
    PatchL1Loss,
    discriminator_least_squares_loss,
    generator_adversarial_loss,
    generator_loss_terms,
    patch_l1_loss,
)
from monodepthkit.losses.supervised import masked_l1, masked_mse, sobel_gradient_loss


def test_discriminator_least_squares_hand_values():
    real = torch.tensor([[1.0, 0.0], [1.0, 3.0]]).view(1, 1, 2, 2)
    fake = torch.tensor([[0.0, 1.0], [-2.0, 0.0]]).view(1, 1, 2, 2)
    # mean (real - 1)^2 = (0 + 1 + 0 + 4) / 4; mean fake^2 = (0 + 1 + 4 + 0) / 4
    value = discriminator_least_squares_loss(real, fake)
    assert float(value) == pytest.approx(5 / 4 + 5 / 4)
    perfect = discriminator_least_squares_loss(torch.ones(2, 1, 3, 3), torch.zeros(2, 1, 3, 3))
    assert float(perfect) == 0.0


def test_generator_cross_entropy_hand_values():
    logits = torch.tensor([0.0, 2.0, -1.0])
    expected = sum(-math.log(1 / (1 + math.exp(-x))) for x in (0.0, 2.0, -1.0)) / 3
    assert float(generator_adversarial_loss(logits)) == pytest.approx(expected, rel=1e-6)
    assert float(generator_adversarial_loss(torch.zeros(4))) == pytest.approx(math.log(2))
    # Confident "real" logits cost nothing; the gradient pushes the logits up (towards real).
    assert float(generator_adversarial_loss(torch.full((3,), 30.0))) < 1e-12
    x = torch.zeros(5, requires_grad=True)
    generator_adversarial_loss(x).backward()
    assert (x.grad < 0).all()


def test_patch_l1_hand_values():
    assert float(patch_l1_loss(torch.tensor([2.0, -1.0, 1.0, 1.5]))) == pytest.approx(
        (1 + 2 + 0 + 0.5) / 4
    )


def test_gradcheck():
    real = torch.randn(2, 1, 3, 4, dtype=torch.float64, requires_grad=True)
    fake = torch.randn(2, 1, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(discriminator_least_squares_loss, (real, fake))
    assert torch.autograd.gradcheck(generator_adversarial_loss, (fake,))
    # |x - 1| is not differentiable at 1; random logits avoid it.
    assert torch.autograd.gradcheck(patch_l1_loss, (fake,))


def test_modules_equal_functions():
    real, fake = torch.randn(2, 1, 4, 5), torch.randn(2, 1, 4, 5)
    assert torch.equal(
        DiscriminatorLeastSquaresLoss()(real, fake), discriminator_least_squares_loss(real, fake)
    )
    assert torch.equal(GeneratorAdversarialLoss()(fake), generator_adversarial_loss(fake))
    assert torch.equal(PatchL1Loss()(fake), patch_l1_loss(fake))


def test_generator_loss_is_the_weighted_sum_of_report1_terms():
    torch.manual_seed(0)
    pred, target = torch.rand(2, 1, 8, 10), torch.rand(2, 1, 8, 10)
    target[0, 0, :2] = 0.0
    mask = target > 0
    logits = torch.randn(2, 1, 3, 4)
    weights = dict(
        grad_weight=2.0, l1_weight=3.0, mse_weight=5.0, adversarial_weight=0.5, patch_l1_weight=7.0
    )
    terms = generator_loss_terms(pred, target, mask, logits, **weights)
    expected = {
        "grad": 2.0 * sobel_gradient_loss(pred, target, mask),
        "l1": 3.0 * masked_l1(pred, target, mask),
        "mse": 5.0 * masked_mse(pred, target, mask),
        "adversarial": 0.5 * generator_adversarial_loss(logits),
        "patch_l1": 7.0 * patch_l1_loss(logits),
    }
    assert terms.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(terms[name], value)
    total, module_terms = GeneratorLoss(**weights)(pred, target, mask, logits)
    torch.testing.assert_close(total, sum(expected.values()))
    assert module_terms.keys() == expected.keys()
    # Equation (6) alone: no patch term unless it has a weight.
    assert "patch_l1" not in generator_loss_terms(pred, target, mask, logits)


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="share a shape"):
        discriminator_least_squares_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="too small"):
        generator_adversarial_loss(torch.zeros(1, 1, 0, 4))
    with pytest.raises(ValueError, match="floating-point"):
        patch_l1_loss(torch.zeros(3, dtype=torch.long))
    depth = torch.rand(1, 1, 4, 4)
    with pytest.raises(ValueError, match="l1_weight must be >= 0"):
        generator_loss_terms(depth, depth, depth > 0, torch.zeros(1, 1, 1, 1), l1_weight=-1.0)
