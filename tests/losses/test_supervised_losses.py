import pytest
import torch

from monodepthkit.errors import MdkError
from monodepthkit.losses import (
    MaskedL1Loss,
    MaskedMSELoss,
    get_supervised_loss,
    masked_l1,
    masked_mse,
)


def _case():
    pred = torch.tensor([1.0, 2.0, 4.0, 9.0]).reshape(1, 1, 2, 2)
    target = torch.tensor([2.0, 2.0, 1.0, 0.0]).reshape(1, 1, 2, 2)
    return pred, target, target > 0


def test_hand_computed_values():
    pred, target, mask = _case()
    assert float(masked_l1(pred, target, mask)) == pytest.approx((1 + 0 + 3) / 3)
    assert float(masked_mse(pred, target, mask)) == pytest.approx((1 + 0 + 9) / 3)


def test_masked_pixels_do_not_matter():
    pred, target, mask = _case()
    other = pred.clone()
    other[0, 0, 1, 1] = -1000.0
    assert float(masked_l1(other, target, mask)) == float(masked_l1(pred, target, mask))


def test_modules_equal_functions():
    pred, target, mask = _case()
    assert float(MaskedL1Loss()(pred, target, mask)) == float(masked_l1(pred, target, mask))
    assert float(MaskedMSELoss()(pred, target, mask)) == float(masked_mse(pred, target, mask))


def test_empty_mask_gives_zero_with_a_gradient():
    pred = torch.rand(1, 1, 2, 2, requires_grad=True)
    loss = masked_l1(pred, torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2, dtype=torch.bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and pred.grad is not None


def test_gradcheck():
    pred = torch.rand(1, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    target = torch.rand(1, 1, 3, 3, dtype=torch.float64) + 2
    mask = target > 2.3
    assert torch.autograd.gradcheck(lambda p: masked_mse(p, target, mask), (pred,))


def test_lookup():
    assert get_supervised_loss("l1") is masked_l1
    with pytest.raises(MdkError, match="unknown loss 'l3'"):
        get_supervised_loss("l3")
    with pytest.raises(ValueError, match="share a shape"):
        masked_l1(
            torch.rand(1, 1, 2, 2), torch.rand(1, 1, 2, 3), torch.ones(1, 1, 2, 2, dtype=torch.bool)
        )
