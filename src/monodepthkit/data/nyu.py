"""NYU Depth v2: the 1449 labelled frames (``.mat``) and the raw Kinect video (scene folders).

Two datasets, registered as ``nyu_labeled`` and ``nyu_raw``; samples follow the batch contract
of `monodepthkit.data.batch`.

**Labelled** (`NyuLabeledDataset`): ``nyu_depth_v2_labeled.mat`` is a MATLAB v7.3 file, i.e.
HDF5, read with h5py. MATLAB stores arrays column-major, so h5py sees them transposed:
``images`` is N x 3 x W x H uint8 and ``depths`` N x W x H float32 metres (in-painted, dense);
``rawDepths`` has the same layout, 0 = no measurement. Frames are 480x640, undistorted, and
carry an invalid white border from the undistortion: the evaluation protocol (``nyu`` in
`monodepthkit.eval.protocol`) ignores everything outside the Eigen crop, rows 45:471 and
columns 41:601, so evaluation splits are kept at full frame; for training the ``border`` option
crops the frame to a box (default: the Eigen crop) or masks the depth outside it. Splits:

- ``official``: ``splits.mat`` (``trainNdxs`` 795, ``testNdxs`` 654, 1-based indices), splits
  ``train`` and ``test``;
- ``report2``: report 2's random 1049 / 200 / 200 train / val / test split of the 1449 frames
  (the report gives no procedure: a permutation by ``numpy.random.default_rng(seed)``, seed 0
  by default, first 1049 train, next 200 val, last 200 test);
- ``report5``: report 5's 0.64 / 0.16 / 0.2 split, reproducing its scikit-learn script exactly
  (``train_test_split(np.arange(1, 1449), test_size=0.2, random_state=31)`` and again on the
  training part): 926 / 232 / 290 frames. As in the report, the population stops at frame 1448,
  so frame 1449 is in no split.

**Raw** (`NyuRawDataset`): the Kinect dumps, one folder per scene (``bedroom_0001/``) holding
``r-<timestamp>-<counter>.ppm`` RGB frames and ``d-<timestamp>-<counter>.pgm`` depth frames
(timestamps in seconds), as the NYU toolbox expects. Each RGB frame is synchronised to the depth
frame nearest in time; context frames for self-supervision are the neighbouring RGB frames
(``frame_offsets`` times ``frame_stride``). The PGMs hold raw Kinect disparity with their bytes
swapped (`read_raw_disparity`), converted to metres by the toolbox's
``351.3 / (1092.5 - raw)`` (`kinect_disparity_to_depth`). Depth is measured by the depth camera:
`register_depth_to_rgb` re-projects it into the (undistorted) RGB camera as the toolbox's
``project_depth_map.m`` does.

Camera (toolbox ``camera_params.m``, calibrated at 640x480): RGB fx 518.8579, fy 519.4696,
cx 325.5824, cy 253.7362; `kinect_intrinsics` scales it for a crop and a resize.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import Dataset

from monodepthkit.data.io import read_rgb, write_depth_png, write_matrix, write_rgb
from monodepthkit.data.registry import register_dataset
from monodepthkit.data.sample import ContextFrame, build_sample
from monodepthkit.data.transforms import AugmentOptions
from monodepthkit.errors import MdkError
from monodepthkit.geometry.camera import crop_intrinsics, scale_intrinsics

NYU_SIZE = (480, 640)
"""(height, width) of NYU v2 frames, at which the calibration is given."""
NUM_LABELED = 1449
LABELED_FILE = "nyu_depth_v2_labeled.mat"
SPLITS_FILE = "splits.mat"
SPLIT_SCHEMES = ("official", "report2", "report5")
BORDER_MODES = ("keep", "crop", "mask")
EIGEN_CROP = (45, 471, 41, 601)
"""(top, bottom, left, right) of Eigen et al. (2014)'s NYU crop at 480x640:
``frame[45:471, 41:601]``. The one definition: the ``nyu`` evaluation protocol
(`monodepthkit.eval.protocol.crop_box`, ``eigen_nyu``) and the ``border`` options read it."""

# Toolbox camera_params.m (RGBDemo calibration), pixels at 640x480; distortion in OpenCV's
# order (k1, k2, p1, p2, k3), which is the toolbox's.
RGB_INTRINSICS = (
    5.1885790117450188e02,
    5.1946961112127485e02,
    3.2558244941119034e02,
    2.5373616633400465e02,
)
RGB_DISTORTION = (
    2.0796615318809061e-01,
    -5.8613825163911781e-01,
    7.2231363135888329e-04,
    1.0479627195765181e-03,
    4.9856986684705107e-01,
)
DEPTH_INTRINSICS = (
    5.8262448167737955e02,
    5.8269103270988637e02,
    3.1304475870804731e02,
    2.3844389626620386e02,
)
DEPTH_DISTORTION = (
    -9.9897236553084481e-02,
    3.9065324602765344e-01,
    1.9290592870229277e-03,
    -1.9422022475975055e-03,
    -5.1031725053400578e-01,
)
# The toolbox reads nine values into a matrix M (row-major below), sets R = inv(-M) and moves
# depth-camera points p to R p + T with T = (t_x, t_z, t_y) as listed below; both signs flip
# with R's minus sign, and a projection x/z does not see a common sign, so the same pixels
# come out of inv(M) p - T, which keeps z positive.
_DEPTH_TO_RGB_M = (
    (9.9997798940829263e-01, 5.0518419386157446e-03, 4.3011152014118693e-03),
    (-5.0359919480810989e-03, 9.9998051861143999e-01, -3.6879781309514218e-03),
    (-4.3196624923060242e-03, 3.6662365748484798e-03, 9.9998394948385538e-01),
)
_DEPTH_TO_RGB_T = (2.5031875059141302e-02, -2.9342312935846411e-04, 6.6238747008330102e-04)
KINECT_DISPARITY_INVALID = 2047
KINECT_MAX_DEPTH = 10.0
"""Depths beyond this (metres) are clamped to it, as the toolbox's ``maxDepth``."""


