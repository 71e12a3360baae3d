"""NYU Depth v2 labelled: the transposed .mat layout, split schemes, intrinsics, border."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch

from conftest import REALDATA
from monodepthkit.data.datamodule import DepthDataModule
from monodepthkit.data.nyu import (
    EIGEN_CROP,
    NyuLabeledDataset,
    export_labeled_to_folder,
    kinect_intrinsics,
    read_official_split,
    split_indices,
)
from monodepthkit.data.registry import get_dataset_builder
from monodepthkit.data.transforms import AugmentOptions
from monodepthkit.errors import MdkError
from monodepthkit.geometry import project_points
from monodepthkit.geometry.camera import scale_intrinsics

SPLITS_MAT = REALDATA / "splits_bts" / "splits.mat"


def frame_pattern(index: int, height: int = 480, width: int = 640) -> tuple[np.ndarray, np.ndarray]:
    """An asymmetric image and depth: R = row, G = column, B = frame; depth grows along both."""
    rows, cols = np.mgrid[0:height, 0:width]
    image = np.stack([rows % 256, cols % 256, np.full_like(rows, 40 * index + 7)], axis=-1).astype(
        np.uint8
    )
    depth = (0.5 + rows * 0.01 + cols * 0.001 + index).astype(np.float32)
    return image, depth


def write_labeled_mat(path: Path, frames: int = 3, size: tuple[int, int] = (480, 640)) -> Path:
    """A tiny nyu_depth_v2_labeled.mat in MATLAB v7.3's layout as h5py sees it (N x 3 x W x H)."""
    height, width = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as mat:
        images = mat.create_dataset("images", (frames, 3, width, height), dtype=np.uint8)
        depths = mat.create_dataset("depths", (frames, width, height), dtype=np.float32)
        raw = mat.create_dataset("rawDepths", (frames, width, height), dtype=np.float32)
        for index in range(frames):
            image, depth = frame_pattern(index, height, width)
            images[index] = image.transpose(2, 1, 0)  # [H, W, 3] -> MATLAB's [3, W, H]
            depths[index] = depth.T
            hole = depth.copy()
            hole[:10] = 0.0
            raw[index] = hole.T
    return path


@pytest.fixture(scope="module")
def nyu_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nyu")
    write_labeled_mat(root / "nyu_depth_v2_labeled.mat")
    scipy.io.savemat(
        root / "splits.mat",
        {
            "trainNdxs": np.array([[1], [3]], dtype=np.uint16),
            "testNdxs": np.array([[2]], dtype=np.uint16),
        },
    )
    return root


def test_transposed_layout_gives_image_orientation(nyu_root):
    dataset = NyuLabeledDataset(nyu_root, split="all")
    assert len(dataset) == 3
    for index in range(3):
        sample = dataset[index]
        image, depth = frame_pattern(index)
        assert sample["name"] == f"nyu_labeled/{index + 1:04d}"
        assert sample["image"].shape == (3, 480, 640)
        np.testing.assert_array_equal(
            (sample["image"] * 255).round().byte().permute(1, 2, 0).numpy(), image
        )
        np.testing.assert_array_equal(sample["depth"][0].numpy(), depth)
    # Spot values: row 300, column 7 -> R = 300 % 256, G = 7; depth grows 10x faster down rows.
    sample = dataset[1]
    assert round(float(sample["image"][0, 300, 7]) * 255) == 300 % 256
    assert round(float(sample["image"][1, 300, 7]) * 255) == 7
    assert float(sample["depth"][0, 300, 7]) == pytest.approx(0.5 + 3.0 + 0.007 + 1, abs=1e-5)


def test_raw_depth_option_reads_raw_depths(nyu_root):
    sample = NyuLabeledDataset(nyu_root, split="all", raw_depth=True)[0]
    assert float(sample["depth"][0, :10].abs().max()) == 0.0
    assert float(sample["depth"][0, 10:].min()) > 0.0


def test_official_split_uses_one_based_indices(nyu_root):
    train = NyuLabeledDataset(nyu_root, split="train")
    test = NyuLabeledDataset(nyu_root, split="test")
    assert [train[i]["name"] for i in range(len(train))] == ["nyu_labeled/0001", "nyu_labeled/0003"]
    assert [test[i]["name"] for i in range(len(test))] == ["nyu_labeled/0002"]
    # Frame "2" (1-based) is the one written with index 1.
    np.testing.assert_array_equal(test[0]["depth"][0].numpy(), frame_pattern(1)[1])
    with pytest.raises(MdkError, match=r"has no split 'val'.*report2 or report5"):
        NyuLabeledDataset(nyu_root, split="val")


