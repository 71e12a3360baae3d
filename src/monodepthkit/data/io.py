"""Reading and writing the project's generic folder format.

One format serves the synthetic world and users' own data::

    ROOT/
      meta.json                  optional: {"depth_scale": 256.0, "fov_deg": 60, ...}
      intrinsics.txt             optional: 3x3 K shared by every sequence without its own
      splits/{train,val,test}.txt  optional: one "SEQUENCE FRAME_STEM" per line
      SEQUENCE/                  one folder per sequence (ROOT itself may be the only one)
        image/000000.png         RGB (png or jpg), any size
        depth/000000.png         optional depth, one of:
                                   .png  16-bit, metres * depth_scale, 0 = no depth
                                   .npy  float metres [H, W] (or [H, W, 1]); 0, NaN, inf
                                         and negative values = no depth
                                   .exr  float metres, single channel (only where the
                                         installed OpenCV reads OpenEXR)
        image_right/, depth_right/   optional stereo partner, same stems
        intrinsics.txt           3x3 K in pixels of the images in image/ (row-major, 3 lines)
        poses.txt                optional: per frame one line of 12 numbers, the 3x4
                                 camera-to-world matrix [R | t] row-major (KITTI odometry),
                                 or 16 numbers (the full 4x4)
        stereo.txt               optional: 4x4 T_right_left (maps left-camera points to
                                 the right camera), row-major, 4 lines
        timestamps.txt           optional: per frame one time in seconds

Frames of a sequence are ordered by file stem, so name them in time order (000000, 000001,
...): context frames for self-supervision (``frame_offsets``) are the neighbours in that order.

Depth PNGs use the KITTI convention by default: ``depth_m = png / 256``, so the range is
0-255.996 m with a resolution of 3.9 mm. ``meta.json`` may set another ``depth_scale`` (1000 for
millimetres, 5000 for TUM RGB-D); it applies to PNG depth only.

Intrinsics come from the first of: ``SEQUENCE/intrinsics.txt``, ``ROOT/intrinsics.txt``, or a
field of view in ``meta.json``: ``"fov_deg"`` (degrees) across ``"fov_axis"`` (``"horizontal"``,
the default, ``"vertical"`` or ``"diagonal"``), which gives square pixels and the principal point
at the image centre, computed for each image's own size (`intrinsics_from_fov`).

Readers for the depth encodings of common RGB-D datasets are here too: `read_tum_depth_png`
(TUM RGB-D, /5000) and `read_sun_depth_png` (SUN RGB-D, bits rotated by 3). NYU's raw Kinect
disparity is in `monodepthkit.data.nyu`. `ResizeCache` keeps downscaled copies of the files so
that training does not spend its time decoding full-size PNGs.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from monodepthkit.errors import MdkError

DEPTH_SCALE = 256.0
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DEPTH_SUFFIXES = (".png", ".npy", ".exr")
META_FILE = "meta.json"
TUM_DEPTH_SCALE = 5000.0
FOV_AXES = ("horizontal", "vertical", "diagonal")


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB.

    PNG and JPEG are decoded with OpenCV (2-3x faster than Pillow on large PNGs), ignoring
    EXIF orientation as Pillow does; anything OpenCV cannot decode goes through Pillow, whose
    error message is reported.

    Args:
        path: png/jpg/ppm (any format OpenCV or Pillow reads).

    Returns:
        [H, W, 3] uint8.

    Raises:
        MdkError: the file is missing or is not an image.
    """
    path = Path(path)
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    bgr = cv2.imread(str(path), flags) if path.is_file() else None
    if bgr is not None and bgr.dtype == np.uint8:
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
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


def read_depth(path: str | Path, scale: float = DEPTH_SCALE) -> np.ndarray:
    """Read a depth map in any of the folder format's encodings, chosen by suffix.

    Args:
        path: ``.png`` (uint16, metres * ``scale``), ``.npy`` (float metres) or ``.exr``
            (float metres).
        scale: the PNG depth scale; ignored for ``.npy`` and ``.exr``.

    Returns:
        [H, W] float32 depth in metres, 0 where invalid (NaN, inf and negative values too).

    Raises:
        MdkError: a missing or unreadable file, or an unsupported suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        return read_depth_png(path, scale)
    if suffix == ".npy":
        return read_depth_npy(path)
    if suffix == ".exr":
        return read_depth_exr(path)
    raise MdkError(f"{path}: unsupported depth file; expected one of {', '.join(DEPTH_SUFFIXES)}")


def read_depth_npy(path: str | Path) -> np.ndarray:
    """Read a ``.npy`` depth map of float metres.

    Args:
        path: array of shape [H, W] or [H, W, 1] (any float or integer dtype, in metres).

    Returns:
        [H, W] float32 metres; NaN, inf and values <= 0 become 0 (no depth).

    Raises:
        MdkError: a missing file, not a ``.npy`` array, or the wrong shape.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: depth file not found")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise MdkError(
            f"{path}: expected a .npy depth array, found a file NumPy cannot read ({exc})"
        ) from None
    return _clean_depth(path, array)


