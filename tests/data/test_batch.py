import pytest
import torch

from monodepthkit.data.batch import context_image_key, context_transform_key, validate_batch
from monodepthkit.errors import MdkError


def _batch(**extra):
    batch = {
        "image": torch.rand(2, 3, 8, 10),
        "depth": torch.rand(2, 1, 8, 10) * 5,
        "K": torch.eye(3).repeat(2, 1, 1),
        "name": ["a/0", "a/1"],
    }
    batch.update(extra)
    return batch


def test_valid_batch_passes():
    validate_batch(
        _batch(**{"image_-1": torch.rand(2, 3, 8, 10), "T_-1": torch.eye(4).repeat(2, 1, 1)}),
        required=("image", "depth"),
    )


def test_context_keys_have_explicit_signs():
    assert context_image_key(-1) == "image_-1"
    assert context_image_key(1) == "image_+1"
    assert context_transform_key(2) == "T_+2"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image": torch.rand(2, 1, 8, 10)}, r"batch\['image'\]: expected shape \[B, 3, H, W\]"),
        ({"image": torch.rand(2, 3, 8, 10) * 255}, r"expected values in \[0, 1\]"),
        ({"depth": torch.rand(2, 1, 4, 10)}, r"batch\['depth'\]: spatial size \(4, 10\) differs"),
        ({"depth": -torch.ones(2, 1, 8, 10)}, r"depth must be finite and >= 0"),
        ({"K": torch.eye(4).repeat(2, 1, 1)}, r"batch\['K'\]: expected shape \[B, 3, 3\]"),
        ({"T_+1": torch.eye(3).repeat(2, 1, 1)}, r"batch\['T_\+1'\]: expected shape \[B, 4, 4\]"),
        ({"depth_gt": torch.rand(2, 1, 8, 10)}, r"unknown key 'depth_gt'"),
        ({"depth": torch.rand(3, 1, 8, 10)}, r"batch size \(3,\) differs"),
    ],
)
def test_bad_batches_name_the_key(change, message):
    with pytest.raises(MdkError, match=message):
        validate_batch(_batch(**change))


def test_missing_required_key():
    batch = _batch()
    del batch["depth"]
    with pytest.raises(MdkError, match="missing key 'depth'"):
        validate_batch(batch, required=("image", "depth"))


def test_tuple_keys_rejected():
    batch = _batch()
    batch[("color", -1, 0)] = torch.rand(2, 3, 8, 10)
    with pytest.raises(MdkError, match="keys must be strings"):
        validate_batch(batch)


def test_shape_only_check_reads_no_values():
    # Meta tensors hold no data: any value reduction (a host sync on a GPU) would raise.
    batch = {key: value.to("meta") for key, value in _batch().items() if key != "name"}
    validate_batch(batch, required=("image", "depth"), values=False)
    with pytest.raises(MdkError, match=r"batch\['depth'\]: spatial size \(4, 10\) differs"):
        validate_batch({**batch, "depth": torch.rand(2, 1, 4, 10, device="meta")}, values=False)


def test_shape_only_check_skips_value_ranges():
    validate_batch(
        _batch(image=torch.rand(2, 3, 8, 10) * 255, depth=-torch.ones(2, 1, 8, 10)), values=False
    )
