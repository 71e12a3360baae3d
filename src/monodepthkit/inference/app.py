"""The `mdk serve` demo page: depth from an uploaded image, a webcam frame or a short video.

`build_app` makes a Gradio Blocks page around any ``predict_fn`` that maps an image
[H, W, 3] uint8 RGB to a map [H, W] float32 (depth in metres, or relative disparity);
`mdk serve` wires it to a checkpoint through `monodepthkit.inference.predictor.Predictor`.
The page shows the colourised depth and a 3D point cloud, and offers the depth as a 16-bit PNG
and a ``.npy`` file and the point cloud as ``.ply`` (the writers of
`monodepthkit.inference.writers`). Uploads are checked before decoding (file size, image
header, pixel count) and bad ones are refused with a message while the server keeps serving.
Analytics and sharing are off: the page makes no request outside the machine it serves from.

Everything the page computes is in `DepthService`, whose methods take the uploaded file and
return file paths, so that it is testable without a browser. Gradio and the writers (which
import torch) are imported inside the functions that use them, so that building the `mdk`
argument parser does not load them.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import itertools
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from monodepthkit.data.io import intrinsics_from_fov
from monodepthkit.errors import MdkError
from monodepthkit.eval.modes import PREDICTION_KINDS

PredictFn = Callable[[np.ndarray], np.ndarray]
IntrinsicsFn = Callable[[int, int], np.ndarray]

DEFAULT_FOV_DEG = 60.0
# Environment that keeps Gradio from calling home (analytics, version check, telemetry).
QUIET_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_RUN_HISTORY": "False",
}
COLOR_MAP = "magma"


@dataclass(frozen=True)
class UploadLimits:
    """What the page accepts.

    Attributes:
        max_pixels: largest image (or video frame) area, width x height.
        max_mb: largest uploaded file in megabytes (10^6 bytes), image or video.
        max_video_frames: frames processed from a video; later ones are dropped.
        max_video_seconds: seconds of video processed (at the file's frame rate).
        max_points: points in the 3D view; the depth is subsampled on a regular grid above it.
    """

    max_pixels: int = 16_000_000
    max_mb: float = 20.0
    max_video_frames: int = 300
    max_video_seconds: float = 20.0
    max_points: int = 250_000

    def __post_init__(self) -> None:
        for name in ("max_pixels", "max_mb", "max_video_frames", "max_video_seconds", "max_points"):
            if not getattr(self, name) > 0:
                raise MdkError(f"serve: --{name.replace('_', '-')} must be positive")


class UploadRejectedError(MdkError):
    """An upload the page refuses (not an image, too large); the message is shown to the user."""


class DepthService:
    """The computations behind the page: checks, prediction and the files shown or offered.

    Args:
        predict_fn: image [H, W, 3] uint8 RGB -> [H, W] float32 depth in metres (or relative
            disparity when ``output_kind == "disparity"``).
        output_kind: ``"depth"`` (metric) or ``"disparity"`` (relative inverse depth).
        intrinsics_fn: (height, width) -> [3, 3] K in pixels of that size, or None when the
            model has no camera; without it (or when it gives None) a pinhole camera with
            ``fov_deg`` horizontal field of view is used.
        fov_deg: horizontal field of view in degrees used without ``intrinsics_fn``.
        limits: upload limits.
        work_dir: where result files are written (default: a new temporary folder).
        keep_seconds: result folders older than this are deleted on later requests.
    """

    def __init__(
        self,
        predict_fn: PredictFn,
        *,
        output_kind: str = "depth",
        intrinsics_fn: IntrinsicsFn | None = None,
        fov_deg: float = DEFAULT_FOV_DEG,
        limits: UploadLimits | None = None,
        work_dir: str | Path | None = None,
        keep_seconds: float = 3600.0,
    ) -> None:
        if output_kind not in PREDICTION_KINDS:
            raise MdkError(
                f"output_kind: expected one of {PREDICTION_KINDS}, found {output_kind!r}"
            )
        self.predict_fn = predict_fn
        self.output_kind = output_kind
        self.fov_deg = float(fov_deg)
        intrinsics_from_fov(self.fov_deg, (2, 2))  # validates the field of view now
        self.intrinsics_fn = intrinsics_fn
        self.limits = limits or UploadLimits()
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="mdk-serve-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.keep_seconds = keep_seconds

    # --- images -----------------------------------------------------------------------------

    def predict_image(self, upload: Any) -> tuple[str, str, list[str], str]:
        """Predict the depth of an uploaded image and write what the page shows.

        Args:
            upload: the uploaded file: a path, or Gradio's file payload (a dict with ``path``,
                or ``url`` holding a ``data:`` URL for webcam frames).

        Returns:
            (colourised depth PNG, point cloud for the 3D view, [16-bit PNG, ``.npy``, ``.ply``]
            to download, a markdown summary).

        Raises:
            UploadRejectedError: nothing uploaded, not an image, or above the size limits.
        """
        from monodepthkit.inference.writers import (
            colorize,
            disparity_to_depth,
            write_color,
            write_npy,
            write_ply,
            write_png16,
        )

        path = self._upload_path(upload)
        image = self.read_image(path)
        values = self._predict(image)
        out = self._result_dir()
        stem = _safe_stem(upload, default="image")
        near_is_high = self.output_kind == "disparity"
        colour_path = write_color(
            out / f"{stem}_{self.output_kind}_color.png",
            colorize(values, COLOR_MAP, near_is_high=near_is_high),
        )
        depth = values if self.output_kind == "depth" else disparity_to_depth(values)
        height, width = depth.shape
        K = self.intrinsics(height, width)
        stride = point_stride(height, width, self.limits.max_points)
        view_path = out / f"{stem}_view.ply"
        write_view_ply(view_path, depth, K, image, stride=stride)
        downloads = [
            write_png16(out / f"{stem}_{self.output_kind}.png", values),
            write_npy(out / f"{stem}_{self.output_kind}.npy", values),
            write_ply(out / f"{stem}_points.ply", depth, K, image),
        ]
        summary = self._summary(values, K, stride)
        return str(colour_path), str(view_path), [str(p) for p in downloads], summary

    def read_image(self, path: Path) -> np.ndarray:
        """Check an uploaded file and decode it as RGB.

        The file size and the pixel count (read from the header) are checked before the image
        is decoded, so that oversized or hostile files cost nothing.

        Returns:
            [H, W, 3] uint8 RGB, EXIF orientation applied.

        Raises:
            UploadRejectedError: too large, not an image, or too many pixels.
        """
        self._check_file_size(path, "image")
        try:
            with Image.open(path) as opened:
                width, height = opened.size
                self._check_pixels(width, height, "image")
                opened.load()
                image = ImageOps.exif_transpose(opened).convert("RGB")
        except Image.DecompressionBombError:
            raise UploadRejectedError(
                f"{path.name}: image has too many pixels (--max-pixels is "
                f"{self.limits.max_pixels}); resize it first"
            ) from None
        except (UnidentifiedImageError, OSError, ValueError):
            raise UploadRejectedError(
                f"{path.name}: not an image this page can read; "
                "upload a PNG, JPEG, WebP or BMP file"
            ) from None
        return np.asarray(image)

    def intrinsics(self, height: int, width: int) -> np.ndarray:
        """[3, 3] K in pixels for an image of this size (the model's, else the default FOV)."""
        K = None if self.intrinsics_fn is None else self.intrinsics_fn(height, width)
        if K is not None:
            K = np.asarray(K, dtype=np.float64)
            if K.shape != (3, 3):
                raise MdkError(f"intrinsics: expected a 3x3 matrix, found shape {K.shape}")
            return K
        return intrinsics_from_fov(self.fov_deg, (height, width))

    # --- videos -----------------------------------------------------------------------------

    def predict_video(
        self, upload: Any, progress: Callable[[float], Any] | None = None
    ) -> tuple[str, str]:
        """Predict depth frame by frame and write a colourised depth video.

        Frames are read, predicted and written one at a time, up to ``max_video_frames`` and
        ``max_video_seconds``. The colour range follows the frames smoothly (`SmoothedRange`)
        so that colours do not flicker. The video is VP8 WebM (or MP4 where OpenCV has no VP8),
        which browsers play without conversion.

        Args:
            upload: the uploaded video (path or Gradio file payload).
            progress: optional callback with the fraction done.

        Returns:
            (depth video file, markdown summary).

        Raises:
            UploadRejectedError: nothing uploaded, not a video, or frames too large.
        """
        from monodepthkit.inference.video import (
            BROWSER_CODECS,
            VideoWriter,
            colorized_predictions,
            read_frames,
            video_info,
        )

        path = self._upload_path(upload)
        self._check_file_size(path, "video")
        fps, total = video_info(path)
        limit = min(self.limits.max_video_frames, max(1, int(self.limits.max_video_seconds * fps)))
        frames = read_frames(path)
        out_stem = self._result_dir() / f"{_safe_stem(upload, default='video')}_depth"
        try:
            with VideoWriter(out_stem, fps, codecs=BROWSER_CODECS) as writer:
                for _, _, colours in colorized_predictions(
                    self._checked_frames(frames, limit),
                    lambda batch: [self._predict(frame) for frame in batch],
                    near_is_high=self.output_kind == "disparity",
                    cmap=COLOR_MAP,
                ):
                    writer.write(colours)
                    if progress is not None:
                        progress(writer.frames / min(limit, total or limit))
        except UploadRejectedError:
            raise
        except MdkError:
            raise UploadRejectedError(
                f"{path.name}: not a video this page can read; upload an MP4, WebM, AVI or MOV file"
            ) from None
        finally:
            frames.close()  # releases the capture when stopping early
        count, out_path = writer.frames, writer.path
        height, width = colours.shape[:2]
        summary = f"**{count} frames** at {width}x{height}, {fps:g} fps."
        if total > count:
            summary += (
                f" Stopped after {count} of {total} frames (limits: "
                f"{self.limits.max_video_frames} frames, {self.limits.max_video_seconds:g} s)."
            )
        return str(out_path), summary

    # --- helpers ----------------------------------------------------------------------------

    def _checked_frames(self, frames: Iterator[np.ndarray], limit: int) -> Iterator[np.ndarray]:
        """The first ``limit`` frames, the first one checked against the pixel limit."""
        for index, frame in enumerate(itertools.islice(frames, limit)):
            if index == 0:
                self._check_pixels(frame.shape[1], frame.shape[0], "video frame")
            yield frame

    def _predict(self, image: np.ndarray) -> np.ndarray:
        prediction = np.asarray(self.predict_fn(image), dtype=np.float32)
        if prediction.ndim == 3 and prediction.shape[0] == 1:
            prediction = prediction[0]
        if prediction.shape != image.shape[:2]:
            raise MdkError(
                f"predict_fn returned shape {prediction.shape}; expected {image.shape[:2]}, "
                "the size of the input image"
            )
        return prediction

    def _upload_path(self, upload: Any) -> Path:
        """The local file of a Gradio upload payload, a path or a ``data:`` URL."""
        if upload is None:
            raise UploadRejectedError("nothing uploaded: choose a file (or take a webcam picture)")
        if isinstance(upload, dict):
            if upload.get("path"):
                return Path(upload["path"])
            url = upload.get("url") or ""
            if url.startswith("data:"):
                return self._save_data_url(url)
            raise UploadRejectedError("the upload holds no file; upload it again")
        return Path(upload)

    def _save_data_url(self, url: str) -> Path:
        header, _, data = url.partition(",")
        # Base64 grows data by 4/3: refuse before decoding what would exceed the limit.
        if len(data) * 3 / 4 > self.limits.max_mb * 1e6:
            raise UploadRejectedError(
                f"upload is larger than the limit of {self.limits.max_mb:g} MB (--max-mb)"
            )
        try:
            payload = base64.b64decode(data, validate=False) if ";base64" in header else b""
        except (binascii.Error, ValueError):
            payload = b""
        path = self._result_dir() / "webcam"
        path.write_bytes(payload)
        return path

    def _check_file_size(self, path: Path, what: str) -> None:
        if not path.is_file():
            raise UploadRejectedError(f"{path.name}: the uploaded file is gone; upload again")
        size = path.stat().st_size
        if size > self.limits.max_mb * 1e6:
            raise UploadRejectedError(
                f"{path.name}: {what} file is {size / 1e6:.1f} MB, above the limit "
                f"of {self.limits.max_mb:g} MB (--max-mb); upload a smaller file"
            )

    def _check_pixels(self, width: int, height: int, what: str) -> None:
        if width * height > self.limits.max_pixels:
            raise UploadRejectedError(
                f"{what} is {width}x{height} = {width * height} pixels, above the limit of "
                f"{self.limits.max_pixels} (--max-pixels); resize it first"
            )

    def _result_dir(self) -> Path:
        self._delete_old_results()
        path = self.work_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    def _delete_old_results(self) -> None:
        limit = time.time() - self.keep_seconds
        for entry in self.work_dir.iterdir():
            try:
                if entry.is_dir() and entry.stat().st_mtime < limit:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                continue

    def _summary(self, values: np.ndarray, K: np.ndarray, stride: int) -> str:
        from monodepthkit.inference.writers import PNG16_SCALE

        valid = values[np.isfinite(values) & (values > 0)]
        height, width = values.shape
        if self.output_kind == "depth":
            what = "depth in metres"
        else:
            what = "relative disparity (1 / depth up to an unknown scale)"
        low, high = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 0.0)
        points = "every pixel" if stride == 1 else f"every {stride}th pixel"
        return (
            f"**{width}x{height}**, {what}: {low:.3g} - {high:.3g}. Downloads: 16-bit PNG "
            f"(value x {PNG16_SCALE:g}), .npy (float32), .ply (camera frame, metres). "
            f"3D view: {points}, fx = {K[0, 0]:.1f} px."
        )


