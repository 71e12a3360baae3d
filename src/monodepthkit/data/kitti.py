"""KITTI raw and KITTI depth (annotated): calibration, Velodyne ground truth and the dataset.

On-disk layout (KITTI raw as unzipped; annotated depth optionally merged into the drives)::

    ROOT/
      2011_09_26/                                    one folder per recording date
        calib_cam_to_cam.txt                         P_rect_0X, R_rect_00, S_rect_0X
        calib_velo_to_cam.txt                        R, T: Velodyne -> camera 0 (unrectified)
        2011_09_26_drive_0002_sync/
          image_02/data/0000000000.png               left colour camera (.png or .jpg)
          image_03/data/0000000000.png               right colour camera
          velodyne_points/data/0000000000.bin        float32 N x 4: x forward, y left, z up (m),
                                                     reflectance
          proj_depth/groundtruth/image_02/0000000005.png   annotated depth (optional): uint16,
                                                     metres x 256, 0 = none
      splits/                                        split files (`mdk data splits --download`)

Annotated depth may also stay in KITTI depth's own layout (``DEPTH_ROOT/{train,val}/DRIVE/
proj_depth/groundtruth/image_0X/``): pass ``depth_root``.

Velodyne ground truth (`velodyne_to_depth`) comes in three variants:

- ``monodepth2`` (default): Monodepth2's ``export_gt_depth.py`` (``generate_depth_map(...,
  cam=2, vel_depth=True)``), reproduced pixel for pixel, quirks included; published KITTI
  Eigen numbers were computed on it. See `project_monodepth2` for the quirks.
- ``monodepth2_projected``: the same code with ``vel_depth=False``, which Monodepth2's training
  data loader (``KITTIRAWDataset.get_depth``) uses: the stored depth is the camera z-depth.
- ``camera_z``: a clean projection: camera z-depth, pixel centres at integer coordinates, the
  nearest point wins each pixel (`project_camera_z`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from monodepthkit.data.io import DEPTH_SCALE, IMAGE_SUFFIXES, read_depth_png, read_rgb
from monodepthkit.data.registry import register_dataset
from monodepthkit.data.sample import ContextFrame, StereoPartner, build_sample
from monodepthkit.data.splits import SplitEntry, read_split_file, split_file_path
from monodepthkit.data.transforms import AugmentOptions
from monodepthkit.errors import MdkError

DEPTH_VARIANTS = ("monodepth2", "monodepth2_projected", "camera_z")
"""Velodyne ground-truth variants of `velodyne_to_depth`."""

GT_SOURCES = ("velodyne", "annotated", "completed", "none")
"""Where `KittiDataset` takes depth from (see its docstring)."""

CAM_TO_CAM = "calib_cam_to_cam.txt"
VELO_TO_CAM = "calib_velo_to_cam.txt"
ANNOTATED_FOLDER = "groundtruth"
COMPLETED_FOLDER = "ip_basic"

_DATE = re.compile(r"^\d{4}_\d{2}_\d{2}$")
_LAYOUT = (
    "ROOT/DATE/calib_cam_to_cam.txt, ROOT/DATE/calib_velo_to_cam.txt, "
    "ROOT/DATE/DATE_drive_XXXX_sync/image_0{2,3}/data/*.png (or .jpg), "
    "ROOT/DATE/DATE_drive_XXXX_sync/velodyne_points/data/*.bin, "
    "e.g. ROOT/2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000000.png"
)


# --- calibration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KittiCalibration:
    """The calibration of one KITTI recording (raw: one date; object benchmark: one frame).

    All cameras' rectified projections share the rectified frame of camera 0: a Velodyne point
    X (metres, homogeneous) lands at ``P_rect[c] @ R_rect @ T_velo_to_cam @ X`` in camera c.

    Attributes:
        P_rect: camera index (0-3) -> [3, 4] rectified projection matrix in pixels.
        R_rect: [3, 3] rectifying rotation of camera 0 (``R_rect_00`` / ``R0_rect``).
        T_velo_to_cam: [4, 4] rigid transform from the Velodyne to camera 0 (metres).
        image_sizes: camera index -> (height, width) of its rectified images in pixels
            (``S_rect_0X``).
        source: the file(s) it was read from, for messages.
    """

    P_rect: dict[int, np.ndarray]
    R_rect: np.ndarray
    T_velo_to_cam: np.ndarray
    image_sizes: dict[int, tuple[int, int]]
    source: str = ""

    def velodyne_to_image(self, camera: int = 2) -> np.ndarray:
        """[3, 4] projection of homogeneous Velodyne points to camera ``camera``'s pixels.

        Multiplied in Monodepth2's order ``(P_rect @ R_rect) @ T_velo_to_cam`` (float64), so the
        projected coordinates match its ground truth bit for bit.
        """
        R_rect = np.eye(4)
        R_rect[:3, :3] = self.R_rect
        return (self._projection(camera) @ R_rect) @ self.T_velo_to_cam

    def intrinsics(self, camera: int = 2) -> np.ndarray:
        """[3, 3] intrinsics K (pixels) of camera ``camera`` at ``image_size(camera)``."""
        return self._projection(camera)[:, :3].copy()

    def image_size(self, camera: int = 2) -> tuple[int, int]:
        """(height, width) in pixels of camera ``camera``'s rectified images."""
        if camera not in self.image_sizes:
            raise MdkError(f"{self.source}: no image size (S_rect_0{camera}) for camera {camera}")
        return self.image_sizes[camera]

    def camera_offset(self, camera: int) -> np.ndarray:
        """[3] position offset t (metres) with X_camera = X_rect0 + t.

        P_rect[c] = K [I | t], so t = K^-1 P_rect[c][:, 3]; for KITTI's camera 2 it is about
        (0.06, 0, 0.003) m and for camera 3 (-0.47, 0, 0.003) m.
        """
        P = self._projection(camera)
        return np.linalg.solve(P[:, :3], P[:, 3])

    def stereo_transform(self, from_camera: int = 2, to_camera: int = 3) -> np.ndarray:
        """[4, 4] T_to_from: maps points of ``from_camera`` to ``to_camera`` (metres).

        Rectified cameras differ by a translation only; the left-to-right baseline of KITTI's
        colour cameras is about 0.54 m, so ``stereo_transform(2, 3)[0, 3]`` is about -0.53.
        """
        T = np.eye(4)
        T[:3, 3] = self.camera_offset(to_camera) - self.camera_offset(from_camera)
        return T

    def _projection(self, camera: int) -> np.ndarray:
        if camera not in self.P_rect:
            raise MdkError(f"{self.source}: no projection matrix for camera {camera}")
        return self.P_rect[camera]


