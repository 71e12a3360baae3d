from __future__ import annotations

from conftest import write_tree
from monodepthkit.data.folder_index import find_sequences, read_split_lines


def test_sequences_frames_and_shared_intrinsics(tmp_path):
    write_tree(tmp_path / "b", frames=2, seed=1)
    write_tree(tmp_path / "a", frames=3, depth=False)
    (tmp_path / "a" / "intrinsics.txt").rename(tmp_path / "intrinsics.txt")
    (tmp_path / "a" / "depth").mkdir()
    (tmp_path / "a" / "depth" / "000001.npy").write_bytes(b"")
    (tmp_path / "a" / "depth" / "000001.png").write_bytes(b"")
    (tmp_path / "notes").mkdir()
    sequences = find_sequences(tmp_path)
    assert list(sequences) == ["a", "b"]
    a, b = sequences["a"], sequences["b"]
    assert a.stems == ["000000", "000001", "000002"]
    assert a.intrinsics == tmp_path / "intrinsics.txt"
    assert b.intrinsics == tmp_path / "b" / "intrinsics.txt"
    assert a.has_depth and a.depth_files == {"000001": tmp_path / "a" / "depth" / "000001.png"}
    assert a.stereo_image("000000") is None and not a.right_images.exists()


def test_single_sequence_root_and_no_images(tmp_path):
    assert find_sequences(tmp_path) == {}
    write_tree(tmp_path, frames=1)
    assert list(find_sequences(tmp_path)) == [tmp_path.name]


def test_split_lines_keep_numbers_and_mark_malformed_ones(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("seq 000001\n\nseq\nseq 000002 extra\nother 000003\n")
    lines = read_split_lines(path)
    assert [(line.number, line.name, line.stem) for line in lines] == [
        (1, "seq", "000001"),
        (3, None, None),
        (4, None, None),
        (5, "other", "000003"),
    ]
    assert lines[2].text == "seq 000002 extra"
