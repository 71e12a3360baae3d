import numpy as np
import pytest
import torch

from monodepthkit.errors import InputError, MdkError, check_shape


@pytest.mark.parametrize(
    ("shape", "pattern"),
    [((2, 1, 4, 5), "B 1 H W"), ((3, 3), "... 3 3"), ((7, 2, 3, 3), "... 3 3"), ((3,), "... 3")],
)
def test_matching_shapes_pass(shape, pattern):
    check_shape(torch.zeros(shape), pattern, "x")
    check_shape(np.zeros(shape), pattern, "x")


@pytest.mark.parametrize(
    ("shape", "pattern", "message"),
    [
        ((2, 3, 4, 5), "B 1 H W", r"depth must have shape \[B, 1, H, W\], got \(2, 3, 4, 5\)"),
        ((2, 4, 5), "B 1 H W", r"\[B, 1, H, W\], got \(2, 4, 5\)"),
        ((3, 4), "... 3 3", r"\[\.\.\., 3, 3\], got \(3, 4\)"),
        ((3,), "... 3 3", r"\[\.\.\., 3, 3\], got \(3,\)"),
    ],
)
def test_wrong_shapes_name_the_value_and_both_shapes(shape, pattern, message):
    with pytest.raises(InputError, match=message) as error:
        check_shape(torch.zeros(shape), pattern, "depth")
    # One error for the pure layer: the CLI's MdkError and Python's ValueError at once.
    assert isinstance(error.value, MdkError) and isinstance(error.value, ValueError)