def read_calib_file(path: str | Path) -> dict[str, np.ndarray]:
    """Read a KITTI calibration text file (``KEY: numbers`` per line).

    Args:
        path: e.g. ``calib_cam_to_cam.txt`` or an object-benchmark ``calib/000000.txt``.

    Returns:
        KEY -> float64 1-D array; non-numeric entries (``calib_time``) are left out.

    Raises:
        MdkError: the file is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: calibration file not found")
    data = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        try:
            data[key.strip()] = np.array(value.split(), dtype=np.float64)
        except ValueError:
            continue
    return data


def read_raw_calibration(date_dir: str | Path, drive: str | None = None) -> KittiCalibration:
    """Read the calibration of a KITTI raw date folder.

    Args:
        date_dir: ``ROOT/DATE`` holding ``calib_cam_to_cam.txt`` and ``calib_velo_to_cam.txt``.
        drive: the drive that needs it, named in error messages.

    Returns:
        The calibration of cameras 0-3.

    Raises:
        MdkError: a missing file (naming the date and drive, and how to get it) or key.
    """
    date_dir = Path(date_dir)
    needed_by = f" (needed by drive {drive})" if drive else ""
    values = {}
    for name in (CAM_TO_CAM, VELO_TO_CAM):
        path = date_dir / name
        if not path.is_file():
            raise MdkError(
                f"{path}: calibration of date {date_dir.name} not found{needed_by}; download "
                f"{date_dir.name}_calib.zip from the KITTI raw data page and unzip it into "
                f"{date_dir.parent}"
            )
        values[name] = read_calib_file(path)
    cam, velo = values[CAM_TO_CAM], values[VELO_TO_CAM]
    P_rect, sizes = {}, {}
    for camera in range(4):
        if f"P_rect_0{camera}" in cam:
            P_rect[camera] = _reshape(cam, f"P_rect_0{camera}", (3, 4), date_dir / CAM_TO_CAM)
        if f"S_rect_0{camera}" in cam:
            width, height = _reshape(cam, f"S_rect_0{camera}", (2,), date_dir / CAM_TO_CAM)
            sizes[camera] = (int(height), int(width))
    T = np.eye(4)
    T[:3, :3] = _reshape(velo, "R", (3, 3), date_dir / VELO_TO_CAM)
    T[:3, 3] = _reshape(velo, "T", (3,), date_dir / VELO_TO_CAM)
    return KittiCalibration(
        P_rect=P_rect,
        R_rect=_reshape(cam, "R_rect_00", (3, 3), date_dir / CAM_TO_CAM),
        T_velo_to_cam=T,
        image_sizes=sizes,
        source=str(date_dir),
    )


def read_object_calibration(path: str | Path, image_size: tuple[int, int]) -> KittiCalibration:
    """Read a KITTI object-benchmark calibration file (``P0``-``P3``, ``R0_rect``,
    ``Tr_velo_to_cam``), which has the raw format's content under other names.

    Args:
        path: ``calib/NNNNNN.txt``.
        image_size: (height, width) of the frame's images (the file does not give it).

    Returns:
        The calibration; every camera gets ``image_size``.

    Raises:
        MdkError: a missing file or key.
    """
    values = read_calib_file(path)
    T = np.eye(4)
    T[:3] = _reshape(values, "Tr_velo_to_cam", (3, 4), path)
    size = (int(image_size[0]), int(image_size[1]))
    return KittiCalibration(
        P_rect={c: _reshape(values, f"P{c}", (3, 4), path) for c in range(4)},
        R_rect=_reshape(values, "R0_rect", (3, 3), path),
        T_velo_to_cam=T,
        image_sizes=dict.fromkeys(range(4), size),
        source=str(path),
    )


def _reshape(values: dict, key: str, shape: tuple[int, ...], path: str | Path) -> np.ndarray:
    if key not in values:
        raise MdkError(f"{path}: key '{key}' not found (is this a KITTI calibration file?)")
    try:
        return values[key].reshape(shape)
    except ValueError:
        raise MdkError(
            f"{path}: '{key}' should hold {int(np.prod(shape))} numbers, found {values[key].size}"
        ) from None


# --- Velodyne -> depth ---------------------------------------------------------------------


def read_velodyne(path: str | Path) -> np.ndarray:
    """Read a Velodyne scan.

    Args:
        path: ``.bin`` of float32 records (x, y, z, reflectance); x forward, y left, z up, in
            metres in the Velodyne frame.

    Returns:
        [N, 4] float32.

    Raises:
        MdkError: a missing file, or a size that is not a multiple of 16 bytes (truncated).
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: Velodyne scan not found")
    size = path.stat().st_size
    if size % 16:
        raise MdkError(
            f"{path}: truncated or not a Velodyne scan: {size} bytes is not a multiple of 16 "
            "(4 float32 per point); download the drive again"
        )
    return np.fromfile(path, dtype=np.float32).reshape(-1, 4)


