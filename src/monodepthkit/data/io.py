"""Reading and writing the project's generic folder format.

One format serves the synthetic world and users' own data::

    ROOT/
      meta.json                  optional: {"depth_scale": 256.0, "preset": ..., ...}
      splits/{train,val,test}.txt  optional: one "SEQUENCE FRAME_STEM" per line
      SEQUENCE/                  one folder per sequence (ROOT itself may be the only one)
        image/000000.png         RGB (png or jpg), any size
        depth/000000.png         optional: 16-bit PNG, metres * depth_scale, 0 = no depth
        image_right/, depth_right/   optional stereo partner, same stems
        intrinsics.txt           3x3 K in pixels of the images in image/ (row-major, 3 lines)
        poses.txt                optional: per frame one line of 12 numbers, the 3x4
                                 camera-to-world matrix [R | t] row-major (KITTI odometry)
        stereo.txt               optional: 4x4 T_right_left (maps left-camera points to
                                 the right camera), row-major, 4 lines
        timestamps.txt           optional: per frame one time in seconds

Depth PNGs use the KITTI convention by default: ``depth_m = png / 256``, so the range is
0-255.996 m with a resolution of 3.9 mm. ``meta.json`` may set another ``depth_scale``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from monodepthkit.errors import MdkError

DEPTH_SCALE = 256.0
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
META_FILE = "meta.json"


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB.

    Args:
        path: png/jpg (any format Pillow reads).

    Returns:
        [H, W, 3] uint8.

    Raises:
        MdkError: the file is missing or is not an image.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise MdkError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise MdkError(
            f"{path}: expected an RGB image (png/jpg), found a file Pillow cannot read ({exc})"
        ) from None


def read_depth_png(path: str | Path, scale: float = DEPTH_SCALE) -> np.ndarray:
    """Read a 16-bit depth PNG.

    Args:
        path: uint16 PNG storing ``metres * scale``; 0 = no depth.
        scale: the depth scale (256 for the KITTI convention, 1000 for millimetres).

    Returns:
        [H, W] float32 depth in metres, 0 where invalid.

    Raises:
        MdkError: the file is missing, unreadable or not single-channel 16-bit.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: depth file not found")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise MdkError(f"{path}: expected a 16-bit depth PNG, found a file OpenCV cannot read")
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise MdkError(
            f"{path}: expected a single-channel 16-bit PNG (metres x {scale:g}), "
            f"found {raw.dtype} with shape {raw.shape}"
        )
    return raw.astype(np.float32) / np.float32(scale)


def write_depth_png(path: str | Path, depth: np.ndarray, scale: float = DEPTH_SCALE) -> None:
    """Write depth in metres as a 16-bit PNG (``round(depth * scale)``, 0 = invalid).

    Args:
        path: output file.
        depth: [H, W] depth in metres; non-finite or non-positive values are written as 0.
        scale: the depth scale.
    """
    depth = np.nan_to_num(np.asarray(depth, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    raw = np.clip(np.rint(depth * scale), 0, np.iinfo(np.uint16).max).astype(np.uint16)
    _imwrite(path, raw)


def write_rgb(path: str | Path, image: np.ndarray) -> None:
    """Write a [H, W, 3] uint8 RGB image (PNG or JPEG by suffix)."""
    _imwrite(path, cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image file, read from its header only.

    Raises:
        MdkError: the file is missing or is not an image.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError:
        raise MdkError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError):
        raise MdkError(
            f"{path}: expected an image (png/jpg), found a file that is not one"
        ) from None
    return height, width


def read_matrix(path: str | Path, shape: tuple[int, ...]) -> np.ndarray:
    """Read whitespace-separated numbers and reshape them.

    Args:
        path: text file.
        shape: expected shape, e.g. (3, 3) or (-1, 3, 4).

    Returns:
        float64 array of ``shape``.

    Raises:
        MdkError: missing file, non-numeric text or a wrong number of values.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: file not found")
    try:
        values = np.array(path.read_text().split(), dtype=np.float64)
    except ValueError:
        raise MdkError(f"{path}: expected whitespace-separated numbers") from None
    try:
        return values.reshape(shape)
    except ValueError:
        raise MdkError(
            f"{path}: expected numbers of shape {shape}, found {values.size} values"
        ) from None


def write_matrix(path: str | Path, rows: np.ndarray) -> None:
    """Write a 2-D array as text, one row per line (full float64 precision)."""
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    Path(path).write_text("".join(" ".join(f"{x:.17g}" for x in row) + "\n" for row in rows))


def read_meta(root: str | Path) -> dict:
    """Read ``ROOT/meta.json`` ({} when absent)."""
    path = Path(root) / META_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise MdkError(f"{path}: not valid JSON ({exc})") from None


def _imwrite(path: str | Path, array: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if path.suffix.lower() == ".png" else []
    if not cv2.imwrite(str(path), array, params):
        raise MdkError(f"{path}: could not write the file (check the folder and the suffix)")
