"""`mdk predict` and `mdk export` end to end on tiny files."""

from __future__ import annotations

import numpy as np

from monodepthkit import Predictor
from monodepthkit.cli import main
from monodepthkit.data.io import write_rgb
from monodepthkit.inference.video import VideoWriter
from monodepthkit.inference.writers import read_ply, read_png16


def test_predict_processes_good_inputs_and_lists_bad_ones(tiny_checkpoint, tmp_path, capsys):
    rng = np.random.default_rng(0)
    images = {}
    for name, size in (("a", (30, 50)), ("nested/b", (21, 33))):
        images[name] = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        write_rgb(tmp_path / "in" / f"{name}.png", images[name])
    (tmp_path / "in" / "broken.png").write_text("not an image")
    with VideoWriter(tmp_path / "clip.avi", fps=5) as writer:
        for _ in range(3):
            writer.write(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))
    out = tmp_path / "out"
    status = main(
        [
            "predict", str(tmp_path / "in"), str(tmp_path / "missing.jpg"), str(tmp_path / "*.avi"),
            "--checkpoint", str(tiny_checkpoint), "--out", str(out),
            "--format", "npy", "png16", "color", "ply", "--fov", "60", "--no-progress",
        ]
    )  # fmt: skip
    assert status == 2
    err = capsys.readouterr().err
    assert "could not read 2 input(s)" in err
    assert "broken.png: expected an RGB image" in err and "missing.jpg: file not found" in err
    predictor = Predictor.from_checkpoint(tiny_checkpoint)
    for name, image in images.items():
        expected = predictor(image)
        np.testing.assert_allclose(np.load(out / f"{name}.npy"), expected, rtol=1e-6)
        assert np.abs(read_png16(out / f"{name}.png") - expected).max() <= 0.5 / 256 + 1e-6
        assert (out / f"{name}_color.png").is_file()
        points, _ = read_ply(out / f"{name}.ply")
        np.testing.assert_allclose(np.sort(points[:, 2]), np.sort(expected.ravel()), rtol=1e-6)
    assert (out / "clip_depth.mp4").is_file() and (out / "clip_side_by_side.mp4").is_file()


def test_predict_ply_without_camera_is_an_error(tmp_path, capsys):
    from infer_helpers import tiny_task, write_checkpoint

    checkpoint = tmp_path / "no_camera.ckpt"
    write_checkpoint(tiny_task(), checkpoint)
    import torch

    contents = torch.load(checkpoint, weights_only=False)
    contents["datamodule_hyper_parameters"]["dataset"] = "folder"
    torch.save(contents, checkpoint)
    write_rgb(tmp_path / "x.png", np.zeros((8, 8, 3), np.uint8))
    status = main(
        ["predict", str(tmp_path / "x.png"), "--checkpoint", str(checkpoint), "--out",
         str(tmp_path / "o"), "--format", "ply", "--no-progress"]
    )  # fmt: skip
    assert status == 2
    assert "the checkpoint has no intrinsics; give --fx --fy" in capsys.readouterr().err


def test_export_command_prints_the_check(tiny_checkpoint, tmp_path, capsys):
    status = main(
        ["export", "--checkpoint", str(tiny_checkpoint), "--format", "torchscript",
         "--out", str(tmp_path / "m.pt")]
    )  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert (
        "dynamic image size: yes" in printed and "| random, second size | 3x3x64x128 |" in printed
    )
    status = main(
        ["export", "--checkpoint", str(tiny_checkpoint), "--format", "pretrained",
         "--out", str(tmp_path / "folder")]
    )  # fmt: skip
    assert status == 0 and (tmp_path / "folder" / "README.md").is_file()
