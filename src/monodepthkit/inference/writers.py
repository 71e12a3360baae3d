"""Writing predictions: ``.npy``, 16-bit PNG, colour maps, side-by-side views and point clouds.

| format | file | content |
|---|---|---|
| ``npy`` | ``NAME.npy`` | [H, W] float32, metres (or disparity for relative models) |
| ``png16`` | ``NAME.png`` | uint16, ``round(value * 256)`` (KITTI convention), 0 = invalid |
| ``color`` | ``NAME_color.png`` | colour map over a robust percentile range |
| ``side_by_side`` | ``NAME_side_by_side.png`` | the image and its colour map side by side |
| ``ply`` | ``NAME.ply`` | binary PLY point cloud, x y z (metres, camera frame) + r g b |
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monodepthkit.errors import MdkError

FORMATS = ("npy", "png16", "color", "side_by_side", "ply")
COLORMAPS = ("magma", "plasma", "turbo", "viridis", "inferno", "gray")
PNG16_SCALE = 256.0
DEFAULT_PERCENTILES = (2.0, 98.0)


def write_npy(path: str | Path, values: np.ndarray) -> Path:
    """Write [H, W] values (metres or disparity) as float32 ``.npy``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(values, dtype=np.float32), allow_pickle=False)
    return path


def write_png16(path: str | Path, values: np.ndarray) -> Path:
    """Write [H, W] values as a 16-bit PNG, ``round(value * 256)`` (KITTI convention).

    Metres in [0, 255.996] keep a resolution of 1/256 m; larger values saturate at 65535 and
    non-finite or non-positive values become 0 (invalid). Read back with
    `monodepthkit.data.io.read_depth_png`.
    """
    from monodepthkit.data.io import write_depth_png

    write_depth_png(path, values, scale=PNG16_SCALE)
    return Path(path)


def read_png16(path: str | Path) -> np.ndarray:
    """Read a `write_png16` file back to [H, W] float32 values."""
    from monodepthkit.data.io import read_depth_png

    return read_depth_png(path, scale=PNG16_SCALE)


def robust_range(
    values: np.ndarray, percentiles: Sequence[float] = DEFAULT_PERCENTILES
) -> tuple[float, float]:
    """(low, high) percentiles of the finite, positive values (robust to outliers and sky).

    Returns (0, 1) when there are no such values, and widens an empty range by one unit of the
    last place so that colouring never divides by zero.
    """
    values = np.asarray(values, dtype=np.float64)
    valid = values[np.isfinite(values) & (values > 0)]
    if valid.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(valid, percentiles)
    if high <= low:
        high = low + max(abs(low) * 1e-6, 1e-6)
    return float(low), float(high)


