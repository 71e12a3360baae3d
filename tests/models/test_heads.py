import math

import pytest
import torch

from monodepthkit.errors import MdkError
from monodepthkit.models import HEADS, build_head, head_range

LOGITS = torch.tensor([-100.0, -3.0, 0.0, 0.7, 3.0, 100.0])


@pytest.mark.parametrize("name", sorted(HEADS))
def test_heads_stay_inside_their_range_and_increase(name):
    head = build_head(name, 0.5, 80.0)
    low, high = head_range(head)
    assert (low, high) == (head.min_depth, head.max_depth)
    assert isinstance(low, float) and isinstance(high, float)
    depth = head(LOGITS)
    assert torch.isfinite(depth).all() and (depth >= low).all() and (depth <= high).all()
    # Larger logits mean larger depth, except for inverse_sigmoid (larger disparity).
    steps = depth.diff() if name != "inverse_sigmoid" else -depth.diff()
    assert (steps >= 0).all() and (steps > 0).any()


@pytest.mark.parametrize("name", sorted(HEADS))
def test_bounded_heads_reach_both_ends(name):
    head = build_head(name, 0.5, 80.0)
    ends = head(torch.tensor([-100.0, 100.0]))
    if name == "inverse_sigmoid":
        ends = ends.flip(0)
    assert float(ends[0]) == pytest.approx(head.min_depth, rel=1e-4, abs=1e-6)
    if math.isfinite(head.max_depth):
        assert float(ends[1]) == pytest.approx(head.max_depth, rel=1e-4)


def test_head_ranges():
    assert head_range(build_head("sigmoid", 0.1, 80)) == (0.0, 80.0)
    assert head_range(build_head("softplus", 0.1, 80)) == (0.1, math.inf)
    for name in ("sigmoid_range", "tanh_range", "inverse_sigmoid", "log"):
        assert head_range(build_head(name, 0.5, 4)) == (0.5, 4.0)


def test_head_formulas_by_hand():
    z = torch.linspace(-4, 4, 41, dtype=torch.float64)
    # Report 2: output = 1.75 * tanh(z) + 2.25 for the 0.5-4 m range.
    torch.testing.assert_close(build_head("tanh_range", 0.5, 4.0)(z), 1.75 * torch.tanh(z) + 2.25)
    # Report 1: normalised output sigmoid(z) = depth / max_depth.
    torch.testing.assert_close(build_head("sigmoid", 0.1, 80.0)(z) / 80.0, torch.sigmoid(z))
    torch.testing.assert_close(
        build_head("softplus", 0.1, 80.0)(z), 0.1 + torch.log1p(torch.exp(z))
    )
    torch.testing.assert_close(
        build_head("sigmoid_range", 1.0, 3.0)(z), 1.0 + 2.0 * torch.sigmoid(z)
    )
    torch.testing.assert_close(
        build_head("log", 1.0, 100.0)(z), torch.exp(math.log(100.0) * torch.sigmoid(z))
    )
    # Monodepth2's disp_to_depth with min 0.1 m, max 100 m.
    disparity = 1 / 100 + (1 / 0.1 - 1 / 100) * torch.sigmoid(z)
    torch.testing.assert_close(build_head("inverse_sigmoid", 0.1, 100.0)(z), 1 / disparity)


def test_head_formulas_at_zero():
    assert float(build_head("sigmoid_range", 1, 3)(torch.tensor(0.0))) == pytest.approx(2.0)
    assert float(build_head("tanh_range", 0.5, 4)(torch.tensor(0.0))) == pytest.approx(2.25)
    assert float(build_head("sigmoid", 0.1, 4)(torch.tensor(0.0))) == pytest.approx(2.0)
    assert float(build_head("log", 1, 100)(torch.tensor(0.0))) == pytest.approx(10.0)
    assert float(build_head("softplus", 0.5, 4)(torch.tensor(0.0))) == pytest.approx(
        0.5 + math.log(2)
    )
    assert float(build_head("inverse_sigmoid", 0.1, 100)(torch.tensor(0.0))) == pytest.approx(
        1 / (0.01 + (10 - 0.01) * 0.5)
    )
    assert math.isfinite(float(build_head("log", 1, 100)(torch.tensor(1e4))))


def test_head_errors():
    with pytest.raises(MdkError, match=r"unknown head 'tanh'; available: .*tanh_range"):
        build_head("tanh", 0.5, 4)
    for name in sorted(HEADS):
        with pytest.raises(MdkError, match=rf"head '{name}': need .*min_depth < max_depth"):
            build_head(name, 5, 4)
        with pytest.raises(MdkError, match="max_depth < inf"):
            build_head(name, 0.5, math.inf)
    for name in ("sigmoid_range", "tanh_range", "inverse_sigmoid", "log", "softplus"):
        with pytest.raises(MdkError, match=r"need 0 < min_depth < max_depth .*found min_depth=0"):
            build_head(name, 0, 4)
    # The sigmoid head ignores min_depth (its range starts at 0), so 0 is fine there.
    assert build_head("sigmoid", 0, 4).min_depth == 0.0
