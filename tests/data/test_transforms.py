import itertools

import pytest
import torch
import torch.nn.functional as F

from conftest import write_tree
from monodepthkit.data.batch import validate_batch
from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.data.folder import FolderDataset
from monodepthkit.data.transforms import (
    AugmentOptions,
    augment_sample,
    color_jitter_sample,
    hflip_sample,
    permute_channels_sample,
    random_scale_crop_sample,
    scale_crop_sample,
)
from monodepthkit.errors import MdkError
from monodepthkit.geometry import project_points

HEIGHT, WIDTH = 24, 32
IMAGE_KEYS = ("image", "image_-1", "image_+1", "image_stereo")
ALL_ON = AugmentOptions(
    flip=True,
    color_jitter=1.0,
    brightness=0.4,
    contrast=0.4,
    saturation=0.4,
    hue=0.2,
    crop_scale=(1.1, 1.6),
    channel_swap=1.0,
)


def make_sample(seed: int = 0, same_images: bool = False) -> dict:
    """A sample with every key of the contract: random images in [0, 1], depth with holes."""
    g = torch.Generator().manual_seed(seed)
    sample = {"name": "seq/000001"}
    first = torch.rand(3, HEIGHT, WIDTH, generator=g)
    for key in IMAGE_KEYS:
        sample[key] = first.clone() if same_images else torch.rand(3, HEIGHT, WIDTH, generator=g)
    for key in ("depth", "depth_stereo"):
        depth = 1.0 + 19.0 * torch.rand(1, HEIGHT, WIDTH, generator=g)
        depth[torch.rand(1, HEIGHT, WIDTH, generator=g) < 0.3] = 0.0
        sample[key] = depth
    sample["K"] = torch.tensor([[20.0, 0.5, 15.5], [0.0, 21.0, 11.5], [0.0, 0.0, 1.0]])
    for key, tx in (("T_-1", 0.5), ("T_+1", -0.5), ("T_stereo", -0.54)):
        T = torch.eye(4)
        T[0, 3], T[2, 3] = tx, 0.3
        sample[key] = T
    sample["speed"] = torch.tensor(5.0)
    return sample


def assert_samples_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if key == "name":
            assert a[key] == b[key]
        else:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


# --- flip ------------------------------------------------------------------------------------


def test_flip_twice_is_identity():
    sample = make_sample()
    assert_samples_equal(hflip_sample(hflip_sample(sample)), sample)
    flipped = hflip_sample(sample)
    torch.testing.assert_close(flipped["image_+1"], sample["image_+1"].flip(-1))
    assert float(flipped["K"][0, 2]) == WIDTH - 1 - 15.5
    assert float(flipped["T_stereo"][0, 3]) == pytest.approx(0.54)
    # A point P seen at (u, v) is seen at (W - 1 - u, v) as the mirrored point diag(-1, 1, 1) P,
    # also with a skewed K.
    points = torch.tensor([[[0.4, -0.3], [-0.2, 0.5], [2.0, 3.0]]])
    uv, _ = project_points(points, sample["K"][None])
    uv_flipped, _ = project_points(
        points * torch.tensor([[-1.0], [1.0], [1.0]]), flipped["K"][None]
    )
    torch.testing.assert_close(uv_flipped[0, 0], WIDTH - 1 - uv[0, 0])
    torch.testing.assert_close(uv_flipped[0, 1], uv[0, 1])


# --- colour jitter ---------------------------------------------------------------------------


def test_jitter_with_zero_ranges_is_identity():
    sample = make_sample()
    assert_samples_equal(color_jitter_sample(sample, 0.0, 0.0, 0.0, 0.0), sample)
    options = AugmentOptions(
        flip=False, color_jitter=1.0, brightness=0, contrast=0, saturation=0, hue=0
    )
    assert_samples_equal(augment_sample(sample, options), sample)


def test_jitter_is_the_same_on_every_image():
    sample = make_sample(same_images=True)
    out = color_jitter_sample(sample, 0.2, 0.2, 0.2, 0.1, torch.Generator().manual_seed(1))
    assert (out["image"] - sample["image"]).abs().max() > 0.01  # it did change the colours
    for key in IMAGE_KEYS[1:]:
        torch.testing.assert_close(out[key], out["image"], rtol=0, atol=0, msg=key)
    for key in ("depth", "K", "T_+1", "speed"):
        assert out[key] is sample[key]