def velodyne_to_depth(
    points: np.ndarray,
    calibration: KittiCalibration,
    camera: int = 2,
    variant: str = "monodepth2",
) -> np.ndarray:
    """Project a Velodyne scan to a sparse depth map of one camera.

    Args:
        points: [N, 3+] Velodyne points (x, y, z, ...) in metres (`read_velodyne`).
        calibration: the recording's calibration.
        camera: 2 (left colour) or 3 (right colour).
        variant: ``"monodepth2"`` (Monodepth2's exported evaluation ground truth: Velodyne x
            as depth), ``"monodepth2_projected"`` (Monodepth2's training-loader ground truth:
            camera z-depth, same quirks) or ``"camera_z"`` (see the module docstring).

    Returns:
        [H, W] float32 depth in metres, 0 = no point. The Monodepth2 variants use camera 2's
        image size (``S_rect_02``) whatever ``camera`` is, as Monodepth2 does; ``camera_z``
        uses ``camera``'s.

    Raises:
        MdkError: an unknown variant.
    """
    projection = calibration.velodyne_to_image(camera)
    if variant in ("monodepth2", "monodepth2_projected"):
        return project_monodepth2(
            points,
            projection,
            calibration.image_size(2),
            velodyne_depth=variant == "monodepth2",
        )
    if variant == "camera_z":
        return project_camera_z(points, projection, calibration.image_size(camera))
    raise MdkError(f"unknown depth variant '{variant}'; expected one of {DEPTH_VARIANTS}")


