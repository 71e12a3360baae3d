"""Video: streaming prediction writes one depth frame per input frame; smoothed colour range."""

from __future__ import annotations

import inspect

import cv2
import numpy as np
import pytest

from monodepthkit import Predictor
from monodepthkit.data.synthetic import render_sequence
from monodepthkit.inference.video import SmoothedRange, VideoWriter, predict_video, read_frames
from monodepthkit.inference.writers import robust_range


def _count_frames(path) -> tuple[int, tuple[int, int]]:
    capture = cv2.VideoCapture(str(path))
    count, shape = 0, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count, shape = count + 1, frame.shape[:2]
    capture.release()
    return count, shape


def test_thirty_frames_in_thirty_depth_frames_out(tiny_checkpoint, tmp_path):
    frames = render_sequence("driving", 0, 0, 30, width=64, height=32)["images"]
    with VideoWriter(tmp_path / "clip.mp4", fps=10) as writer:
        for frame in frames:
            writer.write(frame)
    predictor = Predictor.from_checkpoint(tiny_checkpoint, batch_size=4)
    done = []
    result = predict_video(predictor, tmp_path / "clip.mp4", tmp_path / "out", on_frame=done.append)
    assert result["frames"] == 30 and sum(done) == 30 and result["fps"] == pytest.approx(10)
    assert _count_frames(result["depth_video"]) == (30, (32, 64))
    assert _count_frames(result["side_by_side_video"]) == (30, (32, 128))


def test_frames_are_read_lazily(tmp_path):
    assert inspect.isgeneratorfunction(read_frames)
    with VideoWriter(tmp_path / "v.mp4", fps=5) as writer:
        for value in (0, 120, 240):
            writer.write(np.full((16, 16, 3), value, np.uint8))
    means = [frame.mean() for frame in read_frames(tmp_path / "v.mp4")]
    np.testing.assert_allclose(means, [0, 120, 240], atol=3)


def test_smoothed_range_is_an_exponential_average_of_percentiles():
    rng = np.random.default_rng(0)
    frames = [rng.uniform(1.0 + i, 20.0 + 3 * i, (8, 8)) for i in range(4)]
    smoothed = SmoothedRange(momentum=0.75, percentiles=(5, 95))
    expected = np.array(robust_range(frames[0], (5, 95)))
    assert smoothed.update(frames[0]) == pytest.approx(tuple(expected))
    for frame in frames[1:]:
        expected = 0.75 * expected + 0.25 * np.array(robust_range(frame, (5, 95)))
        assert smoothed.update(frame) == pytest.approx(tuple(expected))
