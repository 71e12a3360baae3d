import ast
from pathlib import Path

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


PURE_LAYER = ("geometry", "losses", "models")


def test_the_pure_layer_raises_only_input_error():
    package = Path(__file__).resolve().parents[1] / "src" / "monodepthkit"
    others = []
    for path in sorted(p for layer in PURE_LAYER for p in (package / layer).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                error = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if not (isinstance(error, ast.Name) and error.id == "InputError"):
                    others.append(f"{path.relative_to(package)}:{node.lineno}")
    assert others == [], f"raise InputError (or call check_shape) there instead: {others}"