def kinect_intrinsics(
    size: tuple[int, int] = NYU_SIZE, crop: tuple[int, int, int, int] | None = None
) -> np.ndarray:
    """The Kinect RGB camera matrix for a frame cropped and/or resized from 480x640.

    Args:
        size: (height, width) in pixels of the final frame (after the crop, if any).
        crop: (top, bottom, left, right) in pixels of 480x640 applied first, or None.

    Returns:
        [3, 3] float64 K in pixels of ``size``.
    """
    K = _kinect_matrix()
    source = NYU_SIZE
    if crop is not None:
        top, bottom, left, right = crop
        K = crop_intrinsics(K, top, left)
        source = (bottom - top, right - left)
    return scale_intrinsics(K, source, size)


def _kinect_matrix() -> np.ndarray:
    """[3, 3] float64 K of the Kinect RGB camera in pixels of 480x640."""
    fx, fy, cx, cy = RGB_INTRINSICS
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


# --- splits ------------------------------------------------------------------------------------


def read_official_split(path: str | Path) -> dict[str, np.ndarray]:
    """The official NYU v2 labelled split from ``splits.mat``.

    Args:
        path: ``splits.mat`` with ``trainNdxs`` (795 x 1) and ``testNdxs`` (654 x 1), 1-based.

    Returns:
        {"train": [795] int64, "test": [654] int64}: 0-based frame indices, file order.

    Raises:
        MdkError: a missing or unreadable file, or missing variables.
    """
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise MdkError(
            f"{path}: NYU split file not found; the official splits.mat (trainNdxs, testNdxs) "
            "comes with the NYU v2 toolbox (also in the BTS repository: utils/splits.mat); "
            "give its path as splits_file or use split_scheme report2/report5"
        )
    try:
        content = scipy.io.loadmat(path)
    except (ValueError, OSError, NotImplementedError) as exc:
        raise MdkError(f"{path}: expected a MATLAB splits.mat, cannot read it ({exc})") from None
    result = {}
    for split, variable in (("train", "trainNdxs"), ("test", "testNdxs")):
        if variable not in content:
            raise MdkError(f"{path}: variable '{variable}' not found; is this NYU's splits.mat?")
        result[split] = np.asarray(content[variable], dtype=np.int64).ravel() - 1
    return result