def build_app(
    predict_fn: PredictFn,
    *,
    output_kind: str = "depth",
    intrinsics_fn: IntrinsicsFn | None = None,
    fov_deg: float = DEFAULT_FOV_DEG,
    limits: UploadLimits | None = None,
    title: str = "monodepthkit depth demo",
    description: str = "",
    work_dir: str | Path | None = None,
):
    """Build the Gradio page around a depth function.

    Args:
        predict_fn: image [H, W, 3] uint8 RGB -> [H, W] float32 depth in metres (or relative
            disparity, see ``output_kind``).
        output_kind: ``"depth"`` or ``"disparity"``.
        intrinsics_fn: (height, width) -> [3, 3] K for the point cloud; None: ``fov_deg``.
        fov_deg: horizontal field of view (degrees) of the default camera.
        limits: upload limits.
        title: page title.
        description: markdown shown under the title (e.g. the checkpoint's name).
        work_dir: folder for result files (default: a temporary folder).

    Returns:
        A ``gradio.Blocks``; call `launch_app` (or its ``launch``) to serve it. The service is
        at ``app.depth_service``.
    """
    _quiet_gradio()
    import gradio as gr

    service = DepthService(
        predict_fn,
        output_kind=output_kind,
        intrinsics_fn=intrinsics_fn,
        fov_deg=fov_deg,
        limits=limits,
        work_dir=work_dir,
    )

    def on_image(upload):
        try:
            return service.predict_image(upload)
        except UploadRejectedError as exc:
            raise gr.Error(str(exc), title="Upload refused", print_exception=False) from None
        except MdkError as exc:
            raise gr.Error(str(exc)) from None

    def on_video(upload, progress=gr.Progress()):  # noqa: B008 (Gradio's injection idiom)
        try:
            return service.predict_video(
                upload, lambda done: progress(done, desc="depth per frame")
            )
        except UploadRejectedError as exc:
            raise gr.Error(str(exc), title="Upload refused", print_exception=False) from None
        except MdkError as exc:
            raise gr.Error(str(exc)) from None

    limits = service.limits
    kind_text = "depth in metres" if output_kind == "depth" else "relative disparity"
    with gr.Blocks(title=title, analytics_enabled=False) as app:
        gr.Markdown(f"# {title}\n{description}")
        gr.Markdown(
            f"Output: {kind_text}. Limits: {limits.max_mb:g} MB per file, "
            f"{limits.max_pixels / 1e6:g} megapixels, videos up to "
            f"{limits.max_video_frames} frames / {limits.max_video_seconds:g} s."
        )
        with gr.Tab("Image"):
            with gr.Row():
                image_in = gr.Image(
                    label="image (upload, webcam or paste)",
                    sources=["upload", "webcam", "clipboard"],
                    type="filepath",
                    image_mode=None,
                    height=360,
                    elem_id="image-input",
                )
                colour_out = gr.Image(
                    label="depth (colourised)",
                    type="filepath",
                    format="png",
                    interactive=False,
                    height=360,
                    elem_id="depth-output",
                )
            image_button = gr.Button("Predict depth", variant="primary", elem_id="predict-image")
            summary_out = gr.Markdown(elem_id="image-summary")
            with gr.Row():
                cloud_out = gr.Model3D(
                    label="point cloud (drag to rotate)",
                    display_mode="point_cloud",
                    clear_color=(0.1, 0.1, 0.12, 1.0),
                    interactive=False,
                    elem_id="point-cloud",
                )
                files_out = gr.File(
                    label="download: depth (16-bit PNG, .npy), point cloud (.ply)",
                    file_count="multiple",
                    interactive=False,
                    elem_id="depth-files",
                )
        with gr.Tab("Video"):
            with gr.Row():
                video_in = gr.Video(
                    label="short video (upload or record)",
                    sources=["upload", "webcam"],
                    elem_id="video-input",
                )
                video_out = gr.Video(label="depth video", interactive=False, elem_id="video-output")
            video_button = gr.Button(
                "Predict depth video", variant="primary", elem_id="predict-video"
            )
            video_summary = gr.Markdown(elem_id="video-summary")
        # preprocess=False: the handlers get the raw upload and check it before any decoding.
        image_button.click(
            on_image,
            inputs=image_in,
            outputs=[colour_out, cloud_out, files_out, summary_out],
            preprocess=False,
            api_name="predict_image",
        )
        video_button.click(
            on_video,
            inputs=video_in,
            outputs=[video_out, video_summary],
            preprocess=False,
            api_name="predict_video",
        )
    app.depth_service = service
    return app