def read_depth_exr(path: str | Path) -> np.ndarray:
    """Read a single-channel OpenEXR depth map of float metres.

    Needs an OpenCV built with OpenEXR (``cv2.haveImageReader("x.exr")``); some builds also
    need the environment variable ``OPENCV_IO_ENABLE_OPENEXR=1`` set before Python starts.

    Returns:
        [H, W] float32 metres; NaN, inf and values <= 0 become 0.

    Raises:
        MdkError: a missing file, an OpenCV without OpenEXR (saying how to convert), or an
            unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: depth file not found")
    if not exr_supported():
        raise MdkError(
            f"{path}: this OpenCV ({cv2.__version__}) cannot read OpenEXR; convert the depth "
            "to .npy (float32 metres) or 16-bit .png with a depth_scale in meta.json, or "
            "install an OpenCV built with OpenEXR and set OPENCV_IO_ENABLE_OPENEXR=1"
        )
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise MdkError(f"{path}: expected an OpenEXR depth map, found a file OpenCV cannot read")
    return _clean_depth(path, array)


def exr_supported() -> bool:
    """Whether the installed OpenCV can read ``.exr`` files."""
    try:
        return bool(cv2.haveImageReader("depth.exr"))
    except cv2.error:
        return False


def depth_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of a depth file, from the header where the format allows.

    Raises:
        MdkError: the file is missing or unreadable.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if not path.is_file():
            raise MdkError(f"{path}: depth file not found")
        try:
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
        except (ValueError, OSError, EOFError) as exc:
            raise MdkError(f"{path}: expected a .npy depth array ({exc})") from None
        if len(shape) < 2:
            raise MdkError(f"{path}: expected a depth array [H, W], found shape {shape}")
        return int(shape[0]), int(shape[1])
    if suffix == ".exr":
        height, width = read_depth_exr(path).shape
        return height, width
    return image_size(path)


def read_tum_depth_png(path: str | Path) -> np.ndarray:
    """Read a TUM RGB-D depth PNG (uint16, metres * 5000, 0 = no depth).

    Returns:
        [H, W] float32 metres.
    """
    return read_depth_png(path, TUM_DEPTH_SCALE)


def read_sun_depth_png(path: str | Path) -> np.ndarray:
    """Read a SUN RGB-D depth PNG.

    SUN RGB-D stores millimetres rotated left by 3 bits in 16 bits; the value is recovered as
    ``mm = (v >> 3) | (v << 13)`` (uint16 arithmetic), as in its toolbox and Open3D.

    Returns:
        [H, W] float32 metres, 0 = no depth.
    """
    raw = _read_uint16(path)
    millimetres = (raw >> 3) | (raw << 13)  # uint16: the bits that wrap are dropped
    return millimetres.astype(np.float32) / np.float32(1000.0)


def intrinsics_from_fov(
    fov_deg: float, size: tuple[int, int], axis: str = "horizontal"
) -> np.ndarray:
    """Pinhole intrinsics of a camera from its field of view.

    Square pixels, no skew, principal point at the image centre ((W - 1) / 2, (H - 1) / 2 with
    pixel centres at integer coordinates); f = (L / 2) / tan(fov / 2), where L is the width,
    the height or the diagonal of the image, as ``axis`` says.

    Args:
        fov_deg: field of view in degrees, in (0, 180).
        size: (height, width) of the image in pixels.
        axis: ``"horizontal"``, ``"vertical"`` or ``"diagonal"``.

    Returns:
        [3, 3] float64 K in pixels.

    Raises:
        MdkError: a field of view outside (0, 180) or an unknown axis.
    """
    if not 0.0 < float(fov_deg) < 180.0:
        raise MdkError(f"fov_deg: expected a field of view in (0, 180) degrees, found {fov_deg}")
    if axis not in FOV_AXES:
        raise MdkError(f"fov_axis: expected one of {', '.join(FOV_AXES)}, found {axis!r}")
    height, width = size
    extent = {"horizontal": width, "vertical": height, "diagonal": math.hypot(width, height)}
    focal = extent[axis] / 2.0 / math.tan(math.radians(float(fov_deg)) / 2.0)
    return np.array(
        [[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]]
    )


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


def read_poses(path: str | Path, count: int) -> np.ndarray:
    """Read camera-to-world poses, one per line as 12 (3x4) or 16 (4x4) numbers.

    Args:
        path: text file, row-major matrices.
        count: expected number of poses (one per frame).

    Returns:
        [count, 4, 4] float64 camera-to-world matrices.

    Raises:
        MdkError: a missing file, non-numeric text or a number of values that is neither
            ``count * 12`` nor ``count * 16``.
    """
    values = read_matrix(path, (-1,))
    if values.size == count * 12:
        poses = values.reshape(count, 3, 4)
        bottom = np.broadcast_to(np.array([[[0.0, 0.0, 0.0, 1.0]]]), (count, 1, 4))
        return np.concatenate([poses, bottom], axis=1)
    if values.size == count * 16:
        return values.reshape(count, 4, 4)
    raise MdkError(
        f"{path}: expected one pose per image ({count}), i.e. {count * 12} numbers (3x4 per "
        f"line) or {count * 16} (4x4 per line), found {values.size} values"
    )


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


class ResizeCache:
    """Downscaled copies of image and depth files, stored as ``.npy`` and made on first read.

    Decoding a KITTI-sized PNG (1242x375) costs far more than everything else a training
    sample needs (see ``benchmarks/bench_loading.py``); an uncompressed ``.npy`` at the training
    size loads in a fraction of a millisecond. Copies live in
    ``CACHE_DIR/HxW/<path relative to the dataset root>.npy`` (images uint8 [H, W, 3], depth
    float32 metres [H, W], resized as `monodepthkit.data.transforms` does: area/bilinear for
    images, nearest for depth), about 0.37 MB per 640x192 image. A copy older than its source
    file is made again; writes are atomic, so DataLoader workers can share one cache. Delete
    the folder to reclaim the space.

    Args:
        cache_dir: folder of the cache (created when needed).
        root: dataset root; cached paths mirror the source paths below it.
        size: (height, width) of the copies; None keeps the files' own size (still saves the
            decode).
    """

    def __init__(
        self, cache_dir: str | Path, root: str | Path, size: tuple[int, int] | None
    ) -> None:
        self.root = Path(root).resolve()
        self.size = tuple(size) if size is not None else None
        tag = f"{self.size[0]}x{self.size[1]}" if self.size is not None else "full"
        self.folder = Path(cache_dir) / tag

    def rgb(self, path: str | Path) -> tuple[np.ndarray, tuple[int, int]]:
        """An image at the cache size.

        Args:
            path: source image file (png/jpg).

        Returns:
            ([h, w, 3] uint8 image, (height, width) of the source file in pixels).
        """
        from monodepthkit.data.transforms import resize_image

        path = Path(path)
        cached = self._load(path)
        if cached is not None:
            return cached, image_size(path)
        image = read_rgb(path)
        source_size = image.shape[:2]
        image = resize_image(image, self.size) if self.size is not None else image
        self._store(path, image)
        return image, source_size

    def depth(
        self, path: str | Path, read: Callable[[Path], np.ndarray] = read_depth
    ) -> np.ndarray:
        """A depth map at the cache size.

        Args:
            path: source depth file.
            read: reader returning [H, W] float metres (e.g. ``read_depth`` with a scale).

        Returns:
            [h, w] float32 metres, 0 = no depth.
        """
        from monodepthkit.data.transforms import resize_depth

        path = Path(path)
        cached = self._load(path)
        if cached is not None:
            return cached
        depth = np.asarray(read(path), dtype=np.float32)
        depth = resize_depth(depth, self.size) if self.size is not None else depth
        self._store(path, depth)
        return depth

    def cache_path(self, path: str | Path) -> Path:
        """Where the copy of ``path`` lives."""
        path = Path(path).resolve()
        try:
            relative = path.relative_to(self.root)
        except ValueError:  # a file outside the root: keep its absolute path, made relative
            relative = Path(*path.parts[1:])
        return self.folder / relative.parent / f"{relative.name}.npy"

    def _load(self, path: Path) -> np.ndarray | None:
        target = self.cache_path(path)
        try:
            if target.stat().st_mtime_ns < path.stat().st_mtime_ns:
                return None
            return np.load(target, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None  # absent, stale or half-written by a crashed run: make it again

    def _store(self, path: Path, array: np.ndarray) -> None:
        target = self.cache_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        with open(temporary, "wb") as handle:
            np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
        os.replace(temporary, target)


def _clean_depth(path: Path, array: np.ndarray) -> np.ndarray:
    """[H, W] or [H, W, 1] float metres -> [H, W] float32, invalid values set to 0."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2 or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise MdkError(
            f"{path}: expected a depth map [H, W] of float metres, found {array.dtype} with "
            f"shape {array.shape}"
        )
    depth = array.astype(np.float32)
    depth[~np.isfinite(depth) | (depth < 0)] = 0.0
    return depth


def _read_uint16(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: depth file not found")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.dtype != np.uint16 or raw.ndim != 2:
        found = "a file OpenCV cannot read" if raw is None else f"{raw.dtype} {raw.shape}"
        raise MdkError(f"{path}: expected a single-channel 16-bit image, found {found}")
    return raw