def test_brightness_jitter_scales_by_one_factor_in_range():
    sample = make_sample()
    for key in IMAGE_KEYS:
        sample[key] = sample[key] * 0.5  # no clipping at 1.2x
    for seed in range(5):
        out = color_jitter_sample(sample, 0.2, 0.0, 0.0, 0.0, torch.Generator().manual_seed(seed))
        ratio = out["image"] / sample["image"]
        factor = float(ratio.mean())
        assert 0.8 <= factor <= 1.2
        for key in IMAGE_KEYS:
            torch.testing.assert_close(out[key], sample[key] * factor)


def test_jitter_keeps_images_in_unit_range():
    sample = make_sample()
    sample["image"][0, :4] = 1.0
    sample["image"][:, 4:8] = 0.0
    for seed in range(10):
        out = color_jitter_sample(sample, 0.9, 0.9, 0.9, 0.5, torch.Generator().manual_seed(seed))
        for key in IMAGE_KEYS:
            assert float(out[key].min()) >= 0.0 and float(out[key].max()) <= 1.0


# --- random scale and crop -------------------------------------------------------------------


def ramp_sample() -> dict:
    """Images linear in (u, v), which bilinear resampling reproduces exactly; unique depths."""
    u = torch.arange(WIDTH, dtype=torch.float64).expand(HEIGHT, WIDTH)
    v = torch.arange(HEIGHT, dtype=torch.float64)[:, None].expand(HEIGHT, WIDTH)
    image = torch.stack([0.1 + 0.8 * u / (WIDTH - 1), 0.1 + 0.8 * v / (HEIGHT - 1), 0.5 + 0 * u])
    depth = 1.0 + 0.01 * torch.arange(HEIGHT * WIDTH, dtype=torch.float64).reshape(1, HEIGHT, WIDTH)
    K = torch.tensor([[20.0, 0.0, 15.5], [0.0, 21.0, 11.5], [0.0, 0.0, 1.0]], dtype=torch.float64)
    return {"name": "s/0", "image": image, "depth": depth, "K": K, "T_+1": torch.eye(4)}


@pytest.mark.parametrize("seed", range(4))
def test_scale_crop_keeps_projection_and_depth_consistent(seed):
    sample = ramp_sample()
    out = random_scale_crop_sample(sample, (1.2, 1.8), torch.Generator().manual_seed(seed))
    K, K_new = sample["K"], out["K"]
    assert float(K_new[0, 0]) > float(K[0, 0])  # zooming in lengthens the focal length
    torch.testing.assert_close(out["T_+1"], sample["T_+1"])

    # 3D points seen inside the original image project with the new K to where their pixel moved:
    # the ramp's value at the old location is found at the new one.
    g = torch.Generator().manual_seed(100 + seed)
    uv = torch.stack(
        [
            1 + (WIDTH - 3) * torch.rand(400, generator=g, dtype=torch.float64),
            1 + (HEIGHT - 3) * torch.rand(400, generator=g, dtype=torch.float64),
        ]
    )
    z = 2.0 + 8.0 * torch.rand(400, generator=g, dtype=torch.float64)
    points = z * (torch.linalg.inv(K) @ torch.cat([uv, torch.ones(1, 400, dtype=torch.float64)]))
    uv_new, _ = project_points(points[None], K_new[None])
    uv_new = uv_new[0]
    inside = (uv_new[0] >= 0.5) & (uv_new[0] <= WIDTH - 1.5)
    inside &= (uv_new[1] >= 0.5) & (uv_new[1] <= HEIGHT - 1.5)
    assert int(inside.sum()) > 50
    expected = torch.stack([0.1 + 0.8 * uv[0] / (WIDTH - 1), 0.1 + 0.8 * uv[1] / (HEIGHT - 1)])
    grid = torch.stack([2 * uv_new[0] / (WIDTH - 1) - 1, 2 * uv_new[1] / (HEIGHT - 1) - 1], -1)
    found = F.grid_sample(out["image"][None], grid[None, None], align_corners=True)[0, :2, 0]
    torch.testing.assert_close(found[:, inside], expected[:, inside], atol=1e-9, rtol=0)

    # The depth of each pixel is found, unchanged, at the pixel its centre projects to.
    v, u = torch.meshgrid(
        torch.arange(HEIGHT, dtype=torch.float64),
        torch.arange(WIDTH, dtype=torch.float64),
        indexing="ij",
    )
    depth = sample["depth"][0]
    rays = torch.linalg.inv(K) @ torch.stack(
        [u.flatten(), v.flatten(), torch.ones(u.numel(), dtype=torch.float64)]
    )
    uv_new, z_new = project_points((depth.flatten() * rays)[None], K_new[None])
    torch.testing.assert_close(z_new[0].flatten(), depth.flatten())
    col, row = uv_new[0].round().long()
    keep = (col >= 0) & (col < WIDTH) & (row >= 0) & (row < HEIGHT)
    assert int(keep.sum()) > 100
    torch.testing.assert_close(out["depth"][0, row[keep], col[keep]], depth.flatten()[keep])