def split_indices(
    scheme: str,
    split: str,
    num_frames: int = NUM_LABELED,
    seed: int | None = None,
    splits_file: str | Path | None = None,
) -> np.ndarray:
    """0-based indices of the labelled frames in a split.

    Args:
        scheme: ``"official"``, ``"report2"`` or ``"report5"`` (see the module docstring).
        split: ``"train"``, ``"val"`` (not in ``official``), ``"test"`` or ``"all"``.
        num_frames: frames in the ``.mat`` (1449). ``report2`` scales its 200 / 200 held-out
            frames to another count (``round(n * 200 / 1449)``); ``report5`` draws from
            frames 1 .. n - 1, as the report's ``np.arange(1, 1449)``.
        seed: random seed of ``report2`` (default 0) and ``report5`` (default 31, the report's).
        splits_file: ``splits.mat`` for ``official``.

    Returns:
        [M] int64 frame indices (0-based), in the split's order.

    Raises:
        MdkError: an unknown scheme or split, or a missing splits file.
    """
    if split == "all":
        return np.arange(num_frames)
    if scheme not in SPLIT_SCHEMES:
        raise MdkError(
            f"unknown NYU split scheme {scheme!r}; expected one of {', '.join(SPLIT_SCHEMES)}"
        )
    names = ("train", "test") if scheme == "official" else ("train", "val", "test")
    if split not in names:
        hint = " (the official split has no val: use split_scheme report2 or report5)"
        raise MdkError(
            f"NYU split scheme {scheme!r} has no split {split!r}; expected one of "
            f"{', '.join((*names, 'all'))}" + (hint if scheme == "official" else "")
        )
    if scheme == "official":
        if splits_file is None:
            raise MdkError("NYU split scheme 'official' needs splits_file (path to splits.mat)")
        return read_official_split(splits_file)[split]
    if scheme == "report2":
        held_out = round(num_frames * 200 / NUM_LABELED)
        order = np.random.default_rng(0 if seed is None else seed).permutation(num_frames)
        bounds = {"train": (0, num_frames - 2 * held_out)}
        bounds["val"] = (bounds["train"][1], bounds["train"][1] + held_out)
        bounds["test"] = (bounds["val"][1], num_frames)
        start, stop = bounds[split]
        return order[start:stop].astype(np.int64)
    # report5: sklearn's train_test_split = ShuffleSplit: permutation by RandomState(seed), the
    # first ceil(test_size * n) are the test part, the rest (in permutation order) the train part.
    seed = 31 if seed is None else seed
    frames = np.arange(1, num_frames)  # the report's population (1-based, stops before the last)
    train, test = _sklearn_split(frames, 0.2, seed)
    train, val = _sklearn_split(train, 0.2, seed)
    return {"train": train, "val": val, "test": test}[split] - 1


def _sklearn_split(values: np.ndarray, test_size: float, seed: int) -> tuple:
    permutation = np.random.RandomState(seed).permutation(len(values))
    n_test = int(np.ceil(test_size * len(values)))
    return values[permutation[n_test:]], values[permutation[:n_test]]


# --- labelled frames ---------------------------------------------------------------------------


def read_labeled_frame(
    mat: object, index: int, depth_key: str = "depths"
) -> tuple[np.ndarray, np.ndarray]:
    """One frame of the labelled ``.mat``, in image orientation.

    Args:
        mat: an open ``h5py.File`` of ``nyu_depth_v2_labeled.mat``.
        index: 0-based frame index.
        depth_key: ``"depths"`` (in-painted) or ``"rawDepths"`` (0 = no measurement).

    Returns:
        ([H, W, 3] uint8 RGB, [H, W] float32 depth in metres), H = 480 and W = 640 in the
        published file.
    """
    image = np.asarray(mat["images"][index])  # [3, W, H]
    depth = np.asarray(mat[depth_key][index], dtype=np.float32)  # [W, H]
    return np.ascontiguousarray(image.transpose(2, 1, 0)), np.ascontiguousarray(depth.T)


