"""`mdk data check`: every kind of problem is listed, one line naming the file, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from test_nyu_labeled import write_labeled_mat
from test_nyu_raw import write_scene
from torch.utils.data import Dataset

from conftest import write_tree
from monodepthkit.cli import main
from monodepthkit.data.check import Problem, check_dataset, run_check
from monodepthkit.data.io import write_depth_png, write_matrix, write_rgb
from monodepthkit.data.registry import register_dataset
from monodepthkit.errors import MdkError


@pytest.fixture
def broken_tree(tmp_path) -> Path:
    """Three sequences: one clean, two with one problem of each kind."""
    root = tmp_path / "tree"
    write_tree(root / "good", frames=3)
    bad = write_tree(root / "bad", frames=6)
    (bad / "depth" / "000000.png").unlink()  # missing depth
    (bad / "image" / "000001.png").write_bytes(b"not a png at all")  # unreadable image
    data = (bad / "image" / "000002.png").read_bytes()
    (bad / "image" / "000002.png").write_bytes(data[: len(data) // 2])  # truncated PNG
    write_depth_png(bad / "depth" / "000003.png", np.ones((10, 12)))  # size mismatch
    write_depth_png(bad / "depth" / "000004.png", np.zeros((24, 32)))  # no valid depth
    (bad / "depth" / "000005.png").unlink()
    np.save(bad / "depth" / "000005.npy", np.full((24, 32), 5000.0, np.float32))  # implausible
    write_depth_png(bad / "depth" / "000099.png", np.ones((24, 32)))  # depth without image
    write_matrix(bad / "poses.txt", np.tile(np.eye(4)[:3].reshape(1, 12), (4, 1)))  # 4 of 6
    odd = write_tree(root / "odd", frames=2)
    write_matrix(odd / "intrinsics.txt", np.array([[0.5, 0, 500.0], [0, 0.5, 11.5], [0, 0, 1]]))
    write_matrix(odd / "timestamps.txt", np.array([[0.2], [0.1]]))
    (root / "splits").mkdir()
    (root / "splits" / "train.txt").write_text(
        "good 000000\ngood 000001\nnope 000000\ngood 000777\nbad 000123\nbad 000124\n"
    )
    (root / "splits" / "val.txt").write_text("good 000002\nthree words here\n")
    return root


def test_each_problem_is_listed_with_its_file(broken_tree):
    report = run_check("folder", broken_tree, workers=4)
    lines = [str(p) for p in report.problems]
    bad = broken_tree / "bad"
    expected = {
        f"{bad}/image/000000.png: image has no depth map; expected {bad}/depth/000000.png",
        f"{bad}/image/000001.png: unreadable image: expected a complete RGB image",
        f"{bad}/image/000002.png: unreadable image:",
        f"{bad}/depth/000003.png: depth is 12x10 (WxH) but its image 000003.png is 32x24",
        f"{bad}/depth/000004.png: no valid depth",
        f"{bad}/depth/000005.npy: depth up to 5000 m, beyond 1000 m",
        f"{bad}/depth/000099.png: depth map without an image",
        f"{bad}/poses.txt: expected one pose per image (6)",
        f"{broken_tree}/odd/intrinsics.txt: principal point (500.0, 11.5) is outside the 32x24",
        f"{broken_tree}/odd/intrinsics.txt: focal lengths fx 0.5, fy 0.5 give a",
        f"{broken_tree}/odd/timestamps.txt: timestamps must increase",
        f"{broken_tree}/splits/train.txt: 4 of 6 entries have no image (first: nope 000000, "
        "good 000777, bad 000123)",
        f"{broken_tree}/splits/val.txt: line 2: expected 'SEQUENCE FRAME'",
    }
    for start in expected:
        assert sum(line.startswith(start) for line in lines) == 1, (start, lines)
    assert len(lines) == len(expected), lines
    assert not any("/good/" in line for line in lines)
    assert report.counts["sequences"] == 3 and report.counts["frames"] == 11
    assert report.counts["train entries"] == 6
    low, high = report.depth_range
    assert 0.9 < low < 1.1 and high == pytest.approx(5000.0)


def test_clean_tree_has_no_problem(tmp_path, tiny_world):
    assert check_dataset("synthetic", tiny_world, workers=2) == []
    report = run_check("folder", tiny_world, split="test")
    assert report.problems == [] and report.counts["frames"] == report.counts["test entries"]
    root = write_tree(tmp_path / "one", frames=2)
    (root / "intrinsics.txt").unlink()
    (tmp_path / "one" / "meta.json").write_text(json.dumps({"fov_deg": 70}))
    assert check_dataset("folder", root) == []


def test_split_option_checks_only_that_split(broken_tree):
    lines = [str(p) for p in check_dataset("folder", broken_tree, split="val")]
    assert all("/bad/" not in line and "train.txt" not in line for line in lines), lines
    missing = check_dataset("folder", broken_tree, split="test")
    assert [str(p) for p in missing] == [
        f"{broken_tree}/splits/test.txt: split file not found (one 'SEQUENCE FRAME' line per frame)"
    ]


def test_wrong_root_shows_the_expected_layout(tmp_path):
    (problem,) = check_dataset("folder", tmp_path / "missing")
    assert "data folder not found; expected ROOT/image/*.png or ROOT/SEQUENCE/image/*.png" in str(
        problem
    )
    (problem,) = check_dataset("folder", tmp_path)
    assert str(problem).startswith(f"{tmp_path}: no image/ folder")
    with pytest.raises(MdkError, match="unknown dataset 'folders'"):
        check_dataset("folders", tmp_path)


def test_many_files_in_parallel(tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    for index in range(400):
        write_rgb(tmp_path / "image" / f"{index:06d}.png", image)
    (tmp_path / "image" / "000123.png").write_bytes(b"")
    report = run_check("folder", tmp_path, workers=8)
    assert report.counts["frames"] == 400
    assert [p.path.name for p in report.problems] == ["000123.png"]


# --- NYU and other datasets -----------------------------------------------------------------


def test_nyu_labeled_check(tmp_path):
    path = write_labeled_mat(tmp_path / "nyu_depth_v2_labeled.mat", frames=3, size=(48, 64))
    assert check_dataset("nyu_labeled", tmp_path) == []
    with h5py.File(path, "r+") as mat:
        mat["depths"][1, :, :] = 0.0
        mat["depths"][2, 3, 4] = np.nan
    lines = [str(p) for p in check_dataset("nyu_labeled", tmp_path)]
    assert lines == [
        f"{path}: frame 2: no valid depth (every value is 0)",
        f"{path}: frame 3: non-finite depth values",
    ]
    (problem,) = check_dataset("nyu_labeled", tmp_path / "elsewhere")
    assert "file not found; expected nyu_depth_v2_labeled.mat" in str(problem)


def test_nyu_raw_check(tmp_path):
    scene = write_scene(tmp_path / "office_0001")
    assert check_dataset("nyu_raw", tmp_path) == []
    report = run_check("nyu_raw", tmp_path)
    assert report.counts["rgb frames"] == 6 and report.counts["depth frames"] == 4
    broken = sorted(scene.glob("d-*.pgm"))[0]
    broken.write_bytes(broken.read_bytes()[:100])
    write_rgb(scene / "r-100.200000-1.ppm", np.zeros((10, 10, 3), np.uint8))
    (scene / "r-abc.ppm").write_bytes(b"")
    lines = [str(p) for p in check_dataset("nyu_raw", tmp_path)]
    assert lines == [
        f"{broken}: unreadable depth: expected a 16-bit PGM of Kinect disparity, found a file "
        "OpenCV cannot read",
        f"{scene}/r-100.200000-1.ppm: expected 640x480, found 10x10",
        f"{scene}/r-abc.ppm: not a raw frame name r-<time>-<n>.ppm / d-<time>-<n>.pgm",
    ]


class _Flaky(Dataset):
    """A registered dataset whose second sample is unreadable and third has a bad K."""

    def __init__(self, root, split="all", **options) -> None:
        self.root = Path(root)

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: int) -> dict:
        if index == 1:
            raise MdkError(f"{self.root / 'frame_1.png'}: image file not found")
        K = torch.tensor([[20.0, 0, 15.5], [0, 20.0, 11.5], [0, 0, 1]])
        if index == 2:
            K[0, 2] = -40.0
        return {"name": f"seq/{index}", "image": torch.rand(3, 24, 32), "K": K}


register_dataset("test_check_flaky")(_Flaky)


def test_other_datasets_are_checked_by_loading_samples(tmp_path):
    lines = [str(p) for p in check_dataset("test_check_flaky", tmp_path)]
    assert lines == [
        f"{tmp_path}: sample 1: {tmp_path / 'frame_1.png'}: image file not found",
        "seq/2: principal point (-40.0, 11.5) is outside the 32x24 image (is K for another "
        "image size?)",
    ]


# --- the command ----------------------------------------------------------------------------


def test_cli_exit_status_and_one_line_per_problem(broken_tree, tiny_world, capsys):
    assert main(["data", "check", "--dataset", "folder", "--root", str(broken_tree)]) == 1
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"folder at {broken_tree}: 3 sequences, 11 frames")
    assert len(lines) == 1 + 13 and all(line.startswith(str(broken_tree)) for line in lines[1:])
    assert err.strip() == "13 problem(s) found"
    code = main(["data", "check", "--dataset", "synthetic", "--root", str(tiny_world)])
    out, _ = capsys.readouterr()
    assert code == 0 and out.strip().endswith("no problems found")
    assert main(["data", "check", "--dataset", "nope", "--root", str(tiny_world)]) == 2
    assert "error: unknown dataset 'nope'" in capsys.readouterr().err


def test_problem_reads_as_path_colon_message():
    assert str(Problem(Path("a/b.png"), "broken")) == "a/b.png: broken"