def test_real_splits_mat_is_795_654_disjoint_one_based():
    if not SPLITS_MAT.is_file():
        pytest.skip(f"{SPLITS_MAT} not found (../shared/realdata is only on the build machines)")
    raw = scipy.io.loadmat(SPLITS_MAT)
    assert raw["trainNdxs"].min() >= 1 and raw["testNdxs"].max() == 1449  # stored 1-based
    split = read_official_split(SPLITS_MAT)
    assert len(split["train"]) == 795 and len(split["test"]) == 654
    assert not set(split["train"]) & set(split["test"])
    assert sorted(set(split["train"]) | set(split["test"])) == list(range(1449))
    np.testing.assert_array_equal(split["test"], raw["testNdxs"].ravel().astype(np.int64) - 1)
    np.testing.assert_array_equal(
        split_indices("official", "train", splits_file=SPLITS_MAT), split["train"]
    )


def test_report2_split_is_1049_200_200_and_seeded():
    parts = {s: split_indices("report2", s, seed=0) for s in ("train", "val", "test")}
    assert [len(parts[s]) for s in ("train", "val", "test")] == [1049, 200, 200]
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(1449))
    np.testing.assert_array_equal(split_indices("report2", "val", seed=0), parts["val"])
    assert not np.array_equal(split_indices("report2", "val", seed=1), parts["val"])


def test_report5_split_reproduces_its_sklearn_script():
    parts = {s: split_indices("report5", s) for s in ("train", "val", "test")}
    # sklearn: train_test_split(np.arange(1, 1449), test_size=0.2, random_state=31), twice.
    assert [len(parts[s]) for s in ("train", "val", "test")] == [926, 232, 290]
    assert (parts["train"][:5] + 1).tolist() == [506, 988, 1364, 165, 763]
    assert (parts["val"][:5] + 1).tolist() == [908, 1201, 744, 601, 800]
    assert (parts["test"][:5] + 1).tolist() == [1347, 72, 1402, 777, 939]
    every = np.concatenate(list(parts.values()))
    assert len(set(every.tolist())) == 1448 and 1448 not in every  # frame 1449 is in no split
    assert not np.array_equal(split_indices("report5", "test", seed=0), parts["test"])


def test_kinect_intrinsics_scale_with_resize_and_crop(nyu_root):
    K = kinect_intrinsics()
    np.testing.assert_allclose(
        [K[0, 0], K[1, 1], K[0, 2], K[1, 2]], [518.8579, 519.4696, 325.5824, 253.7362], atol=1e-4
    )
    full = NyuLabeledDataset(nyu_root, split="all")[0]
    torch.testing.assert_close(full["K"], torch.from_numpy(K).float())
    half = NyuLabeledDataset(nyu_root, split="all", image_size=(240, 320))[0]
    assert half["image"].shape == (3, 240, 320)
    torch.testing.assert_close(
        half["K"], torch.from_numpy(scale_intrinsics(K, (480, 640), (240, 320))).float()
    )
    cropped = NyuLabeledDataset(nyu_root, split="train", border="crop", image_size=(213, 280))[0]
    assert cropped["image"].shape == (3, 213, 280)
    # A 3D point lands at the same scene pixel: full-frame (u, v) -> ((u - 41 + .5) / 2 - .5, ...).
    point = torch.tensor([[[0.4], [-0.3], [2.5]]], dtype=torch.float64)
    uv_full, _ = project_points(point, full["K"].double()[None])
    uv_crop, _ = project_points(point, cropped["K"].double()[None])
    expected = (uv_full - torch.tensor([[[41.0], [45.0]]]) + 0.5) / 2 - 0.5
    torch.testing.assert_close(uv_crop, expected, atol=1e-3, rtol=0)


