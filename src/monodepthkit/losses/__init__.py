"""Loss functions (pure) and their thin module wrappers."""

from monodepthkit.losses.supervised import (
    SUPERVISED_LOSSES,
    MaskedL1Loss,
    MaskedMSELoss,
    get_supervised_loss,
    masked_l1,
    masked_mse,
)

__all__ = [
    "SUPERVISED_LOSSES",
    "MaskedL1Loss",
    "MaskedMSELoss",
    "get_supervised_loss",
    "masked_l1",
    "masked_mse",
]