def project_monodepth2(
    points: np.ndarray,
    projection: np.ndarray,
    image_size: tuple[int, int],
    velodyne_depth: bool = True,
) -> np.ndarray:
    """Monodepth2's ``generate_depth_map``, reproduced pixel for pixel with its quirks.

    Steps and quirks, in Monodepth2's order:

    1. Keep points with Velodyne x >= 0 (in front of the *Velodyne*, not of the camera).
    2. Project: ``[u*z, v*z, z] = projection @ [x, y, z, 1]`` in float64 (points as float32),
       then divide u, v by z.
    3. Stored depth: with ``velodyne_depth`` (``vel_depth=True``, what ``export_gt_depth.py``
       and so every published Eigen result uses) the point's Velodyne **x** coordinate, its
       forward distance from the Velodyne, which is not the camera z-depth: it differs by the
       Velodyne-to-camera offset (about 0.27 m) and the small rotation between the frames.
       Otherwise z, the camera z-depth.
    4. Pixel: ``round(u) - 1``, ``round(v) - 1`` (a port of KITTI's 1-based MATLAB code; numpy
       rounds halves to even, so u = 10.5 lands in column 9 and u = 11.5 in column 11); points
       with a pixel outside the image are dropped.
    5. Points are written in scan order, so where several hit one pixel the last one is
       written first.
    6. Duplicates: pixels hit by several points get the *minimum* stored depth. Monodepth2
       finds them with the linear index ``row * (W - 1) + col - 1`` (its ``sub2ind`` uses W - 1
       instead of W), which also makes pixel (row, W - 1) collide with pixel (row + 1, 0): the
       minimum over both pixels' points is written into the pixel of whichever of them comes
       first in the scan, and the other pixel keeps its last-written value.
    7. Negative depths are set to 0 (with ``velodyne_depth`` there are none; in the projected
       variant a point with x >= 0 but z < 0 can zero its pixel through step 6).

    The result is cast to float32, as ``export_gt_depth.py`` does before saving.

    Args:
        points: [N, 3+] Velodyne points in metres.
        projection: [3, 4] Velodyne-to-pixel projection (`KittiCalibration.velodyne_to_image`).
        image_size: (height, width) in pixels (Monodepth2 uses ``S_rect_02``).
        velodyne_depth: store Velodyne x (True) or camera z (False).

    Returns:
        [H, W] float32 depth in metres, 0 = no point.
    """
    height, width = image_size
    points = np.asarray(points, dtype=np.float32)
    velo = points[points[:, 0] >= 0]
    homogeneous = np.concatenate([velo[:, :3], np.ones((len(velo), 1), np.float32)], axis=1)
    projected = (np.asarray(projection, np.float64) @ homogeneous.T).T
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = projected[:, :2] / projected[:, 2:3]
    depth = velo[:, 0].astype(np.float64) if velodyne_depth else projected[:, 2]
    col = np.round(uv[:, 0]) - 1
    row = np.round(uv[:, 1]) - 1
    inside = (col >= 0) & (row >= 0) & (col < width) & (row < height)
    col, row, depth = col[inside].astype(np.int64), row[inside].astype(np.int64), depth[inside]

    out = np.zeros(height * width, dtype=np.float64)
    pixel = row * width + col
    if len(pixel):
        # Last point wins (numpy's fancy assignment in practice; explicit here).
        _, last_reversed = np.unique(pixel[::-1], return_index=True)
        last = len(pixel) - 1 - last_reversed
        out[pixel[last]] = depth[last]
        # Monodepth2's duplicate pass, with its sub2ind key.
        key = row * (width - 1) + col - 1
        _, first, group, counts = np.unique(
            key, return_index=True, return_inverse=True, return_counts=True
        )
        minimum = np.full(len(counts), np.inf)
        np.minimum.at(minimum, group.reshape(-1), depth)
        duplicated = counts > 1
        out[pixel[first[duplicated]]] = minimum[duplicated]
    out[out < 0] = 0
    return out.reshape(height, width).astype(np.float32)


def project_camera_z(
    points: np.ndarray, projection: np.ndarray, image_size: tuple[int, int]
) -> np.ndarray:
    """Project points to a z-depth map: pixel centres at integers, the nearest point wins.

    A point with camera z-depth z > 0 and projection (u, v) lands in column floor(u + 0.5) and
    row floor(v + 0.5) (the convention of `monodepthkit.geometry.camera.scale_intrinsics`);
    the stored value is z, and where several points hit one pixel the smallest z is kept.

    Args:
        points: [N, 3+] points in metres in the frame ``projection`` expects.
        projection: [3, 4] projection to pixels whose third row gives the camera z-depth.
        image_size: (height, width) in pixels.

    Returns:
        [H, W] float32 depth in metres, 0 = no point.
    """
    height, width = image_size
    points = np.asarray(points, dtype=np.float64)
    homogeneous = np.concatenate([points[:, :3], np.ones((len(points), 1))], axis=1)
    projected = (np.asarray(projection, np.float64) @ homogeneous.T).T
    z = projected[:, 2]
    front = z > 0
    projected, z = projected[front], z[front]
    col = np.floor(projected[:, 0] / z + 0.5)
    row = np.floor(projected[:, 1] / z + 0.5)
    inside = (col >= 0) & (row >= 0) & (col < width) & (row < height)
    pixel = row[inside].astype(np.int64) * width + col[inside].astype(np.int64)
    out = np.full(height * width, np.inf)
    np.minimum.at(out, pixel, z[inside])
    out[np.isinf(out)] = 0
    return out.reshape(height, width).astype(np.float32)