@register_dataset("nyu_labeled")
class NyuLabeledDataset(Dataset):
    """The 1449 labelled NYU Depth v2 frames, with a split scheme and border handling.

    Args:
        root: folder holding ``nyu_depth_v2_labeled.mat`` (and ``splits.mat``), or the path of
            the ``.mat`` itself.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"`` (see `split_indices`).
        frame_offsets: must be empty (the labelled frames are not a video; use ``nyu_raw``).
        stereo: must be False (NYU has one camera).
        image_size: (height, width) to resize to after the border handling; None keeps it.
        require_depth: accepted for the common builder signature (every frame has depth).
        augment: training augmentation (`augment_sample`); None = none.
        split_scheme: ``"official"`` (splits.mat, 795 / 654), ``"report2"`` (1049 / 200 /
            200) or ``"report5"`` (0.64 / 0.16 / 0.2).
        split_seed: seed of the random schemes (None: 0 for report2, 31 for report5).
        splits_file: ``splits.mat`` for the official scheme (default: ``ROOT/splits.mat``).
        border: what to do with the white border: ``"keep"`` the full frame, ``"crop"`` the
            frame (image, depth and K) to ``border_box``, or ``"mask"`` the depth outside it
            (set to 0, so losses ignore it). Applies to the splits in ``border_splits`` only.
        border_box: (top, bottom, left, right) in pixels of 480x640; default the Eigen crop.
        border_splits: splits the border handling applies to, by default only ``"train"``:
            evaluation needs full frames because the ``nyu`` protocol applies the Eigen crop
            itself (cropping twice would evaluate a smaller region).
        raw_depth: use ``rawDepths`` (projected Kinect depth, 0 = no measurement) instead of
            the in-painted ``depths``.

    Raises:
        MdkError: a missing or malformed ``.mat``, or a bad option.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        frame_offsets: tuple[int, ...] | list[int] = (),
        stereo: bool = False,
        image_size: tuple[int, int] | None = None,
        require_depth: bool = False,
        augment: AugmentOptions | None = None,
        split_scheme: str = "official",
        split_seed: int | None = None,
        splits_file: str | Path | None = None,
        border: str = "keep",
        border_box: tuple[int, int, int, int] = EIGEN_CROP,
        border_splits: tuple[str, ...] | list[str] = ("train",),
        raw_depth: bool = False,
    ) -> None:
        root = Path(root)
        self.path = root if root.suffix == ".mat" else root / LABELED_FILE
        if any(int(o) != 0 for o in frame_offsets):
            raise MdkError(
                "nyu_labeled: the labelled frames are single images, so there are no context "
                f"frames for frame_offsets {list(frame_offsets)}; use dataset nyu_raw (video)"
            )
        if stereo:
            raise MdkError("nyu_labeled: NYU v2 has no stereo partner; set stereo: false")
        if border not in BORDER_MODES:
            raise MdkError(
                f"nyu_labeled: border {border!r}; expected one of {', '.join(BORDER_MODES)}"
            )
        self.depth_key = "rawDepths" if raw_depth else "depths"
        self.frame_size, count = _inspect_labeled(self.path, self.depth_key)
        self.border_box = _check_box(border_box, self.frame_size)
        self.border = border if split in tuple(border_splits) else "keep"
        self.image_size = tuple(image_size) if image_size is not None else None
        self.augment = augment if augment is not None and augment.enabled else None
        if splits_file is None and split_scheme == "official":
            splits_file = self.path.parent / SPLITS_FILE
        self.indices = split_indices(split_scheme, split, count, split_seed, splits_file)
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= count):
            raise MdkError(
                f"{self.path}: has {count} frames, but split {split!r} of scheme "
                f"{split_scheme!r} refers to frame {int(self.indices.max()) + 1} (1-based); "
                "is the file complete?"
            )
        self._mat = None
        self._mat_pid: int | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict:
        frame = int(self.indices[index])
        image, depth = read_labeled_frame(self._open(), frame, self.depth_key)
        depth = np.nan_to_num(depth, nan=0.0, posinf=0.0, neginf=0.0).clip(min=0.0)
        return build_sample(
            f"nyu_labeled/{frame + 1:04d}",
            image,
            size=self.image_size,
            depth=_mask_outside(depth, self.border_box) if self.border == "mask" else depth,
            K=kinect_intrinsics(self.frame_size),
            crop=self.border_box if self.border == "crop" else None,
            augment=self.augment,
        )

    def _open(self):
        """The h5py file, opened once per process (h5py handles do not survive a fork)."""
        if self._mat is None or self._mat_pid != os.getpid():
            import h5py

            self._mat = h5py.File(self.path, "r")
            self._mat_pid = os.getpid()
        return self._mat

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_mat"], state["_mat_pid"] = None, None
        return state


def export_labeled_to_folder(
    root: str | Path,
    out: str | Path,
    split_scheme: str = "report2",
    split_seed: int | None = None,
    splits_file: str | Path | None = None,
) -> Path:
    """Write the labelled frames in the generic folder format (`monodepthkit.data.io`).

    The report configs (``configs/report2_*_nyu.yaml``, ...) read ``data/nyu_labeled`` in that
    format: ``OUT/nyu/image/NNNN.png`` (1-based frame numbers), ``OUT/nyu/depth/NNNN.png``
    (16-bit millimetres, ``depth_scale`` 1000 in ``OUT/meta.json``), ``OUT/nyu/intrinsics.txt``
    and ``OUT/splits/{train,val,test}.txt``.

    Args:
        root: folder with ``nyu_depth_v2_labeled.mat`` or the ``.mat`` itself.
        out: output folder.
        split_scheme: see `split_indices`.
        split_seed: seed of the random schemes.
        splits_file: ``splits.mat`` for the official scheme.

    Returns:
        ``out``.
    """
    import json

    import h5py

    root, out = Path(root), Path(out)
    path = root if root.suffix == ".mat" else root / LABELED_FILE
    size, count = _inspect_labeled(path, "depths")
    if splits_file is None and split_scheme == "official":
        splits_file = path.parent / SPLITS_FILE
    names = ("train", "test") if split_scheme == "official" else ("train", "val", "test")
    folder = out / "nyu"
    with h5py.File(path, "r") as mat:
        for frame in range(count):
            image, depth = read_labeled_frame(mat, frame)
            write_rgb(folder / "image" / f"{frame + 1:04d}.png", image)
            write_depth_png(folder / "depth" / f"{frame + 1:04d}.png", depth, scale=1000.0)
    write_matrix(folder / "intrinsics.txt", kinect_intrinsics(size))
    (out / "splits").mkdir(parents=True, exist_ok=True)
    for name in names:
        frames = split_indices(split_scheme, name, count, split_seed, splits_file)
        (out / "splits" / f"{name}.txt").write_text("".join(f"nyu {f + 1:04d}\n" for f in frames))
    (out / "meta.json").write_text(json.dumps({"depth_scale": 1000.0, "source": str(path)}))
    return out


def _inspect_labeled(path: Path, depth_key: str) -> tuple[tuple[int, int], int]:
    """((H, W), N) of a labelled .mat, after checking its layout."""
    import h5py

    if not path.is_file():
        raise MdkError(
            f"{path}: file not found; expected {LABELED_FILE} (MATLAB v7.3 / HDF5, from the NYU "
            "Depth v2 website) at ROOT/ or given as ROOT"
        )
    try:
        with h5py.File(path, "r") as mat:
            missing = [key for key in ("images", depth_key) if key not in mat]
            if missing:
                raise MdkError(
                    f"{path}: no '{missing[0]}' array (found: {', '.join(sorted(mat))}); "
                    f"is this {LABELED_FILE}?"
                )
            images, depths = mat["images"].shape, mat[depth_key].shape
    except OSError as exc:
        raise MdkError(
            f"{path}: not an HDF5 file ({exc}); expected the MATLAB v7.3 {LABELED_FILE}"
        ) from None
    if (
        len(images) != 4
        or images[1] != 3
        or len(depths) != 3
        or depths
        != (
            images[0],
            images[2],
            images[3],
        )
    ):
        raise MdkError(
            f"{path}: expected images N x 3 x W x H and {depth_key} N x W x H (MATLAB's "
            f"transposed layout), found {images} and {depths}"
        )
    return (int(images[3]), int(images[2])), int(images[0])


def _check_box(box, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A (top, bottom, left, right) box given at 480x640, scaled to a frame of ``size`` as the
    evaluation protocol scales the Eigen crop (bounds rounded half up), after checking it."""
    try:
        top, bottom, left, right = (float(b) for b in box)
    except (TypeError, ValueError):
        raise MdkError(
            f"nyu: border_box must be [top, bottom, left, right] in pixels, found {box!r}"
        ) from None
    sy, sx = size[0] / NYU_SIZE[0], size[1] / NYU_SIZE[1]
    scaled = tuple(
        int(np.floor(b * s + 0.5)) for b, s in ((top, sy), (bottom, sy), (left, sx), (right, sx))
    )
    if not (0 <= scaled[0] < scaled[1] <= size[0] and 0 <= scaled[2] < scaled[3] <= size[1]):
        raise MdkError(
            f"nyu: border_box {list(box)} (top, bottom, left, right at 480x640) is not a box "
            f"inside the {size[0]}x{size[1]} frame"
        )
    return scaled