def test_border_crop_and_mask_apply_to_training_split_only(nyu_root):
    top, bottom, left, right = EIGEN_CROP
    _, depth = frame_pattern(0)
    cropped = NyuLabeledDataset(nyu_root, split="train", border="crop")[0]
    assert cropped["image"].shape == (3, bottom - top, right - left)
    np.testing.assert_array_equal(cropped["depth"][0].numpy(), depth[top:bottom, left:right])
    masked = NyuLabeledDataset(nyu_root, split="train", border="mask")[0]
    assert masked["image"].shape == (3, 480, 640)
    inside = np.zeros((480, 640), dtype=bool)
    inside[top:bottom, left:right] = True
    np.testing.assert_array_equal(masked["depth"][0].numpy()[inside], depth[inside])
    assert float(masked["depth"][0].numpy()[~inside].max()) == 0.0
    # The test split stays at full frame: the nyu evaluation protocol crops by itself.
    test = NyuLabeledDataset(nyu_root, split="test", border="crop")[0]
    assert test["image"].shape == (3, 480, 640)
    custom = NyuLabeledDataset(
        nyu_root, split="all", border="crop", border_box=(8, 472, 8, 632), border_splits=["all"]
    )[0]
    assert custom["image"].shape == (3, 464, 624)


def test_augmentation_and_datamodule(nyu_root):
    flipped = NyuLabeledDataset(nyu_root, split="all", augment=AugmentOptions(flip=True))
    torch.manual_seed(0)
    samples = [flipped[0] for _ in range(8)]
    assert any(float(s["K"][0, 2]) != pytest.approx(325.5824, abs=1e-3) for s in samples)
    assert get_dataset_builder("nyu_labeled") is NyuLabeledDataset
    module = DepthDataModule(
        dataset="nyu_labeled",
        root=str(nyu_root),
        batch_size=2,
        num_workers=0,
        image_size=(120, 160),
        val_split="test",
        test_split="test",
        dataset_options={"border": "crop"},
    )
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["image"].shape == (2, 3, 120, 160) and batch["K"].shape == (2, 3, 3)
    assert len(module.val_dataloader().dataset) == 1


def test_export_to_folder_format(nyu_root, tmp_path):
    from monodepthkit.data.folder import FolderDataset

    out = export_labeled_to_folder(nyu_root, tmp_path / "nyu_labeled", split_scheme="official")
    assert (out / "splits" / "test.txt").read_text() == "nyu 0002\n"
    sample = FolderDataset(out, split="test", require_depth=True)[0]
    np.testing.assert_allclose(sample["depth"][0].numpy(), frame_pattern(1)[1], atol=5e-4)
    torch.testing.assert_close(sample["K"], torch.from_numpy(kinect_intrinsics()).float())


# --- bad input ----------------------------------------------------------------------------


def test_missing_mat_names_the_expected_file(tmp_path):
    with pytest.raises(MdkError, match=r"nyu_depth_v2_labeled\.mat: file not found; expected"):
        NyuLabeledDataset(tmp_path)


def test_missing_splits_file_says_where_to_get_it(tmp_path):
    write_labeled_mat(tmp_path / "nyu_depth_v2_labeled.mat", frames=1, size=(48, 64))
    with pytest.raises(MdkError, match=r"splits\.mat: NYU split file not found.*report2/report5"):
        NyuLabeledDataset(tmp_path, split="train")
    assert len(NyuLabeledDataset(tmp_path, split="all")) == 1


def test_wrong_files_are_reported(tmp_path):
    scipy.io.savemat(tmp_path / "v5.mat", {"images": np.zeros((2, 2))})
    with pytest.raises(MdkError, match=r"v5\.mat: not an HDF5 file"):
        NyuLabeledDataset(tmp_path / "v5.mat")
    with h5py.File(tmp_path / "partial.mat", "w") as mat:
        mat.create_dataset("images", (1, 3, 64, 48), dtype=np.uint8)
    with pytest.raises(MdkError, match=r"partial\.mat: no 'depths' array"):
        NyuLabeledDataset(tmp_path / "partial.mat")
    with h5py.File(tmp_path / "layout.mat", "w") as mat:
        mat.create_dataset("images", (1, 48, 64, 3), dtype=np.uint8)
        mat.create_dataset("depths", (1, 48, 64), dtype=np.float32)
    with pytest.raises(MdkError, match=r"layout\.mat: expected images N x 3 x W x H"):
        NyuLabeledDataset(tmp_path / "layout.mat")


def test_bad_options(nyu_root):
    with pytest.raises(MdkError, match="use dataset nyu_raw"):
        NyuLabeledDataset(nyu_root, frame_offsets=[-1, 1])
    with pytest.raises(MdkError, match="border 'cut'"):
        NyuLabeledDataset(nyu_root, border="cut")
    with pytest.raises(MdkError, match="unknown NYU split scheme 'eigen'"):
        NyuLabeledDataset(nyu_root, split_scheme="eigen")
    with pytest.raises(MdkError, match="is not a box inside"):
        NyuLabeledDataset(nyu_root, border="crop", border_box=(45, 471, 601, 41))