def read_annotated_depth(path: str | Path) -> np.ndarray:
    """Read a KITTI depth annotated (or velodyne_raw) map.

    Args:
        path: uint16 PNG, metres x 256, 0 = no depth.

    Returns:
        [H, W] float32 depth in metres (the values Monodepth2's ``export_gt_depth.py`` gets).

    Raises:
        MdkError: a missing or unreadable file, naming it.
    """
    return read_depth_png(path, DEPTH_SCALE)


# --- the KITTI raw tree ----------------------------------------------------------------------


@dataclass
class KittiDrive:
    """The frames of one KITTI raw drive folder (``ROOT/DATE/DATE_drive_XXXX_sync``).

    Each listing is read once, on first use.

    Attributes:
        path: the drive folder.
    """

    path: Path
    _frames: dict[str, dict[int, Path]] = field(default_factory=dict, init=False, repr=False)

    def images(self, camera: int) -> dict[int, Path]:
        """Frame index -> image path of camera ``camera``."""
        return self._listing(f"image_0{camera}/data", IMAGE_SUFFIXES)

    def frame_range(self, camera: int) -> tuple[int, int]:
        """(first, last) frame index of camera ``camera`` ((0, -1) when it has no image)."""
        frames = self.images(camera)
        return (min(frames), max(frames)) if frames else (0, -1)

    def scans(self) -> dict[int, Path]:
        """Frame index -> Velodyne scan path."""
        return self._listing("velodyne_points/data", (".bin",))

    def _listing(self, relative: str, suffixes: Iterable[str]) -> dict[int, Path]:
        if relative not in self._frames:
            folder = self.path / relative
            frames = {}
            if folder.is_dir():
                for path in sorted(folder.iterdir()):
                    if path.suffix.lower() in suffixes and path.stem.isdigit():
                        frames.setdefault(int(path.stem), path)
            self._frames[relative] = frames
        return self._frames[relative]


def find_drives(root: str | Path) -> dict[str, Path]:
    """The drives of a KITTI raw tree.

    Args:
        root: KITTI raw root (holding ``DATE/`` folders).

    Returns:
        ``"DATE/DRIVE"`` -> drive folder, for every ``ROOT/DATE/*_sync`` folder.

    Raises:
        MdkError: the root is missing or holds no drive, showing the expected layout.
    """
    root = Path(root)
    if not root.is_dir():
        raise MdkError(f"{root}: KITTI root not found; expected the layout {_LAYOUT}")
    drives = {
        f"{date.name}/{drive.name}": drive
        for date in sorted(root.iterdir())
        if date.is_dir() and _DATE.match(date.name)
        for drive in sorted(date.iterdir())
        if drive.is_dir() and drive.name.startswith(date.name) and "_drive_" in drive.name
    }
    if not drives:
        hint = ""
        if _DATE.match(root.name):
            hint = f" ({root.name} looks like a date folder: pass its parent {root.parent})"
        elif "_drive_" in root.name:
            hint = f" ({root.name} looks like a drive folder: pass {root.parent.parent})"
        raise MdkError(f"{root}: no KITTI raw drive found{hint}; expected the layout {_LAYOUT}")
    return drives


def annotated_depth_path(
    depth_root: str | Path, entry: SplitEntry, folder: str = ANNOTATED_FOLDER
) -> Path:
    """Where the annotated depth of a split entry lives (the first existing candidate).

    Candidates, in order: ``DEPTH_ROOT/DATE/DRIVE/proj_depth/FOLDER/image_0X/FRAME.png``
    (merged into KITTI raw, as Monodepth2 expects), then ``DEPTH_ROOT/DRIVE/...``,
    ``DEPTH_ROOT/train/DRIVE/...`` and ``DEPTH_ROOT/val/DRIVE/...`` (KITTI depth as unzipped).

    Args:
        depth_root: KITTI raw root or KITTI depth root.
        entry: the frame.
        folder: ``"groundtruth"`` (annotated), ``"velodyne_raw"`` or ``"ip_basic"``
            (`monodepthkit.data.completion.complete_tree`).

    Returns:
        The first candidate that exists, else the first candidate.
    """
    depth_root = Path(depth_root)
    tail = Path("proj_depth", folder, f"image_0{entry.camera}", f"{entry.frame:010d}.png")
    candidates = [
        depth_root / entry.folder / tail,
        depth_root / entry.drive / tail,
        depth_root / "train" / entry.drive / tail,
        depth_root / "val" / entry.drive / tail,
    ]
    return next((path for path in candidates if path.is_file()), candidates[0])