# --- raw Kinect frames -------------------------------------------------------------------------


def read_raw_disparity(path: str | Path) -> np.ndarray:
    """Read a raw NYU depth dump (``d-*.pgm``) as Kinect disparity.

    The PGM header says 16-bit (big-endian by the PGM standard), but the Kinect wrote
    little-endian values, so the decoded numbers have their bytes swapped back, as the
    toolbox's ``swapbytes(imread(...))``.

    Args:
        path: 16-bit PGM, 640x480.

    Returns:
        [H, W] uint16 raw disparity in 0..2047; 2047 = no measurement.

    Raises:
        MdkError: a missing, unreadable or non-16-bit file.
    """
    path = Path(path)
    if not path.is_file():
        raise MdkError(f"{path}: raw depth file not found")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.dtype != np.uint16 or raw.ndim != 2:
        found = "a file OpenCV cannot read" if raw is None else f"{raw.dtype} {raw.shape}"
        raise MdkError(f"{path}: expected a 16-bit PGM of Kinect disparity, found {found}")
    return raw.byteswap()


def kinect_disparity_to_depth(
    disparity: np.ndarray, max_depth: float | None = KINECT_MAX_DEPTH
) -> np.ndarray:
    """Raw Kinect disparity to metres: ``351.3 / (1092.5 - d)`` (toolbox ``depth_rel2depth_abs``).

    Args:
        disparity: [H, W] raw disparity (uint16 or float); 2047 = no measurement.
        max_depth: depths beyond it are clamped to it (the toolbox's 10 m); None keeps them.

    Returns:
        [H, W] float32 depth in metres, 0 where there is no measurement (2047, or a disparity
        at or beyond 1092.5, which has no finite positive depth).
    """
    disparity = np.asarray(disparity, dtype=np.float64)
    denominator = 1092.5 - disparity
    valid = (disparity != KINECT_DISPARITY_INVALID) & (denominator > 0)
    depth = np.zeros(disparity.shape, dtype=np.float64)
    depth[valid] = 351.3 / denominator[valid]
    if max_depth is not None:
        np.minimum(depth, max_depth, out=depth)
    return depth.astype(np.float32)


