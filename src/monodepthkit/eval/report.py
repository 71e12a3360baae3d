"""Accumulating per-image results, writing them, and comparing methods in a table.

`DepthEvaluator` averages the metrics over images (each image weighs the same, whatever its
number of valid pixels, as in Monodepth2). `evaluate_folders` evaluates a folder of predictions
against a folder of ground truth with the same file stems; `evaluate_saved_predictions` a tree
of predictions against named ground truth (a ``kitti-gt`` .npz, or a dataset's frames).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from monodepthkit.data.io import DEPTH_SCALE, read_depth_png
from monodepthkit.errors import MdkError
from monodepthkit.eval.metrics import HIGHER_IS_BETTER, METRIC_KEYS
from monodepthkit.eval.modes import ALIGN_MODES, PREDICTION_KINDS
from monodepthkit.eval.protocol import Protocol, evaluate_image, get_protocol

METRICS_FILE = "metrics.json"
# Colour views `mdk predict` writes next to the values; they are not predictions.
_VIEW_SUFFIXES = ("_color", "_side_by_side")
# A KITTI raw sample name: DRIVE/FRAME, "_r" for the right camera.
_KITTI_NAME = re.compile(
    r"(?P<drive>\d{4}_\d{2}_\d{2}_drive_\d{4}_sync)/(?P<frame>\d{10})(?P<right>_r)?"
)
PER_IMAGE_FILE = "per_image.csv"
DEPTH_FILE_SUFFIXES = (".npy", ".png")

_METRIC_TITLES = {
    "abs_rel": "AbsRel",
    "sq_rel": "SqRel",
    "rmse": "RMSE",
    "rmse_log": "RMSElog",
    "log10": "log10",
    "silog": "SILog",
    "d1": "δ<1.25",
    "d2": "δ<1.25²",
    "d3": "δ<1.25³",
}


class DepthEvaluator:
    """Evaluate images one by one and average the metrics over images.

    Images without any valid pixel after masking are skipped (no NaN) and listed in `skipped`.

    Args:
        protocol: a `Protocol` or a protocol name (``kitti``, ``nyu``, ``none``).
        align: alignment mode, one of `monodepthkit.eval.ALIGN_MODES`.
        scale: fixed factor applied to predicted depth before alignment (5.4 for Monodepth2
            stereo models).
        kind: ``"depth"`` (metres) or ``"disparity"`` predictions.

    Attributes:
        per_image: one row per evaluated image: ``{"name": ..., <nine metrics>}``, in add order.
        skipped: names of the images that had no valid pixel.
    """

    def __init__(
        self,
        protocol: Protocol | str,
        align: str = "none",
        scale: float = 1.0,
        kind: str = "depth",
    ) -> None:
        self.protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
        for value, choices, label in (
            (align, ALIGN_MODES, "alignment mode"),
            (kind, PREDICTION_KINDS, "prediction kind"),
        ):
            if value not in choices:
                raise MdkError(f"unknown {label} {value!r}; expected one of {', '.join(choices)}")
        if not (math.isfinite(scale) and scale > 0):
            raise MdkError(f"expected a finite prediction scale factor > 0, found {scale!r}")
        self.align = align
        self.scale = float(scale)
        self.kind = kind
        self.per_image: list[dict[str, Any]] = []
        self.skipped: list[str] = []
        self._names: set[str] = set()

    @property
    def count(self) -> int:
        """Number of evaluated (not skipped) images."""
        return len(self.per_image)

    def add(self, name: str, pred: Any, gt: Any) -> dict[str, float]:
        """Evaluate one image and record it.

        Args:
            name: unique image name (the CSV row label).
            pred: [h, w] prediction (depth in metres or disparity, any size); numpy or torch.
            gt: [H, W] ground-truth depth in metres, 0 = no ground truth.

        Returns:
            The image's nine metrics, or ``{}`` when it had no valid pixel (then it is skipped).

        Raises:
            MdkError: a name that was already added, or an invalid prediction.
        """
        if name in self._names:
            raise MdkError(
                f"image {name!r} was already evaluated; give every image a unique name "
                f"(e.g. include the sequence)"
            )
        metrics = evaluate_image(pred, gt, self.protocol, self.align, self.scale, self.kind)
        self._names.add(name)
        if metrics:
            self.per_image.append({"name": name, **metrics})
        else:
            self.skipped.append(name)
        return metrics

    def summary(self) -> dict[str, float]:
        """Per-image metrics averaged over the evaluated images.

        Returns:
            The nine metric means, plus ``count`` (evaluated images) and ``skipped`` (images
            without a valid pixel).

        Raises:
            MdkError: no image has been evaluated.
        """
        if not self.per_image:
            raise MdkError(
                f"no image evaluated yet ({len(self.skipped)} skipped without a valid pixel "
                f"under protocol {self.protocol.name!r}); add images with ground truth in "
                f"({self.protocol.min_depth:g}, {self.protocol.max_depth:g}) m"
            )
        means: dict[str, float] = {
            key: float(np.mean([row[key] for row in self.per_image])) for key in METRIC_KEYS
        }
        means["count"] = self.count
        means["skipped"] = len(self.skipped)
        return means

    def write(self, out_dir: str | Path) -> Path:
        """Write ``metrics.json`` and ``per_image.csv`` into a folder (created if needed).

        ``metrics.json`` holds the nine metric means, ``count``, ``skipped`` (a count),
        ``skipped_images`` (names), ``protocol``, ``min_depth``, ``max_depth`` (metres; ``null``
        when there is no upper cap), ``crop``, ``align``, ``scale`` and ``kind``.
        ``per_image.csv`` has a header ``name,abs_rel,...,d3`` and one row per evaluated image.

        Args:
            out_dir: output folder.

        Returns:
            The path of ``metrics.json``.
        """
        summary = self.summary()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        max_depth = self.protocol.max_depth
        record = {
            **summary,
            "skipped_images": list(self.skipped),
            "protocol": self.protocol.name,
            "min_depth": self.protocol.min_depth,
            "max_depth": max_depth if math.isfinite(max_depth) else None,
            "crop": self.protocol.crop,
            "align": self.align,
            "scale": self.scale,
            "kind": self.kind,
        }
        metrics_path = out_dir / METRICS_FILE
        metrics_path.write_text(json.dumps(record, indent=2) + "\n")
        with (out_dir / PER_IMAGE_FILE).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", *METRIC_KEYS])
            for row in self.per_image:
                writer.writerow([row["name"], *(repr(row[key]) for key in METRIC_KEYS)])
        return metrics_path


def markdown_table(rows: dict[str, dict[str, float]]) -> str:
    """A Markdown table comparing methods on the nine metrics (3 decimals).

    Args:
        rows: ``{method name: metrics}``, e.g. ``{"U-Net": evaluator.summary()}``; extra keys are
            ignored and a missing metric is shown as ``–``.

    Returns:
        The table, one row per method in the given order, the header marking lower-is-better
        (↓) and higher-is-better (↑) metrics; ends with a newline.
    """
    titles = [
        f"{_METRIC_TITLES[key]} {'↑' if key in HIGHER_IS_BETTER else '↓'}" for key in METRIC_KEYS
    ]
    lines = [
        "| method | " + " | ".join(titles) + " |",
        "|:--|" + "--:|" * len(METRIC_KEYS),
    ]
    for method, metrics in rows.items():
        cells = [f"{metrics[key]:.3f}" if key in metrics else "–" for key in METRIC_KEYS]
        lines.append(f"| {method.replace('|', '/')} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def evaluate_folders(
    pred_dir: str | Path,
    gt_dir: str | Path,
    protocol: Protocol | str,
    align: str = "none",
    scale: float = 1.0,
    kind: str = "depth",
    depth_scale: float = DEPTH_SCALE,
) -> DepthEvaluator:
    """Evaluate a folder of predictions against a folder of ground truth.

    Files are matched by stem (``000001.npy`` with ``000001.png`` is fine). Each file is either
    ``.npy`` (float, [H, W] or [1, H, W]; metres, or disparity with ``kind="disparity"``) or a
    16-bit ``.png`` storing ``value * depth_scale``. Ground truth uses 0 for no depth. Every
    ground-truth stem needs a prediction; extra predictions are ignored. Sub-folders and hidden
    files (``.name``) are ignored; any other file must be a depth map. Images are evaluated in
    sorted stem order.

    Args:
        pred_dir: folder of predictions.
        gt_dir: folder of ground-truth depth maps.
        protocol: a `Protocol` or a protocol name.
        align: alignment mode (see `DepthEvaluator`).
        scale: fixed factor applied to predicted depth before alignment.
        kind: ``"depth"`` or ``"disparity"``.
        depth_scale: PNG value per metre (256 for KITTI, 1000 for millimetres).

    Returns:
        The filled `DepthEvaluator` (call ``summary()`` or ``write(out_dir)``).

    Raises:
        MdkError: a missing or empty folder, a file that is not a readable depth map, a
            ground-truth stem without a prediction, or no valid pixel in any image.
    """
    evaluator = DepthEvaluator(protocol, align=align, scale=scale, kind=kind)
    pred_files = _list_depth_files(Path(pred_dir), "prediction")
    gt_files = _list_depth_files(Path(gt_dir), "ground-truth")
    missing = [stem for stem in sorted(gt_files) if stem not in pred_files]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise MdkError(
            f"{gt_files[missing[0]]}: no prediction {missing[0]}.npy or {missing[0]}.png in "
            f"{pred_dir}{more}; predict every ground-truth image or remove the extra ones"
        )
    for stem in sorted(gt_files):
        pred_path = pred_files[stem]
        pred = _read_depth_file(pred_path, depth_scale)
        gt = _read_depth_file(gt_files[stem], depth_scale)
        try:
            evaluator.add(stem, pred, gt)
        except MdkError as exc:
            raise MdkError(f"{pred_path}: {exc}") from None
    if evaluator.count == 0:
        prot = evaluator.protocol
        raise MdkError(
            f"{gt_dir}: none of the {len(evaluator.skipped)} ground-truth maps has a pixel in "
            f"({prot.min_depth:g}, {prot.max_depth:g}) m inside crop {prot.crop}; check "
            f"depth_scale ({depth_scale:g} per metre) and the protocol's depth range"
        )
    return evaluator


def evaluate_saved_predictions(
    pred_dir: str | Path,
    ground_truth: Iterable[tuple[str, Any]],
    protocol: Protocol | str,
    align: str = "none",
    scale: float = 1.0,
    kind: str = "depth",
    depth_scale: float = DEPTH_SCALE,
) -> DepthEvaluator:
    """Evaluate a tree of saved predictions against named ground truth (in its order).

    Predictions are ``.npy`` files (or 16-bit ``.png``, ``value * depth_scale``) anywhere under
    ``pred_dir``; ``NAME_color.png`` / ``NAME_side_by_side.png`` views of `mdk predict` are
    ignored and a ``.npy`` wins over a ``.png`` of the same name. The prediction of a
    ground-truth name is found by `find_prediction`: ``pred_dir/NAME.npy`` itself (what
    ``mdk eval --save-pred`` writes), the KITTI raw image path of a ``DRIVE/FRAME`` name (what
    ``mdk predict KITTI_ROOT`` writes: ``DATE/DRIVE/image_02/data/FRAME.npy``), or the one
    file whose path holds the name's folders in order and ends with its last part.

    Args:
        pred_dir: folder of predictions (searched recursively).
        ground_truth: ``(name, [H, W] metres)`` pairs, e.g. from a ``kitti-gt`` .npz.
        protocol: a `Protocol` or a protocol name.
        align: alignment mode (see `DepthEvaluator`).
        scale: fixed factor applied to predicted depth before alignment.
        kind: ``"depth"`` or ``"disparity"``.
        depth_scale: PNG value per metre of prediction PNGs.

    Returns:
        The filled `DepthEvaluator`.

    Raises:
        MdkError: a missing folder, a name without (or with two) predictions, bad files.
    """
    evaluator = DepthEvaluator(protocol, align=align, scale=scale, kind=kind)
    index = PredictionIndex(pred_dir)
    for name, gt in ground_truth:
        path = index.find(name)
        try:
            evaluator.add(name, _read_depth_file(path, depth_scale), gt)
        except MdkError as exc:
            raise MdkError(f"{path}: {exc}") from None
    if evaluator.count == 0:
        raise MdkError(
            f"{pred_dir}: no image had a ground-truth pixel inside the protocol's range and "
            "crop; check the ground truth and --protocol"
        )
    return evaluator


class PredictionIndex:
    """The prediction files under a folder, looked up by sample name (see `find`).

    Args:
        folder: root of the predictions (searched recursively).

    Raises:
        MdkError: a missing folder, or one without any ``.npy`` / ``.png`` prediction.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise MdkError(f"{self.folder}: prediction folder not found; pass an existing folder")
        self.files: dict[str, Path] = {}
        for path in sorted(self.folder.rglob("*")):
            suffix = path.suffix.lower()
            if path.is_dir() or path.name.startswith(".") or suffix not in DEPTH_FILE_SUFFIXES:
                continue
            if suffix == ".png" and path.stem.endswith(_VIEW_SUFFIXES):
                continue
            key = path.relative_to(self.folder).with_suffix("").as_posix()
            if key not in self.files or suffix == ".npy":
                self.files[key] = path
        if not self.files:
            raise MdkError(
                f"{self.folder}: no predictions (.npy or 16-bit .png) found; write them with "
                "`mdk predict --format npy` or `mdk eval --save-pred`"
            )
        self._by_stem: dict[str, list[str]] = {}
        for key in self.files:
            self._by_stem.setdefault(key.rsplit("/", 1)[-1], []).append(key)

    def find(self, name: str) -> Path:
        """The prediction file of a sample name.

        Tried in order: the file ``NAME`` itself; for a KITTI ``DRIVE/FRAME`` (``_r``: right
        camera) name, the file ending in ``DRIVE/image_02/data/FRAME`` (``image_03``); else the
        only file whose stem is the name's last part and whose folders include the name's
        folders in order.

        Raises:
            MdkError: no such file, or two candidates.
        """
        if name in self.files:
            return self.files[name]
        kitti = _KITTI_NAME.fullmatch(name)
        if kitti:
            camera = 3 if kitti["right"] else 2
            tail = f"{kitti['drive']}/image_0{camera}/data/{kitti['frame']}"
            candidates = [k for k in self.files if k == tail or k.endswith("/" + tail)]
        else:
            *folders, stem = name.split("/")
            candidates = [
                key
                for key in self._by_stem.get(stem, [])
                if _in_order(folders, key.split("/")[:-1])
            ]
        if len(candidates) == 1:
            return self.files[candidates[0]]
        if not candidates:
            raise MdkError(
                f"{self.folder}: no prediction for image {name!r} (looked for {name}.npy"
                + (f" and .../{tail}.npy" if kitti else "")
                + "); predict the dataset root so file paths keep the sequence, e.g. "
                "`mdk predict ROOT --format npy --out DIR`"
            )
        raise MdkError(
            f"{self.folder}: two predictions match image {name!r}: {candidates[0]} and "
            f"{candidates[1]}; keep one, or write them as NAME.npy (`mdk eval --save-pred`)"
        )