def test_scale_crop_with_known_offset_shifts_the_principal_point():
    sample = ramp_sample()
    out = scale_crop_sample(sample, (48, 64), (5, 7))
    # Exactly 2x: cx' = (cx + 0.5) * 2 - 0.5 - left.
    assert float(out["K"][0, 2]) == pytest.approx((15.5 + 0.5) * 2 - 0.5 - 7)
    assert float(out["K"][1, 2]) == pytest.approx((11.5 + 0.5) * 2 - 0.5 - 5)
    assert float(out["K"][0, 0]) == pytest.approx(40.0)
    # Nearest-exact at 2x: output pixel (r, c) shows source pixel ((r + 5) // 2, (c + 7) // 2).
    assert float(out["depth"][0, 0, 0]) == float(sample["depth"][0, 2, 3])
    assert float(out["depth"][0, 1, 1]) == float(sample["depth"][0, 3, 4])


def test_scale_crop_never_blends_depth_with_holes():
    sample = make_sample()
    out = random_scale_crop_sample(sample, (1.3, 1.3), torch.Generator().manual_seed(0))
    for key in ("depth", "depth_stereo"):
        values = out[key].flatten()
        assert torch.isin(values, sample[key].flatten()).all(), key  # copies only
        assert (values == 0).any() and (values > 0).any()
        # Next to a hole stays exactly 0 or a valid depth >= 1 m, never in between.
        assert not ((values > 0) & (values < 1.0)).any()


def test_scale_crop_rejects_zoom_out_and_outside_crops():
    sample = make_sample()
    with pytest.raises(MdkError, match=r"smaller than the sample's \(24, 32\)"):
        scale_crop_sample(sample, (20, 32), (0, 0))
    with pytest.raises(MdkError, match=r"crop offset \(0, 9\) puts the \(24, 32\) window outside"):
        scale_crop_sample(sample, (30, 40), (0, 9))
    with pytest.raises(MdkError, match="no rule to transform key 'mask'"):
        scale_crop_sample({**sample, "mask": torch.ones(1, HEIGHT, WIDTH)}, (30, 40), (0, 0))


# --- channel swap ----------------------------------------------------------------------------


def test_channel_permutation_is_the_same_for_every_image():
    sample = make_sample()
    out = permute_channels_sample(sample, (2, 0, 1))
    for key in IMAGE_KEYS:
        torch.testing.assert_close(out[key], sample[key][[2, 0, 1]])
    assert out["depth"] is sample["depth"]
    with pytest.raises(MdkError, match="ordering of"):
        permute_channels_sample(sample, (0, 0, 1))


def test_random_channel_swap_uses_one_non_identity_permutation():
    sample = make_sample()
    for key in IMAGE_KEYS:  # channel c is the constant c / 4, so the permutation can be read back
        sample[key] = torch.arange(3.0)[:, None, None].expand(3, HEIGHT, WIDTH) / 4
    options = AugmentOptions(flip=False, channel_swap=1.0)
    seen = set()
    for seed in range(30):
        out = augment_sample(sample, options, torch.Generator().manual_seed(seed))
        order = tuple(int(c) for c in (out["image"][:, 0, 0] * 4).round())
        assert order != (0, 1, 2) and sorted(order) == [0, 1, 2]
        for key in IMAGE_KEYS:
            torch.testing.assert_close(out[key], sample[key][list(order)])
        seen.add(order)
    assert seen == set(itertools.permutations(range(3))) - {(0, 1, 2)}
    off = AugmentOptions(flip=False, channel_swap=0.0)
    assert_samples_equal(augment_sample(sample, off), sample)


# --- the composition -------------------------------------------------------------------------


def test_augment_keeps_every_key_shape_and_the_contract():
    sample = make_sample()
    for seed in range(5):
        out = augment_sample(sample, ALL_ON, torch.Generator().manual_seed(seed))
        assert out.keys() == sample.keys()
        for key, value in out.items():
            if key != "name":
                assert value.shape == sample[key].shape, key
                assert value.dtype == sample[key].dtype, key
        validate_batch(out, batched=False)