def read_raw_depth(path: str | Path) -> np.ndarray:
    """A raw NYU ``d-*.pgm`` as metres in the depth camera (not registered to the RGB).

    Returns:
        [480, 640] float32 metres, 0 = no measurement.
    """
    return kinect_disparity_to_depth(read_raw_disparity(path))


def undistort_rgb(image: np.ndarray) -> np.ndarray:
    """Remove the Kinect RGB lens distortion (bilinear; outside pixels become 0).

    Args:
        image: [480, 640, 3] uint8 raw RGB frame.

    Returns:
        [480, 640, 3] uint8, the pinhole image of `kinect_intrinsics`.
    """
    map_x, map_y = _undistort_maps("rgb", image.shape[:2])
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def register_depth_to_rgb(disparity: np.ndarray) -> np.ndarray:
    """Re-project a raw Kinect disparity frame into the undistorted RGB camera.

    The toolbox's ``project_depth_map.m``: undistort the disparity (pixels that become < 600
    or that were saturated are dropped), convert to metres, back-project with the depth
    camera's intrinsics, move into the RGB camera, project with the RGB intrinsics (rounded to
    the nearest pixel), and keep the nearest point where several land on one pixel. Unlike the
    toolbox, the value stored is the point's z in the RGB camera (the batch contract's depth;
    they differ by well under 1 cm), and pixel coordinates are 0-based throughout.

    Args:
        disparity: [480, 640] raw disparity from `read_raw_disparity`.

    Returns:
        [480, 640] float32 depth in metres in the RGB camera, 0 = no depth.
    """
    height, width = disparity.shape
    disparity = np.asarray(disparity, dtype=np.float32)
    saturated = (disparity == disparity.max()).astype(np.uint8) * 255
    map_x, map_y = _undistort_maps("depth", (height, width))
    saturated = cv2.remap(saturated, map_x, map_y, cv2.INTER_LINEAR) > 0
    undistorted = cv2.remap(disparity, map_x, map_y, cv2.INTER_LINEAR)
    undistorted[(undistorted < 600) | saturated] = KINECT_DISPARITY_INVALID
    depth = kinect_disparity_to_depth(undistorted).astype(np.float64)
    v, u = np.nonzero(depth > 0)
    z = depth[v, u]
    fx, fy, cx, cy = DEPTH_INTRINSICS
    points = np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z])
    points = np.linalg.inv(np.array(_DEPTH_TO_RGB_M)) @ points - np.array(_DEPTH_TO_RGB_T)[:, None]
    fx, fy, cx, cy = RGB_INTRINSICS
    in_front = points[2] > 0
    points = points[:, in_front]
    u_rgb = np.rint(points[0] * fx / points[2] + cx).astype(np.int64)
    v_rgb = np.rint(points[1] * fy / points[2] + cy).astype(np.int64)
    inside = (u_rgb >= 0) & (u_rgb < width) & (v_rgb >= 0) & (v_rgb < height)
    out = np.full(height * width, np.inf)
    np.minimum.at(out, v_rgb[inside] * width + u_rgb[inside], points[2, inside])
    out[~np.isfinite(out)] = 0.0
    return np.minimum(out, KINECT_MAX_DEPTH).reshape(height, width).astype(np.float32)


