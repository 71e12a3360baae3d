"""Depth for videos, frame by frame, streaming (never the whole video in memory).

Frames are read with OpenCV, predicted in small batches (`colorized_predictions`, which the
`mdk serve` page uses too) and written straight to two mp4 files:
``NAME_depth.mp4`` (the colour-mapped prediction) and ``NAME_side_by_side.mp4`` (the frame and its
prediction). Colours must not flicker from frame to frame, so the colour range is either fixed
(``value_range``) or a percentile range smoothed exponentially over time (`SmoothedRange`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from monodepthkit.errors import MdkError
from monodepthkit.inference.writers import DEFAULT_PERCENTILES, colorize, robust_range, side_by_side

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
BROWSER_CODECS: tuple[tuple[str, str], ...] = (
    ("VP80", ".webm"),
    ("avc1", ".mp4"),
    ("mp4v", ".mp4"),
)
"""(fourcc, suffix) of the codecs browsers play without conversion, in order of preference."""


class SmoothedRange:
    """A colour range that follows the per-frame percentiles with exponential smoothing.

    ``range_t = momentum * range_{t-1} + (1 - momentum) * percentiles(frame_t)``, starting at
    the first frame's percentiles.

    Args:
        momentum: in [0, 1); 0 uses each frame's own range, values near 1 change slowly.
        percentiles: (low, high) percentiles of the valid values.
    """

    def __init__(
        self, momentum: float = 0.9, percentiles: Sequence[float] = DEFAULT_PERCENTILES
    ) -> None:
        if not 0.0 <= momentum < 1.0:
            raise MdkError(f"colour range momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.percentiles = tuple(percentiles)
        self.current: tuple[float, float] | None = None

    def update(self, values: np.ndarray) -> tuple[float, float]:
        """Fold in one frame's [H, W] values; returns the range to colour it with."""
        low, high = robust_range(values, self.percentiles)
        if self.current is not None:
            m = self.momentum
            low = m * self.current[0] + (1.0 - m) * low
            high = m * self.current[1] + (1.0 - m) * high
        self.current = (low, high)
        return self.current


def is_video(path: str | Path) -> bool:
    """Whether a path has a video suffix (mp4, avi, mov, mkv)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def read_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield the frames of a video one at a time as [H, W, 3] uint8 RGB.

    Raises:
        MdkError: the file is missing or OpenCV cannot open it, or it holds no frame.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: video file not found")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise MdkError(f"{path}: OpenCV cannot open this video (mp4/avi/mov)")
        count = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if count == 0:
            raise MdkError(f"{path}: no frame could be decoded")
    finally:
        capture.release()


def video_info(path: str | Path) -> tuple[float, int]:
    """(frames per second, frame count as the container reports it; 0 if unknown)."""
    capture = cv2.VideoCapture(str(path))
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        capture.release()
    return (fps if fps > 0 else 25.0), max(count, 0)


class VideoWriter:
    """Write RGB frames to a video file as they come; the size is set by the first frame.

    Args:
        path: the video file; ``codecs`` may change its suffix (``path`` is then the file
            written).
        fps: frames per second.
        codecs: (fourcc, suffix) pairs tried in order at the first frame, the first one OpenCV
            can write is used (e.g. `BROWSER_CODECS`); None: ``mp4v`` into ``path`` as given.
    """

    def __init__(
        self, path: str | Path, fps: float, codecs: Sequence[tuple[str, str]] | None = None
    ) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.codecs = tuple(codecs) if codecs else (("mp4v", self.path.suffix),)
        self._writer = None
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        """Append one [H, W, 3] uint8 RGB frame.

        Raises:
            MdkError: OpenCV can write none of the codecs here.
        """
        if self._writer is None:
            self._open(frame.shape[1], frame.shape[0])
        self._writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
        self.frames += 1

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for fourcc, suffix in self.codecs:
            path = self.path.with_suffix(suffix)
            writer = cv2.VideoWriter(
                str(path), cv2.VideoWriter_fourcc(*fourcc), self.fps, (width, height)
            )
            if writer.isOpened():
                self._writer, self.path = writer, path
                return
            writer.release()
        names = ", ".join(fourcc for fourcc, _ in self.codecs)
        raise MdkError(f"{self.path}: this OpenCV build cannot write {names} video here")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def predict_video(
    predictor,
    path: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    cmap: str = "magma",
    value_range: tuple[float, float] | None = None,
    momentum: float = 0.9,
    batch_size: int | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> dict:
    """Predict every frame of a video and write the depth and side-by-side mp4 files.

    Args:
        predictor: a `Predictor`.
        path: input video (mp4/avi/mov).
        out_dir: output folder.
        name: output stem (default: the video's stem).
        cmap: colour map.
        value_range: fixed (low, high) colour range in the output's unit; None: a
            `SmoothedRange` with ``momentum``.
        momentum: smoothing of the automatic colour range.
        batch_size: frames per forward pass (default: the predictor's).
        on_frame: called with 1 after each frame written (progress bars).

    Returns:
        ``{"frames": N, "depth_video": Path, "side_by_side_video": Path, "fps": fps}``.
    """
    path = Path(path)
    out_dir = Path(out_dir)
    name = name or path.stem
    fps, _ = video_info(path)
    depth_path = out_dir / f"{name}_depth.mp4"
    pair_path = out_dir / f"{name}_side_by_side.mp4"
    coloured = colorized_predictions(
        read_frames(path),
        predictor,
        near_is_high=predictor.output_kind == "disparity",
        cmap=cmap,
        value_range=value_range,
        momentum=momentum,
        batch_size=batch_size or predictor.batch_size,
    )
    with VideoWriter(depth_path, fps) as depth_video, VideoWriter(pair_path, fps) as pair_video:
        for frame, _, colours in coloured:
            depth_video.write(colours)
            pair_video.write(side_by_side(frame, colours))
            if on_frame is not None:
                on_frame(1)
    return {
        "frames": depth_video.frames,
        "depth_video": depth_path,
        "side_by_side_video": pair_path,
        "fps": fps,
    }


def colorized_predictions(
    frames: Iterable[np.ndarray],
    predict: Callable[[list[np.ndarray]], Sequence[np.ndarray]],
    near_is_high: bool,
    cmap: str = "magma",
    value_range: tuple[float, float] | None = None,
    momentum: float = 0.9,
    batch_size: int = 1,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Predict a stream of frames in batches and colour them without flicker.

    Args:
        frames: [H, W, 3] uint8 RGB frames (e.g. `read_frames`), read lazily.
        predict: a list of frames -> one [H, W] map per frame (depth in metres or disparity;
            a `Predictor` is one).
        near_is_high: True for disparity (see `colorize`).
        cmap: colour map.
        value_range: fixed (low, high) colour range; None: a `SmoothedRange` with ``momentum``.
        momentum: smoothing of the automatic colour range.
        batch_size: frames per ``predict`` call.

    Yields:
        (frame, [H, W] float32 prediction, [H, W, 3] uint8 colour map) of each frame, in order.
    """
    ranges = None if value_range is not None else SmoothedRange(momentum)
    for batch in _batches(frames, batch_size):
        for frame, values in zip(batch, predict(batch), strict=True):
            frame_range = value_range if ranges is None else ranges.update(values)
            yield frame, values, colorize(values, cmap, frame_range, near_is_high=near_is_high)


def _batches(frames: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