def _in_order(wanted: list[str], parts: list[str]) -> bool:
    """Whether ``wanted`` is a subsequence of ``parts``."""
    remaining = iter(parts)
    return all(part in remaining for part in wanted)


def _list_depth_files(folder: Path, label: str) -> dict[str, Path]:
    """Map stem -> path of the depth files in a folder (non-recursive)."""
    if not folder.is_dir():
        raise MdkError(f"{folder}: {label} folder not found; pass an existing folder")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_dir() or path.name.startswith("."):
            continue
        if path.suffix.lower() not in DEPTH_FILE_SUFFIXES:
            raise MdkError(
                f"{path}: expected a depth map (.npy float or 16-bit .png) in the {label} "
                f"folder, found a '{path.suffix}' file; move it out of the folder"
            )
        if path.stem in files:
            raise MdkError(
                f"{path}: two {label} files share the stem {path.stem!r} "
                f"({files[path.stem].name} and {path.name}); keep one"
            )
        files[path.stem] = path
    if not files:
        raise MdkError(f"{folder}: no depth maps (.npy or 16-bit .png) in the {label} folder")
    return files


def _read_depth_file(path: Path, depth_scale: float) -> np.ndarray:
    """Read a .npy or 16-bit .png map as [H, W] float64 (PNG values divided by depth_scale)."""
    if path.suffix.lower() == ".png":
        return read_depth_png(path, depth_scale).astype(np.float64)
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise MdkError(
            f"{path}: expected a numpy .npy array, found an unreadable file ({exc})"
        ) from None
    if not isinstance(values, np.ndarray) or not (
        np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)
    ):
        raise MdkError(
            f"{path}: expected a float array of depth in metres, found dtype "
            f"{getattr(values, 'dtype', type(values).__name__)}"
        )
    while values.ndim > 2 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 2:
        raise MdkError(f"{path}: expected a [H, W] or [1, H, W] array, found shape {values.shape}")
    return values.astype(np.float64)