@lru_cache(maxsize=4)
def _undistort_maps(camera: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    fx, fy, cx, cy = RGB_INTRINSICS if camera == "rgb" else DEPTH_INTRINSICS
    distortion = np.array(RGB_DISTORTION if camera == "rgb" else DEPTH_DISTORTION)
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    K = scale_intrinsics(K, NYU_SIZE, size)
    return cv2.initUndistortRectifyMap(K, distortion, None, K, size[::-1], cv2.CV_32FC1)


_RAW_NAME = re.compile(r"^([rd])-(\d+(?:\.\d*)?)-(\d+)\.(ppm|pgm)$")


def parse_raw_name(name: str) -> tuple[str, float] | None:
    """("r" or "d", timestamp in seconds) of a raw dump file name, or None for other files.

    ``r-1294886360.208451-2996770081.ppm`` -> ("r", 1294886360.208451): RGB frames are
    ``r-<time>-<counter>.ppm``, depth frames ``d-<time>-<counter>.pgm``.
    """
    match = _RAW_NAME.match(name)
    if match is None or (match.group(1) == "r") != (match.group(4) == "ppm"):
        return None
    return match.group(1), float(match.group(2))


@dataclass
class RawFrame:
    """One RGB frame of a raw scene and the depth frame nearest in time.

    Attributes:
        rgb: path of the ``r-*.ppm`` file.
        time: its timestamp, seconds.
        depth: path of the nearest ``d-*.pgm`` within the tolerance, or None.
        depth_time_diff: |t_depth - t_rgb| in seconds (inf when the scene has no depth).
    """

    rgb: Path
    time: float
    depth: Path | None
    depth_time_diff: float


def sync_scene(folder: str | Path, max_time_diff: float = 0.04) -> list[RawFrame]:
    """Synchronise a raw scene: every RGB frame, in time order, with its nearest depth frame.

    Args:
        folder: scene folder of ``r-*.ppm`` / ``d-*.pgm`` dumps.
        max_time_diff: a depth frame further than this in time (seconds) is not paired.

    Returns:
        The RGB frames sorted by timestamp.
    """
    rgb, depth = [], []
    with os.scandir(folder) as entries:
        for entry in entries:
            parsed = parse_raw_name(entry.name)
            if parsed is not None:
                (rgb if parsed[0] == "r" else depth).append((parsed[1], entry.name))
    rgb.sort()
    depth.sort()
    folder = Path(folder)
    depth_times = np.array([t for t, _ in depth])
    frames = []
    for time, name in rgb:
        nearest, diff = None, float("inf")
        if len(depth):
            position = int(np.searchsorted(depth_times, time))
            candidates = [p for p in (position - 1, position) if 0 <= p < len(depth)]
            best = min(candidates, key=lambda p: abs(depth_times[p] - time))
            diff = abs(float(depth_times[best]) - time)
            if diff <= max_time_diff:
                nearest = folder / depth[best][1]
        frames.append(RawFrame(folder / name, time, nearest, diff))
    return frames


def find_raw_scenes(root: str | Path) -> list[Path]:
    """Scene folders under ``root`` (its sub-folders holding ``r-*.ppm``, or ``root`` itself)."""
    root = Path(root)
    if _has_raw_frames(root):
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and _has_raw_frames(p))