def launch_app(
    app,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    block: bool = True,
    quiet: bool = False,
):
    """Serve a page from `build_app` on ``host:port`` with sharing and analytics off.

    Args:
        app: the ``gradio.Blocks`` from `build_app`.
        host: interface to listen on (``0.0.0.0`` for every interface).
        port: TCP port; None: Gradio picks a free one from 7860.
        block: wait until interrupted (False: return once the server runs).
        quiet: suppress Gradio's start-up messages.

    Returns:
        (FastAPI app, local URL, share URL) as Gradio's ``launch`` returns them.
    """
    _quiet_gradio()
    service: DepthService = app.depth_service
    return app.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=not block,
        quiet=quiet,
        show_error=False,
        # Gradio refuses larger uploads while receiving them; the handlers check again.
        max_file_size=int(service.limits.max_mb * 1e6),
        allowed_paths=[str(service.work_dir)],
        footer_links=["api", "settings"],
        pwa=False,
        mcp_server=False,
        ssr_mode=False,
    )


# --- files ----------------------------------------------------------------------------------


def point_stride(height: int, width: int, max_points: int) -> int:
    """Smallest integer pixel stride that keeps the point count at or below ``max_points``."""
    stride = 1
    while ((height + stride - 1) // stride) * ((width + stride - 1) // stride) > max_points:
        stride += 1
    return stride


def write_view_ply(
    path: str | Path, depth: np.ndarray, K: np.ndarray, image: np.ndarray, stride: int = 1
) -> Path:
    """Write the point cloud shown in the 3D view: every ``stride``-th pixel, OpenGL axes.

    The pixels (u, v) with u % stride == 0 and v % stride == 0 are back-projected like
    `writers.write_ply` does (OpenCV camera axes: x right, y down, z forward), then stored as
    (x, -y, -z): the OpenGL / glTF axes (y up, looking down -z) that 3D viewers assume, so that
    the cloud appears upright, seen from the camera. Invalid depth is skipped.

    Args:
        path: output ``.ply``.
        depth: [H, W] z-depth in metres.
        K: [3, 3] intrinsics in pixels of this size.
        image: [H, W, 3] uint8 colours.
        stride: pixel step of the subsampling.

    Returns:
        The path.
    """
    from monodepthkit.inference.writers import depth_to_points, write_points_ply

    K_sub = np.asarray(K, dtype=np.float64).copy()
    K_sub[:2] /= stride  # pixel u of the subsampled grid is pixel u * stride of the image
    K_sub[2] = (0.0, 0.0, 1.0)
    points, colours = depth_to_points(depth[::stride, ::stride], K_sub, image[::stride, ::stride])
    points = points * np.array([1.0, -1.0, -1.0], dtype=np.float32)
    return write_points_ply(path, points, colours)


# --- command line ---------------------------------------------------------------------------


def add_parser(commands) -> None:
    """Add `mdk serve` to the subcommands of `mdk`."""
    defaults = UploadLimits()
    parser = commands.add_parser(
        "serve",
        help="serve a local demo page (Gradio): depth of an image, webcam frame or video",
        description=(
            "Start a web page on HOST:PORT that predicts depth with a checkpoint: upload an "
            "image, take a webcam picture or upload a short video; see the colourised depth "
            "and a 3D point cloud, download the depth as 16-bit PNG (metres x 256) and .npy. "
            "Sharing and analytics are off; nothing leaves the machine."
        ),
    )
    parser.add_argument("--checkpoint", type=Path, required=True, help=".ckpt to serve")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="TCP port (default 7860)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    parser.add_argument(
        "--fov",
        type=float,
        default=DEFAULT_FOV_DEG,
        help="horizontal field of view (degrees) for the point cloud when the checkpoint "
        f"has no intrinsics (default {DEFAULT_FOV_DEG:g})",
    )
    parser.add_argument(
        "--max-mb",
        type=float,
        default=defaults.max_mb,
        help=f"largest upload in MB (default {defaults.max_mb:g})",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=defaults.max_pixels,
        help=f"largest image / video frame area in pixels (default {defaults.max_pixels})",
    )
    parser.add_argument(
        "--max-frames",
        type=int,
        default=defaults.max_video_frames,
        help=f"video frames processed (default {defaults.max_video_frames})",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=defaults.max_video_seconds,
        help=f"video seconds processed (default {defaults.max_video_seconds:g})",
    )
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    _quiet_gradio()
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise MdkError(
            "serve: gradio is not installed; install it with `pip install monodepthkit[app]`"
        ) from None
    from monodepthkit.inference.predictor import Predictor

    predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device)
    limits = UploadLimits(
        max_pixels=args.max_pixels,
        max_mb=args.max_mb,
        max_video_frames=args.max_frames,
        max_video_seconds=args.max_seconds,
    )
    app = build_app(
        predictor,
        output_kind=predictor.output_kind,
        intrinsics_fn=lambda height, width: predictor.intrinsics_for((height, width)),
        fov_deg=args.fov,
        limits=limits,
        title="monodepthkit depth demo",
        description=f"Checkpoint: `{args.checkpoint.name}`",
    )
    print(f"serving {args.checkpoint} on http://{args.host}:{args.port} (Ctrl+C to stop)")
    launch_app(app, host=args.host, port=args.port, block=True)
    return 0


# --- private helpers ------------------------------------------------------------------------


def _quiet_gradio() -> None:
    """Turn off Gradio's analytics and telemetry before it is imported or launched."""
    os.environ.update(QUIET_ENV)


def _safe_stem(upload: Any, default: str) -> str:
    name = upload.get("orig_name") if isinstance(upload, dict) else None
    stem = Path(name or (upload if isinstance(upload, str) else "") or default).stem
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:60]
    return cleaned or default