def colorize(
    values: np.ndarray,
    cmap: str = "magma",
    value_range: tuple[float, float] | None = None,
    near_is_high: bool = False,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
) -> np.ndarray:
    """Colour-map a depth or disparity map.

    Args:
        values: [H, W] depth (metres) or disparity.
        cmap: a matplotlib colour map name (magma, plasma, turbo, viridis, inferno, gray).
        value_range: (low, high) mapped to the ends of the map; None: `robust_range`.
        near_is_high: False for depth (the map is reversed so that near is bright, as for
            disparity), True for disparity.
        percentiles: percentiles of the robust range.

    Returns:
        [H, W, 3] uint8 RGB; invalid (non-finite, <= 0) pixels are black.
    """
    import matplotlib

    try:
        colour_map = matplotlib.colormaps[cmap]
    except KeyError:
        raise MdkError(f"unknown colour map '{cmap}'; try one of {', '.join(COLORMAPS)}") from None
    values = np.asarray(values, dtype=np.float64)
    low, high = value_range if value_range is not None else robust_range(values, percentiles)
    if not high > low:
        raise MdkError(f"colour range: expected low < high, got ({low}, {high})")
    normalised = np.clip((values - low) / (high - low), 0.0, 1.0)
    if not near_is_high:
        normalised = 1.0 - normalised
    lookup = (colour_map(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)
    colours = lookup[np.rint(np.nan_to_num(normalised) * 255).astype(np.int64)]
    colours[~(np.isfinite(values) & (values > 0))] = 0
    return colours


def side_by_side(image: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """The image and its colour map next to each other: [H, 2W, 3] uint8 (the image is resized
    to the colour map's size when they differ)."""
    import cv2

    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if image.shape[:2] != colours.shape[:2]:
        image = cv2.resize(image, colours.shape[1::-1], interpolation=cv2.INTER_AREA)
    return np.concatenate([image[:, :, :3], colours], axis=1)


def write_color(path: str | Path, colours: np.ndarray) -> Path:
    """Write a [H, W, 3] uint8 RGB image (PNG)."""
    from monodepthkit.data.io import write_rgb

    write_rgb(path, colours)
    return Path(path)


def depth_to_points(
    depth: np.ndarray, K: np.ndarray, image: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Back-project valid depth pixels to camera-frame points.

    Args:
        depth: [H, W] z-depth in metres; non-finite and non-positive pixels are skipped.
        K: [3, 3] intrinsics in pixels of this resolution.
        image: optional [H, W, 3] uint8 colours.

    Returns:
        ([N, 3] float32 points x, y, z in metres, OpenCV axes; [N, 3] uint8 colours or None),
        pixels in row-major order.
    """
    import torch

    from monodepthkit.geometry.camera import backproject_depth

    depth = np.asarray(depth, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    if depth.ndim != 2 or K.shape != (3, 3):
        raise MdkError(
            f"point cloud: expected depth [H, W] and K [3, 3], got {depth.shape}, {K.shape}"
        )
    points = backproject_depth(torch.from_numpy(depth)[None, None], torch.from_numpy(K)[None])
    points = points[0].T.numpy()
    valid = (np.isfinite(depth) & (depth > 0)).reshape(-1)
    colours = None
    if image is not None:
        image = np.asarray(image)
        if image.shape[:2] != depth.shape:
            raise MdkError(
                f"point cloud: image {image.shape[:2]} and depth {depth.shape} sizes differ"
            )
        colours = image[:, :, :3].reshape(-1, 3)[valid].astype(np.uint8)
    return points[valid].astype(np.float32), colours


def disparity_to_depth(disparity: np.ndarray) -> np.ndarray:
    """``1 / disparity`` where the disparity is positive, 0 (invalid) elsewhere: the (relative)
    depth of a relative model, for point clouds. [H, W] in, [H, W] float32 out."""
    disparity = np.asarray(disparity)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(disparity > 0, 1.0 / disparity, 0.0).astype(np.float32)


def write_ply(
    path: str | Path, depth: np.ndarray, K: np.ndarray, image: np.ndarray | None = None
) -> Path:
    """Write a depth map as a binary little-endian PLY point cloud.

    Args:
        path: ``.ply`` file.
        depth: [H, W] z-depth in metres (invalid pixels skipped).
        K: [3, 3] intrinsics in pixels of this resolution.
        image: optional [H, W, 3] uint8 colours (vertex properties red, green, blue).

    Returns:
        The path. Vertices are float32 x, y, z in metres in the camera frame (x right, y down,
        z forward).
    """
    points, colours = depth_to_points(depth, K, image)
    return write_points_ply(path, points, colours)


def write_points_ply(
    path: str | Path, points: np.ndarray, colours: np.ndarray | None = None
) -> Path:
    """Write points as a binary little-endian PLY point cloud (`read_ply` reads it back).

    Args:
        path: ``.ply`` file.
        points: [N, 3] x, y, z (written as float32).
        colours: optional [N, 3] uint8 colours (vertex properties red, green, blue).

    Returns:
        The path.
    """
    points = np.asarray(points, dtype=np.float32)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colours is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vertices = np.empty(len(points), dtype=fields)
    vertices["x"], vertices["y"], vertices["z"] = points.T
    if colours is not None:
        vertices["red"], vertices["green"], vertices["blue"] = np.asarray(colours, np.uint8).T
    types = {"<f4": "float", "u1": "uchar"}
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(points)}"]
    header += [f"property {types[kind]} {name}" for name, kind in fields]
    header += ["end_header"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(("\n".join(header) + "\n").encode("ascii"))
        handle.write(vertices.tobytes())
    return path


def read_ply(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a binary little-endian PLY written by `write_ply`.

    Returns:
        ([N, 3] float32 points in metres, [N, 3] uint8 colours or None).
    """
    path = Path(path)
    data = path.read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        raise MdkError(f"{path}: not a PLY file")
    header = data[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in header:
        raise MdkError(f"{path}: only binary little-endian PLY files are read")
    count = next(int(line.split()[2]) for line in header if line.startswith("element vertex"))
    kinds = {"float": "<f4", "uchar": "u1", "double": "<f8"}
    fields = [
        (line.split()[2], kinds[line.split()[1]]) for line in header if line.startswith("property")
    ]
    vertices = np.frombuffer(data, dtype=fields, count=count, offset=end + len(b"end_header\n"))
    points = np.stack([vertices["x"], vertices["y"], vertices["z"]], axis=1).astype(np.float32)
    names = {name for name, _ in fields}
    colours = None
    if {"red", "green", "blue"} <= names:
        colours = np.stack([vertices["red"], vertices["green"], vertices["blue"]], axis=1)
    return points, colours


def check_formats(formats: Sequence[str]) -> list[str]:
    """Validate output format names (see `FORMATS`)."""
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise MdkError(
            f"unknown output format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}"
        )
    return list(dict.fromkeys(formats))


def write_prediction(
    out_dir: str | Path,
    name: str,
    values: np.ndarray,
    image: np.ndarray,
    formats: Sequence[str],
    kind: str = "depth",
    cmap: str = "magma",
    value_range: tuple[float, float] | None = None,
    K: np.ndarray | None = None,
) -> list[Path]:
    """Write one prediction in every requested format.

    Args:
        out_dir: output folder.
        name: file stem (may contain sub-folders).
        values: [H, W] depth in metres (``kind="depth"``) or disparity.
        image: [H, W, 3] uint8 input image.
        formats: subset of `FORMATS`.
        kind: ``"depth"`` or ``"disparity"``.
        cmap: colour map of ``color`` and ``side_by_side``.
        value_range: fixed colour range; None: robust percentiles of this image.
        K: [3, 3] intrinsics at this size, needed by ``ply``. A disparity is inverted to a
            (relative) depth for the point cloud.

    Returns:
        The written files.
    """
    out_dir = Path(out_dir)
    written = []
    colours = None
    for fmt in check_formats(formats):
        if fmt == "npy":
            written.append(write_npy(out_dir / f"{name}.npy", values))
        elif fmt == "png16":
            written.append(write_png16(out_dir / f"{name}.png", values))
        elif fmt in ("color", "side_by_side"):
            if colours is None:
                colours = colorize(values, cmap, value_range, near_is_high=kind == "disparity")
            if fmt == "color":
                written.append(write_color(out_dir / f"{name}_color.png", colours))
            else:
                written.append(
                    write_color(out_dir / f"{name}_side_by_side.png", side_by_side(image, colours))
                )
        elif fmt == "ply":
            if K is None:
                raise MdkError(
                    f"{name}: the ply format needs intrinsics; give --fx/--fy/--cx/--cy or --fov "
                    "(the checkpoint has none)"
                )
            depth = disparity_to_depth(values) if kind == "disparity" else values
            written.append(write_ply(out_dir / f"{name}.ply", depth, K, image))
    return written
