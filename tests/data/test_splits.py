"""KITTI split files: the real Monodepth2 / SfMLearner / BTS files parse with the right counts."""

from __future__ import annotations

import io
import urllib.error
from pathlib import Path

import pytest

from conftest import REALDATA
from monodepthkit.cli import main
from monodepthkit.data import splits
from monodepthkit.data.splits import (
    DOWNLOADS,
    SPLIT_FILES,
    SplitEntry,
    download_splits,
    read_split_file,
    read_static_frames,
    remove_static_frames,
    split_file_path,
)
from monodepthkit.errors import MdkError

KITTI_SPLITS = REALDATA / "kitti_splits"
BTS_EIGEN = REALDATA / "splits_bts" / "eigen_test_files_with_gt.txt"


def _real(name: str) -> Path:
    path = KITTI_SPLITS / name
    if not path.is_file():
        pytest.skip(f"real split file {path} not found (see ../shared/realdata/SOURCES.md)")
    return path


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("monodepth2_eigen__test_files.txt", 697),
        ("monodepth2_eigen_benchmark__test_files.txt", 652),
        ("monodepth2_eigen_zhou__train_files.txt", 39810),
        ("monodepth2_eigen_zhou__val_files.txt", 4424),
        ("monodepth2_eigen_full__val_files.txt", 1776),
        ("monodepth2_benchmark__test_files.txt", 500),
        ("monodepth2_odom__test_files_09.txt", 1590),
        ("sfmlearner_test_files_eigen.txt", 697),
    ],
)
def test_every_split_file_parses(name, count):
    entries = read_split_file(_real(name))
    assert len(entries) == count
    assert {entry.side for entry in entries} <= {"l", "r"}


def test_eigen_test_split_entries():
    entries = read_split_file(_real("monodepth2_eigen__test_files.txt"))
    first = entries[0]
    assert first == SplitEntry("2011_09_26/2011_09_26_drive_0002_sync", 69, "l")
    assert (first.date, first.drive, first.camera) == (
        "2011_09_26",
        "2011_09_26_drive_0002_sync",
        2,
    )
    assert all(entry.side == "l" for entry in entries)
    assert len({(e.folder, e.frame) for e in entries}) == 697
    # SfMLearner's image-path list names the same 697 frames in the same order.
    paths = read_split_file(_real("sfmlearner_test_files_eigen.txt"))
    assert [(e.folder, e.frame, e.side) for e in paths] == [
        (e.folder, e.frame, e.side) for e in entries
    ]


def test_eigen_benchmark_is_bts_eigen_with_annotated_depth():
    if not BTS_EIGEN.is_file():
        pytest.skip(f"real split file {BTS_EIGEN} not found")
    bts = read_split_file(BTS_EIGEN)
    assert len(bts) == 697
    with_gt = [e for e in bts if e.depth_path is not None]
    assert len(with_gt) == 652 and len(bts) - len(with_gt) == 45
    assert with_gt[0].depth_path == (
        "2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/0000000069.png"
    )
    assert bts[0].focal == pytest.approx(721.5377)
    benchmark = read_split_file(_real("monodepth2_eigen_benchmark__test_files.txt"))
    assert [(e.folder, e.frame) for e in with_gt] == [(e.folder, e.frame) for e in benchmark]


def test_eigen_zhou_sides_and_odometry():
    train = read_split_file(_real("monodepth2_eigen_zhou__train_files.txt"))
    assert {e.side for e in train} == {"l", "r"}
    assert train[0] == SplitEntry("2011_09_26/2011_09_26_drive_0022_sync", 473, "r")
    assert train[0].camera == 3
    odometry = read_split_file(_real("monodepth2_odom__test_files_09.txt"))
    assert odometry[0] == SplitEntry("9", 0, "l") and odometry[-1].frame == 1589
    benchmark = read_split_file(_real("monodepth2_benchmark__test_files.txt"))
    assert benchmark[1] == SplitEntry("image", 1, "l")  # no side column: left


def test_static_frame_filter():
    static = read_static_frames(_real("sfmlearner_static_frames.txt"))
    assert len(static) == 8044
    assert ("2011_09_26_drive_0009_sync", 386) in static
    # Eigen-Zhou was made with the filter; Eigen full was not (50 frames x 2 sides are static).
    zhou = read_split_file(_real("monodepth2_eigen_zhou__train_files.txt"))
    assert remove_static_frames(zhou, static) == zhou
    full = read_split_file(_real("monodepth2_eigen_full__val_files.txt"))
    kept = remove_static_frames(full, static)
    assert len(kept) == 1776 - 100
    assert all((e.drive, e.frame) not in static for e in kept)


def test_malformed_lines_name_the_file_and_line(tmp_path):
    path = tmp_path / "split.txt"
    path.write_text("2011_09_26/2011_09_26_drive_0002_sync 69 l\n\nfolder frame_x l\n")
    with pytest.raises(MdkError, match=r"split\.txt:3: expected 'FOLDER FRAME \[SIDE\]'"):
        read_split_file(path)
    path.write_text("2011_09_26/2011_09_26_drive_0002_sync 69 x\n")
    with pytest.raises(MdkError, match=r"split\.txt:1"):
        read_split_file(path)
    static = tmp_path / "static.txt"
    static.write_text("2011_09_26 drive\n")
    with pytest.raises(MdkError, match=r"static\.txt:1: expected 'DATE DRIVE FRAME'"):
        read_static_frames(static)
    with pytest.raises(MdkError, match="not found"):
        read_split_file(tmp_path / "missing.txt")


def test_split_names_resolve_in_the_splits_folder(tmp_path):
    path = tmp_path / "eigen" / "test_files.txt"
    path.parent.mkdir()
    path.write_text("a/b 1 l\n")
    assert split_file_path("eigen", tmp_path) == path
    assert split_file_path(str(path), tmp_path / "elsewhere") == path
    with pytest.raises(MdkError, match=r"mdk data splits --download"):
        split_file_path("eigen_zhou/train", tmp_path)
    with pytest.raises(MdkError, match="unknown split 'bogus'"):
        split_file_path("bogus", tmp_path)


def test_download_offline_is_a_clear_error(tmp_path, monkeypatch, capsys):
    def offline(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(splits.urllib.request, "urlopen", offline)
    with pytest.raises(MdkError, match=r"could not download https://raw\.githubusercontent\.com/"):
        download_splits(tmp_path / "splits")
    assert main(["data", "splits", "--download", str(tmp_path / "splits")]) == 2
    assert "needs internet access" in capsys.readouterr().err


def test_download_writes_the_layout(tmp_path, monkeypatch, capsys):
    requested = []

    def fake(url, timeout):
        requested.append(url)
        return io.BytesIO(f"2011_09_26/2011_09_26_drive_0002_sync {len(requested)} l\n".encode())

    monkeypatch.setattr(splits.urllib.request, "urlopen", fake)
    dest = tmp_path / "splits"
    assert main(["data", "splits", "--download", str(dest)]) == 0
    assert (
        len(requested) == len(DOWNLOADS)
        and f"{len(DOWNLOADS)} split files" in capsys.readouterr().out
    )
    assert all("/nianticlabs/monodepth2/" in DOWNLOADS[f] for f in SPLIT_FILES.values())
    for name in SPLIT_FILES:
        assert len(read_split_file(split_file_path(name, dest))) == 1
    assert (dest / "sfmlearner" / "static_frames.txt").is_file()
    with pytest.raises(MdkError, match="unknown split files"):
        download_splits(dest, files=["nope.txt"])