def sample_name(entry: SplitEntry) -> str:
    """The sample name of a split entry: ``DRIVE/FRAME`` (10 digits), ``_r`` for camera 3.

    Unique across drives (frame numbers repeat); `KittiDataset`, `export_gt_depths` and the
    evaluation match ground truth and predictions by it.
    """
    return f"{entry.drive}/{entry.frame:010d}{'_r' if entry.camera == 3 else ''}"


def _missing_error(root: Path, split: str, missing: list[tuple[SplitEntry, str]], total: int):
    shown = "; ".join(f"'{entry}' ({what})" for entry, what in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return MdkError(
        f"{root}: {len(missing)} of {total} entries of split '{split}' have missing files: "
        f"{shown}{more}. Download the missing drives (expected layout: {_LAYOUT}), or use a "
        "split that lists only the drives you have"
    )


# --- dataset ---------------------------------------------------------------------------------


@register_dataset("kitti")
class KittiDataset(Dataset):
    """KITTI raw frames with Velodyne, annotated or completed ground truth (batch contract).

    Samples hold ``image``, ``K`` (from ``P_rect_0X`` scaled to the output size), ``name``
    (``DRIVE/FRAME``, with ``_r`` appended for the right camera), ``depth`` unless
    ``gt="none"``, ``image_{offset:+d}`` for each frame offset (same camera), and with
    ``stereo`` the other colour camera's ``image_stereo`` plus ``T_stereo`` (metres, from the
    calibration: the left-to-right baseline is about 0.54 m).

    Args:
        root: KITTI raw root (layout in the module docstring).
        split: a split name of `monodepthkit.data.splits.SPLIT_FILES` (``"eigen"``,
            ``"eigen_benchmark"``, ``"eigen_zhou/train"``, ...) read from ``splits_dir``, the
            path of a split file, or ``"all"`` for every frame of every drive.
        frame_offsets: context frames to load, e.g. ``(-1, 1)``; entries at a sequence end
            (a neighbour before the drive's first or after its last frame) are skipped.
        stereo: also load the other colour camera and ``T_stereo``.
        image_size: (height, width) to resize to; None keeps the files' size.
        require_depth: fail unless every sample has ground truth (``gt`` must not be "none").
        augment: training augmentation (`monodepthkit.data.transforms.augment_sample`); None =
            none.
        gt: ``"velodyne"`` (project the scan, see ``variant``), ``"annotated"`` (KITTI depth
            ``proj_depth/groundtruth`` PNGs), ``"completed"`` (``proj_depth/ip_basic`` PNGs of
            ``mdk data complete``), ``"none"``; None = ``"annotated"`` for the Eigen benchmark
            split, else ``"velodyne"``.
        variant: Velodyne ground truth variant (`DEPTH_VARIANTS`).
        side: ``"l"`` or ``"r"`` forces that camera for every entry; None keeps each entry's
            side (split ``"all"``: left).
        split_file: a split file, overriding ``split``.
        splits_dir: folder of the named split files (default ``ROOT/splits``).
        depth_root: where annotated/completed depth lives (default ``root``; see
            `annotated_depth_path`).

    Raises:
        MdkError: a wrong root (showing the layout), a missing calibration (naming the drive),
            split entries with missing files (count and first entries), a bad option.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        frame_offsets: Sequence[int] = (),
        stereo: bool = False,
        image_size: tuple[int, int] | None = None,
        require_depth: bool = False,
        augment: AugmentOptions | None = None,
        gt: str | None = None,
        variant: str = "monodepth2",
        side: str | None = None,
        split_file: str | Path | None = None,
        splits_dir: str | Path | None = None,
        depth_root: str | Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = str(split_file or split)
        self.gt = gt or ("annotated" if split == "eigen_benchmark" else "velodyne")
        if self.gt not in GT_SOURCES:
            raise MdkError(f"kitti: unknown gt '{self.gt}'; expected one of {GT_SOURCES}")
        if variant not in DEPTH_VARIANTS:
            raise MdkError(f"kitti: unknown variant '{variant}'; expected one of {DEPTH_VARIANTS}")
        if side not in (None, "l", "r"):
            raise MdkError(f"kitti: side must be 'l', 'r' or null, found '{side}'")
        if require_depth and self.gt == "none":
            raise MdkError("kitti: require_depth needs ground truth; set gt to velodyne/annotated")
        self.variant = variant
        self.frame_offsets = tuple(int(o) for o in frame_offsets if int(o) != 0)
        self.stereo = stereo
        self.image_size = tuple(image_size) if image_size is not None else None
        self.augment = augment if augment is not None and augment.enabled else None
        self.depth_root = Path(depth_root) if depth_root is not None else self.root
        self.drives = {name: KittiDrive(path) for name, path in find_drives(self.root).items()}
        entries = self._entries(split, split_file, splits_dir, side)
        self.entries = self._check_entries(entries)
        if not self.entries:
            raise MdkError(
                f"{self.root}: split '{self.split}' has no usable frame (offsets "
                f"{self.frame_offsets} need neighbours on both sides)"
            )
        self.calibrations: dict[str, KittiCalibration] = {}
        if self._needs_calibration():
            for entry in self.entries:
                if entry.date not in self.calibrations:
                    self.calibrations[entry.date] = read_raw_calibration(
                        self.root / entry.date, entry.drive
                    )

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> dict:
        entry = self.entries[index]
        drive = self.drives[entry.folder]
        camera = entry.camera
        calibration = self.calibrations[entry.date]
        images = drive.images(camera)
        stereo = None
        if self.stereo:
            partner = 5 - camera
            stereo = StereoPartner(
                read_rgb(drive.images(partner)[entry.frame]),
                calibration.stereo_transform(camera, partner),
            )
        return build_sample(
            sample_name(entry),
            read_rgb(images[entry.frame]),
            size=self.image_size,
            depth=self.depth(index),
            K=calibration.intrinsics(camera),
            K_size=calibration.image_size(camera),
            context={
                offset: ContextFrame(read_rgb(images[entry.frame + offset]))
                for offset in self.frame_offsets
            },
            stereo=stereo,
            augment=self.augment,
        )

    def depth(self, index: int) -> np.ndarray | None:
        """Ground truth of entry ``index`` at the calibration's image size.

        Returns:
            [H, W] float32 metres (0 = none), or None when ``gt="none"``.
        """
        entry = self.entries[index]
        if self.gt == "none":
            return None
        if self.gt == "velodyne":
            scan = read_velodyne(self.drives[entry.folder].scans()[entry.frame])
            return velodyne_to_depth(
                scan, self.calibrations[entry.date], entry.camera, self.variant
            )
        folder = ANNOTATED_FOLDER if self.gt == "annotated" else COMPLETED_FOLDER
        return read_annotated_depth(annotated_depth_path(self.depth_root, entry, folder))

    def _needs_calibration(self) -> bool:
        return True

    def _entries(
        self,
        split: str,
        split_file: str | Path | None,
        splits_dir: str | Path | None,
        side: str | None,
    ) -> list[SplitEntry]:
        if split_file is None and split == "all":
            camera = 3 if side == "r" else 2
            return [
                SplitEntry(name, frame, side or "l")
                for name, drive in self.drives.items()
                for frame in drive.images(camera)
            ]
        path = Path(split_file) if split_file is not None else None
        if path is None:
            path = split_file_path(split, splits_dir or self.root / "splits")
        entries = read_split_file(path)
        if side is not None:
            entries = [SplitEntry(e.folder, e.frame, side, e.depth_path, e.focal) for e in entries]
        return entries

    def _check_entries(self, entries: list[SplitEntry]) -> list[SplitEntry]:
        """Drop entries at sequence ends; fail on entries with missing files."""
        kept, missing = [], []
        for entry in entries:
            drive = self.drives.get(entry.folder)
            if drive is None:
                missing.append((entry, f"no drive folder {entry.folder}"))
                continue
            images = drive.images(entry.camera)
            if entry.frame not in images:
                what = f"image_0{entry.camera}/data/{entry.frame:010d}.png/.jpg"
                missing.append((entry, f"{what} missing"))
                continue
            first, last = drive.frame_range(entry.camera)
            if any(not first <= entry.frame + o <= last for o in self.frame_offsets):
                continue  # sequence end
            problem = self._missing_file(entry, drive)
            if problem:
                missing.append((entry, problem))
            else:
                kept.append(entry)
        if missing:
            raise _missing_error(self.root, self.split, missing, len(entries))
        return kept

    def _missing_file(self, entry: SplitEntry, drive: KittiDrive) -> str | None:
        images = drive.images(entry.camera)
        for offset in self.frame_offsets:
            if entry.frame + offset not in images:
                return f"neighbour image {entry.frame + offset:010d} missing"
        if self.stereo and entry.frame not in drive.images(5 - entry.camera):
            return f"stereo image image_0{5 - entry.camera}/data/{entry.frame:010d} missing"
        if self.gt == "velodyne" and entry.frame not in drive.scans():
            return (
                f"velodyne_points/data/{entry.frame:010d}.bin missing (set gt: none to train "
                "without ground truth)"
            )
        if self.gt in ("annotated", "completed"):
            folder = ANNOTATED_FOLDER if self.gt == "annotated" else COMPLETED_FOLDER
            path = annotated_depth_path(self.depth_root, entry, folder)
            if not path.is_file():
                return f"{path} missing"
        return None


# --- ground truth export ---------------------------------------------------------------------


def export_gt_depths(
    root: str | Path,
    split: str,
    out: str | Path,
    variant: str = "monodepth2",
    gt: str | None = None,
    splits_dir: str | Path | None = None,
    depth_root: str | Path | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Write the ground truth of a split into one compressed ``.npz``, for fast evaluation.

    Like Monodepth2's ``export_gt_depth.py``: Velodyne ground truth for the Eigen split (only
    scans and calibration are needed, not the images), annotated depth for the Eigen
    benchmark. Each entry uses its own side's camera (Monodepth2 always uses camera 2; every
    Eigen test entry is a left image, so the two agree).

    The file holds ``data`` (an object array of [H, W] float32 maps in metres, Monodepth2's
    ``gt_depths.npz`` layout: its ``evaluate_depth.py`` can read it) and ``names`` (the
    samples' ``DRIVE/FRAME`` names, in split order). Read it with `load_gt_depths`.

    Args:
        root: KITTI raw root.
        split: split name or split file (see `KittiDataset`).
        out: output ``.npz`` path.
        variant: Velodyne variant (`DEPTH_VARIANTS`).
        gt: ``"velodyne"``, ``"annotated"`` or ``"completed"``; None = annotated for
            ``eigen_benchmark``, else Velodyne.
        splits_dir: folder of named split files (default ``ROOT/splits``).
        depth_root: root of annotated depth (default ``root``).
        workers: parallel threads.
        progress: show a tqdm progress bar.

    Returns:
        The written path.

    Raises:
        MdkError: as `KittiDataset`, e.g. entries whose scans are missing.
    """
    dataset = _GroundTruthIndex(
        root, split, gt=gt, variant=variant, splits_dir=splits_dir, depth_root=depth_root
    )
    indices = range(len(dataset))
    if workers > 1 and len(dataset) > 1:
        # Threads: decoding and the numpy projection release the GIL, and no process start-up.
        with ThreadPoolExecutor(workers) as pool:
            maps = list(_progress(pool.map(dataset.depth, indices), len(dataset), progress))
    else:
        maps = list(_progress(map(dataset.depth, indices), len(dataset), progress))
    data = np.empty(len(maps), dtype=object)
    for index, depth in enumerate(maps):
        data[index] = depth
    names = np.array([sample_name(entry) for entry in dataset.entries])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, data=data, names=names)
    return out


