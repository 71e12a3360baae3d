import numpy as np
import pytest
import torch

from conftest import write_tree
from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.data.folder import FolderDataset
from monodepthkit.data.io import read_depth_png, write_depth_png, write_rgb
from monodepthkit.data.transforms import hflip_sample
from monodepthkit.errors import MdkError
from monodepthkit.geometry import backproject_depth, project_points, transform_points
from monodepthkit.geometry.camera import scale_intrinsics


def test_sample_follows_the_contract(folder_tree):
    dataset = FolderDataset(folder_tree, frame_offsets=[-1, 1], require_depth=True)
    assert len(dataset) == 2  # first and last frames lack a neighbour
    sample = dataset[0]
    assert sample["name"] == "data/000001"
    assert sample["image"].shape == (3, 24, 32) and sample["image"].dtype == torch.float32
    assert float(sample["image"].min()) >= 0.0 and float(sample["image"].max()) <= 1.0
    assert sample["depth"].shape == (1, 24, 32)
    assert float(sample["depth"][0, 0, 0]) == 0.0  # invalid stays 0
    expected = read_depth_png(folder_tree / "depth" / "000001.png")
    np.testing.assert_array_equal(sample["depth"][0].numpy(), expected)
    # Frame +1 is 0.5 m further along z: target points appear 0.5 m closer to it.
    np.testing.assert_allclose(sample["T_+1"][:3, 3].numpy(), [0, 0, -0.5], atol=1e-6)
    np.testing.assert_allclose(sample["T_-1"][:3, 3].numpy(), [0, 0, 0.5], atol=1e-6)
    assert float(sample["speed"]) == pytest.approx(5.0)  # 0.5 m per 0.1 s


def test_resize_scales_intrinsics_consistently(folder_tree):
    full = FolderDataset(folder_tree)[0]
    half = FolderDataset(folder_tree, image_size=(12, 16))[0]
    assert half["image"].shape == (3, 12, 16) and half["depth"].shape == (1, 12, 16)
    K = half["K"].double()
    # Pixel centres: u' = (u + 0.5) / 2 - 0.5.
    assert float(K[0, 2]) == pytest.approx((15.5 + 0.5) / 2 - 0.5)
    assert float(K[0, 0]) == pytest.approx(10.0)
    # A 3D point projects to corresponding locations at both resolutions.
    point = torch.tensor([[[0.3], [-0.2], [2.0]]], dtype=torch.float64)
    uv_full, _ = project_points(point, full["K"].double()[None])
    uv_half, _ = project_points(point, K[None])
    torch.testing.assert_close(uv_half, (uv_full + 0.5) / 2 - 0.5)


def test_scale_intrinsics_roundtrip():
    K = np.array([[700.0, 0, 600.5], [0, 710.0, 180.2], [0, 0, 1]])
    back = scale_intrinsics(scale_intrinsics(K, (375, 1242), (128, 416)), (128, 416), (375, 1242))
    np.testing.assert_allclose(back, K)


def test_hflip_is_geometrically_consistent(folder_tree):
    sample = FolderDataset(folder_tree, frame_offsets=[1])[0]
    flipped = hflip_sample(sample)
    torch.testing.assert_close(hflip_sample(flipped)["K"], sample["K"])
    # A pixel (u, v) with depth z moved by T lands at u' in frame +1; in the flipped images the
    # mirrored pixel must land at the mirrored location.
    width = sample["image"].shape[-1]
    depth = torch.full((1, 1, 24, 32), 3.0)
    uv, _ = project_points(
        transform_points(sample["T_+1"][None], backproject_depth(depth, sample["K"][None])),
        sample["K"][None],
    )
    uvf, _ = project_points(
        transform_points(flipped["T_+1"][None], backproject_depth(depth, flipped["K"][None])),
        flipped["K"][None],
    )
    uv = uv.reshape(2, 24, 32)
    uvf = uvf.reshape(2, 24, 32)
    torch.testing.assert_close(uvf[0], (width - 1 - uv[0]).flip(-1), atol=1e-4, rtol=0)
    torch.testing.assert_close(uvf[1], uv[1].flip(-1), atol=1e-4, rtol=0)
    torch.testing.assert_close(flipped["depth"], sample["depth"].flip(-1))


def test_splits_are_read_from_files(tmp_path):
    for name in ("seq_a", "seq_b"):
        write_tree(tmp_path / name, frames=3)
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.txt").write_text("seq_b 000000\nseq_b 000002\n")
    dataset = FolderDataset(tmp_path, split="test")
    assert [dataset[i]["name"] for i in range(len(dataset))] == ["seq_b/000000", "seq_b/000002"]
    assert len(FolderDataset(tmp_path, split="all")) == 6


def test_datamodule_builds_loaders(tmp_path):
    for name in ("seq_a", "seq_b"):
        write_tree(tmp_path / name, frames=3)
    (tmp_path / "splits").mkdir()
    for split in ("train", "val", "test"):
        (tmp_path / "splits" / f"{split}.txt").write_text(
            "seq_a 000000\nseq_a 000001\nseq_b 000002\n"
        )
    module = DepthDataModule(dataset="folder", root=str(tmp_path), batch_size=2, num_workers=0)
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["image"].shape == (2, 3, 24, 32) and batch["depth"].shape == (2, 1, 24, 32)
    assert len(module.val_dataloader().dataset) == 3


# --- bad input: one-line errors naming the file ----------------------------------------------


def test_missing_folder(tmp_path):
    with pytest.raises(MdkError, match=r"nope: data folder not found"):
        FolderDataset(tmp_path / "nope")


def test_image_without_depth(folder_tree):
    (folder_tree / "depth" / "000002.png").unlink()
    with pytest.raises(
        MdkError, match=r"000002\.png: image has no depth map; expected .*depth/000002\.png"
    ):
        FolderDataset(folder_tree)


def test_depth_of_another_size(folder_tree):
    write_depth_png(folder_tree / "depth" / "000001.png", np.ones((10, 10)))
    with pytest.raises(
        MdkError, match=r"000001\.png: depth is 10x10 \(WxH\) but its image 000001\.png is 32x24"
    ):
        FolderDataset(folder_tree)


def test_file_that_is_not_an_image(folder_tree):
    (folder_tree / "image" / "000003.png").write_text("not an image")
    with pytest.raises(MdkError, match=r"000003\.png: expected an image"):
        FolderDataset(folder_tree)


def test_missing_split_file(folder_tree):
    with pytest.raises(MdkError, match=r"splits/train\.txt: split file not found"):
        FolderDataset(folder_tree, split="train")


def test_missing_depth_folder_when_required(tmp_path):
    write_tree(tmp_path, depth=False)
    with pytest.raises(MdkError, match="no depth/ folder"):
        FolderDataset(tmp_path, require_depth=True)
    assert "depth" not in FolderDataset(tmp_path)[0]


def test_jpg_images_are_read(tmp_path):
    write_tree(tmp_path, frames=2)
    image = (np.arange(24 * 32 * 3) % 256).astype(np.uint8).reshape(24, 32, 3)
    (tmp_path / "image" / "000001.png").unlink()
    write_rgb(tmp_path / "image" / "000001.jpg", image)
    assert FolderDataset(tmp_path)[1]["image"].shape == (3, 24, 32)


def test_dataset_registry():
    from monodepthkit.data.registry import get_dataset_builder, list_datasets

    assert {"folder", "synthetic"} <= set(list_datasets())
    assert get_dataset_builder("folder") is FolderDataset
    with pytest.raises(MdkError, match=r"unknown dataset 'kiti'; available: .*folder"):
        DepthDataModule(dataset="kiti")