def test_augment_is_deterministic_under_a_seed():
    sample = make_sample()
    first = augment_sample(sample, ALL_ON, torch.Generator().manual_seed(7))
    assert_samples_equal(augment_sample(sample, ALL_ON, torch.Generator().manual_seed(7)), first)
    other = augment_sample(sample, ALL_ON, torch.Generator().manual_seed(8))
    assert not torch.equal(other["image"], first["image"])
    torch.manual_seed(3)
    global_rng = augment_sample(sample, ALL_ON)
    torch.manual_seed(3)
    assert_samples_equal(augment_sample(sample, ALL_ON), global_rng)


def test_default_options_only_flip():
    sample = make_sample()
    outcomes = set()
    for seed in range(20):
        out = augment_sample(sample, AugmentOptions(), torch.Generator().manual_seed(seed))
        flipped = torch.equal(out["image"], sample["image"].flip(-1))
        assert flipped or torch.equal(out["image"], sample["image"])
        outcomes.add(flipped)
    assert outcomes == {True, False}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"color_jitter": 1.5}, r"augment.color_jitter: expected a probability in \[0, 1\]"),
        ({"channel_swap": -0.1}, r"augment.channel_swap: expected a probability"),
        ({"brightness": -0.2}, r"augment.brightness: expected a range >= 0"),
        ({"hue": 0.6}, r"augment.hue: expected a range in \[0, 0.5\]"),
        ({"crop_scale": (0.8, 1.2)}, r"augment.crop_scale: expected 1 <= min <= max"),
        ({"crop_scale": (1.5, 1.2)}, r"augment.crop_scale: expected 1 <= min <= max"),
    ],
)
def test_bad_options_are_reported(kwargs, message):
    with pytest.raises(MdkError, match=message):
        AugmentOptions(**kwargs)


# --- wiring: dataset, data module, config ----------------------------------------------------


def test_folder_dataset_augments_with_the_global_rng(folder_tree):
    options = AugmentOptions(color_jitter=1.0, crop_scale=(1.2, 1.5), channel_swap=0.5)
    dataset = FolderDataset(folder_tree, frame_offsets=[-1, 1], augment=options)
    plain = FolderDataset(folder_tree, frame_offsets=[-1, 1])[0]
    torch.manual_seed(0)
    first = dataset[0]
    torch.manual_seed(0)
    assert_samples_equal(dataset[0], first)
    validate_batch(first, batched=False)
    assert first["image"].shape == plain["image"].shape
    assert not torch.equal(first["K"], plain["K"])  # scaled and cropped
    assert FolderDataset(folder_tree, augment=AugmentOptions(flip=False)).augment is None


def test_datamodule_augments_the_training_split_only(tmp_path):
    write_tree(tmp_path / "seq", frames=3)
    (tmp_path / "splits").mkdir()
    for split in ("train", "val", "test"):
        (tmp_path / "splits" / f"{split}.txt").write_text("seq 000000\nseq 000001\n")
    options = AugmentOptions(color_jitter=0.5, crop_scale=(1.0, 1.2))
    module = DepthDataModule(dataset="folder", root=str(tmp_path), num_workers=0, augment=options)
    assert module.build_dataset("train").augment == options
    assert module.build_dataset("val").augment is None
    # The older `flip` flag still works: alone (the default) and as an off switch.
    default = DepthDataModule(dataset="folder", root=str(tmp_path), num_workers=0)
    assert default.build_dataset("train").augment == AugmentOptions()
    off = DepthDataModule(dataset="folder", root=str(tmp_path), num_workers=0, flip=False)
    assert off.build_dataset("train").augment is None
    no_flip = DepthDataModule(
        dataset="folder", root=str(tmp_path), num_workers=0, flip=False, augment=options
    )
    assert no_flip.build_dataset("train").augment.flip is False


def test_augment_options_parse_from_yaml():
    from jsonargparse import ArgumentParser

    parser = ArgumentParser()
    parser.add_class_arguments(DepthDataModule, "data")
    config = parser.parse_string(
        "data:\n  dataset: folder\n  flip: true\n"
        "  augment: {color_jitter: 0.5, crop_scale: [1.0, 1.25], channel_swap: 0.25}\n"
    )
    module = parser.instantiate(config).data
    assert isinstance(module, DepthDataModule)
    assert module.augment == AugmentOptions(
        color_jitter=0.5, crop_scale=(1.0, 1.25), channel_swap=0.25
    )
    assert module.augment.brightness == 0.2 and module.augment.hue == 0.1