def load_gt_depths(path: str | Path) -> tuple[list[str], list[np.ndarray]]:
    """Read a ground-truth file of `export_gt_depths` (or Monodepth2's ``gt_depths.npz``).

    Args:
        path: the ``.npz``; it is unpickled (object array), so only open files you trust.

    Returns:
        (names, depths): names (empty strings when the file has none, as Monodepth2's) and
        [H, W] float32 depth maps in metres.

    Raises:
        MdkError: a missing file or one without ``data``.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: ground-truth file not found (write it with `mdk data kitti-gt`)")
    with np.load(path, allow_pickle=True) as archive:
        if "data" not in archive:
            raise MdkError(f"{path}: expected an array 'data' (from `mdk data kitti-gt`)")
        depths = [np.asarray(d, dtype=np.float32) for d in archive["data"]]
        names = [str(n) for n in archive["names"]] if "names" in archive else [""] * len(depths)
    return names, depths


class _GroundTruthIndex(KittiDataset):
    """The entries of a split with only their ground-truth files checked (no images)."""

    def __init__(
        self,
        root: str | Path,
        split: str,
        gt: str | None,
        variant: str,
        splits_dir: str | Path | None,
        depth_root: str | Path | None,
    ) -> None:
        gt = gt or ("annotated" if split == "eigen_benchmark" else "velodyne")
        if gt == "none":
            raise MdkError("kitti-gt: gt must be velodyne, annotated or completed")
        super().__init__(
            root,
            split=split,
            gt=gt,
            variant=variant,
            splits_dir=splits_dir,
            depth_root=depth_root,
        )

    def _needs_calibration(self) -> bool:
        return self.gt == "velodyne"

    def _check_entries(self, entries: list[SplitEntry]) -> list[SplitEntry]:
        missing = []
        for entry in entries:
            drive = self.drives.get(entry.folder, KittiDrive(self.root / entry.folder))
            if self.gt == "velodyne" and entry.folder not in self.drives:
                problem = f"no drive folder {entry.folder}"
            else:
                problem = self._missing_file(entry, drive)
            if problem:
                missing.append((entry, problem))
        if missing:
            raise _missing_error(self.root, self.split, missing, len(entries))
        return entries


def _progress(iterable, total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc="ground truth", unit="frame", disable=not enabled)