def _has_raw_frames(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return any(e.name.startswith("r-") and e.name.endswith(".ppm") for e in entries)


@register_dataset("nyu_raw")
class NyuRawDataset(Dataset):
    """Raw NYU Depth v2 video: RGB frames with context frames and optional registered depth.

    Args:
        root: folder of scene folders (``ROOT/bedroom_0001/r-*.ppm``), or one scene folder.
        split: ``"all"``, or ``ROOT/splits/SPLIT.txt`` with one ``SCENE`` (every frame of it) or
            ``SCENE r-<time>-<counter>.ppm`` (one frame) per line.
        frame_offsets: context frames, e.g. ``(-1, 1)`` for triplets; offset k loads the RGB
            frame k * ``frame_stride`` positions away in time order. Frames without every
            neighbour (scene ends) are skipped.
        stereo: must be False.
        image_size: (height, width) to resize to; None keeps 480x640 (or the crop).
        require_depth: load depth, registered to the RGB camera, and skip frames without a
            depth frame within ``max_time_diff``.
        augment: training augmentation (`augment_sample`); None = none.
        frame_stride: RGB frames between consecutive context frames (the Kinect runs at about
            30 Hz, so 1 is a very small baseline).
        max_time_diff: largest RGB-depth time difference (seconds) that counts as in sync.
        max_frame_gap: skip samples whose context frames are more than this many seconds from
            the target (recording pauses); None = no limit.
        undistort: remove the RGB lens distortion so that `kinect_intrinsics` holds (the
            toolbox does the same); False gives the raw, distorted frames.
        load_depth: load registered depth even when ``require_depth`` is False; frames without
            synced depth then get an all-zero depth map.
        border: ``"keep"``, ``"crop"`` or ``"mask"`` as for ``nyu_labeled``; undistortion
            leaves a black border.
        border_box: (top, bottom, left, right) in pixels of 480x640 (default: the Eigen crop).

    Raises:
        MdkError: a missing root, no scene folder, bad split lines or options.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "all",
        frame_offsets: tuple[int, ...] | list[int] = (),
        stereo: bool = False,
        image_size: tuple[int, int] | None = None,
        require_depth: bool = False,
        augment: AugmentOptions | None = None,
        frame_stride: int = 1,
        max_time_diff: float = 0.04,
        max_frame_gap: float | None = None,
        undistort: bool = True,
        load_depth: bool = False,
        border: str = "keep",
        border_box: tuple[int, int, int, int] = EIGEN_CROP,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise MdkError(
                f"{self.root}: NYU raw folder not found; expected ROOT/SCENE/r-<time>-<n>.ppm "
                "and d-<time>-<n>.pgm (the unzipped raw dumps, one folder per scene)"
            )
        if stereo:
            raise MdkError("nyu_raw: NYU v2 has no stereo partner; set stereo: false")
        if frame_stride < 1:
            raise MdkError(f"nyu_raw: frame_stride must be >= 1, found {frame_stride}")
        if border not in BORDER_MODES:
            raise MdkError(f"nyu_raw: border {border!r}; expected one of {BORDER_MODES}")
        self.frame_offsets = tuple(int(o) for o in frame_offsets if int(o) != 0)
        self.frame_stride = int(frame_stride)
        self.image_size = tuple(image_size) if image_size is not None else None
        self.augment = augment if augment is not None and augment.enabled else None
        self.undistort = undistort
        self.load_depth = load_depth or require_depth
        self.border = border
        self.border_box = _check_box(border_box, NYU_SIZE)
        scenes = find_raw_scenes(self.root)
        if not scenes:
            raise MdkError(
                f"{self.root}: no scene folder with r-<time>-<n>.ppm frames; expected "
                "ROOT/SCENE/r-*.ppm + d-*.pgm (NYU raw dumps) or a scene folder as ROOT"
            )
        self.scenes = {p.name: sync_scene(p, max_time_diff) for p in scenes}
        wanted = _read_raw_split(self.root, split, self.scenes)
        self.samples: list[tuple[str, int]] = []
        for name, position in wanted:
            frames = self.scenes[name]
            neighbours = [position + o * self.frame_stride for o in self.frame_offsets]
            if any(not 0 <= n < len(frames) for n in neighbours):
                continue
            if max_frame_gap is not None and any(
                abs(frames[n].time - frames[position].time) > max_frame_gap for n in neighbours
            ):
                continue
            if require_depth and frames[position].depth is None:
                continue
            self.samples.append((name, position))
        if not self.samples:
            raise MdkError(
                f"{self.root}: split {split!r} has no usable frame (offsets "
                f"{self.frame_offsets} x stride {self.frame_stride} need neighbours"
                + (", and require_depth needs a synced depth frame" if require_depth else "")
                + ")"
            )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        name, position = self.samples[index]
        frames = self.scenes[name]
        frame = frames[position]
        depth = None
        if self.load_depth:
            if frame.depth is None:
                depth = np.zeros(NYU_SIZE, dtype=np.float32)
            else:
                depth = register_depth_to_rgb(read_raw_disparity(frame.depth))
            if self.border == "mask":
                depth = _mask_outside(depth, self.border_box)
        return build_sample(
            f"{name}/{frame.rgb.stem}",
            self._image(frame.rgb),
            size=self.image_size,
            depth=depth,
            K=_kinect_matrix(),
            crop=self.border_box if self.border == "crop" else None,
            context={
                offset: ContextFrame(self._image(frames[position + offset * self.frame_stride].rgb))
                for offset in self.frame_offsets
            },
            augment=self.augment,
        )

    def _image(self, path: Path) -> np.ndarray:
        """[480, 640, 3] uint8 RGB frame, undistorted unless ``undistort`` is False."""
        image = read_rgb(path)
        if image.shape[:2] != NYU_SIZE:
            raise MdkError(
                f"{path}: expected a 640x480 Kinect frame, found {image.shape[1]}x{image.shape[0]}"
            )
        return undistort_rgb(image) if self.undistort else image


def _mask_outside(depth: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, bottom, left, right = box
    masked = np.zeros_like(depth)
    masked[top:bottom, left:right] = depth[top:bottom, left:right]
    return masked


def _read_raw_split(
    root: Path, split: str, scenes: dict[str, list[RawFrame]]
) -> list[tuple[str, int]]:
    if split == "all":
        return [(name, i) for name, frames in scenes.items() for i in range(len(frames))]
    path = root / "splits" / f"{split}.txt"
    if not path.is_file():
        raise MdkError(
            f"{path}: split file not found; write one 'SCENE' or 'SCENE r-<time>-<n>.ppm' line "
            "per entry, or use split 'all'"
        )
    positions = {
        name: {frame.rgb.name: i for i, frame in enumerate(frames)}
        for name, frames in scenes.items()
    }
    entries, missing = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 2:
            raise MdkError(f"{path}:{number}: expected 'SCENE [FRAME]', found '{line.strip()}'")
        name = parts[0]
        if name not in scenes:
            missing.append(line.strip())
            continue
        if len(parts) == 1:
            entries += [(name, i) for i in range(len(scenes[name]))]
            continue
        frame = parts[1] if parts[1].endswith(".ppm") else f"{parts[1]}.ppm"
        if frame not in positions[name]:
            missing.append(line.strip())
            continue
        entries.append((name, positions[name][frame]))
    if missing:
        raise MdkError(
            f"{path}: {len(missing)} entries have no frames under {root} (first: "
            f"{'; '.join(missing[:3])})"
        )
    return entries
