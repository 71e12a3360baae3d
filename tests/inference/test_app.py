"""The `mdk serve` page without a browser: files it writes, upload checks, the live server."""

from __future__ import annotations

import base64
import io
import socket

import cv2
import numpy as np
import pytest
from PIL import Image

from monodepthkit.cli import build_parser
from monodepthkit.errors import MdkError
from monodepthkit.inference.app import (
    DepthService,
    UploadLimits,
    UploadRejectedError,
    point_stride,
)
from monodepthkit.inference.writers import colorize, read_ply, read_png16

K = np.array([[40.0, 0.0, 13.0], [0.0, 44.0, 9.5], [0.0, 0.0, 1.0]])


def fake_depth(image: np.ndarray) -> np.ndarray:
    """A depth that depends on the pixels: 1 m (red 0) to 10 m (red 255), 0 where blue = 255."""
    depth = 1.0 + 9.0 * image[..., 0].astype(np.float32) / 255.0
    depth[image[..., 2] == 255] = 0.0  # invalid pixels must not become points
    return depth


def gradient_image(height: int = 24, width: int = 32) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    image[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    image[0, 0, 2] = 255
    return image


def save_png(path, image) -> str:
    Image.fromarray(image).save(path)
    return str(path)


@pytest.fixture
def service(tmp_path) -> DepthService:
    return DepthService(
        fake_depth,
        intrinsics_fn=lambda height, width: K,
        limits=UploadLimits(max_pixels=32 * 24, max_mb=0.05, max_video_frames=4),
        work_dir=tmp_path / "work",
    )


def test_image_outputs_hold_the_prediction(service, tmp_path):
    image = gradient_image()
    colour, view, downloads, summary = service.predict_image(save_png(tmp_path / "a.png", image))
    expected = fake_depth(image)
    png16, npy, ply = downloads
    np.testing.assert_array_equal(np.load(npy), expected)
    np.testing.assert_allclose(read_png16(png16), expected, atol=0.5 / 256)
    np.testing.assert_array_equal(np.asarray(Image.open(colour).convert("RGB")), colorize(expected))
    assert "32x24" in summary and "depth in metres" in summary and "fx = 40.0" in summary
    assert view.endswith(".ply") and ply.endswith(".ply")


def _project(points: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = points[:, 2]
    return K[0, 0] * points[:, 0] / z + K[0, 2], K[1, 1] * points[:, 1] / z + K[1, 2]


@pytest.mark.parametrize("max_points", [10_000, 100])
def test_point_clouds_reproject_onto_their_pixels(tmp_path, max_points):
    service = DepthService(
        fake_depth,
        intrinsics_fn=lambda height, width: K,
        limits=UploadLimits(max_points=max_points),
        work_dir=tmp_path / "work",
    )
    image = gradient_image()
    depth = fake_depth(image)
    _, view, (_, _, ply), _ = service.predict_image(save_png(tmp_path / "a.png", image))
    stride = point_stride(24, 32, max_points)
    assert stride == (1 if max_points == 10_000 else 3)

    # 3D view: every stride-th pixel, stored in OpenGL axes (x, -y, -z).
    points, colours = read_ply(view)
    points = points * np.array([1.0, -1.0, -1.0], np.float32)
    v, u = np.mgrid[0:24:stride, 0:32:stride]
    valid = depth[::stride, ::stride] > 0
    assert len(points) == valid.sum() == (valid.size - 1)  # pixel (0, 0) is invalid
    pu, pv = _project(points, K)
    np.testing.assert_allclose(pu, u[valid], atol=1e-3)
    np.testing.assert_allclose(pv, v[valid], atol=1e-3)
    np.testing.assert_allclose(points[:, 2], depth[::stride, ::stride][valid], rtol=1e-6)
    np.testing.assert_array_equal(colours, image[::stride, ::stride][valid])

    # Download: every valid pixel in the OpenCV camera frame (metres).
    points, colours = read_ply(ply)
    v, u = np.mgrid[0:24, 0:32]
    pu, pv = _project(points, K)
    np.testing.assert_allclose(pu, u[depth > 0], atol=1e-3)
    np.testing.assert_allclose(pv, v[depth > 0], atol=1e-3)
    np.testing.assert_allclose(points[:, 2], depth[depth > 0], rtol=1e-6)


def test_default_camera_comes_from_the_field_of_view(tmp_path):
    service = DepthService(fake_depth, fov_deg=90.0, work_dir=tmp_path / "work")
    K_default = service.intrinsics(24, 32)
    # f = (W / 2) / tan(45 deg) = 16 px, principal point at the centre.
    np.testing.assert_allclose(K_default, [[16, 0, 15.5], [0, 16, 11.5], [0, 0, 1]])
    none_fn = DepthService(fake_depth, intrinsics_fn=lambda h, w: None, fov_deg=90.0)
    np.testing.assert_allclose(none_fn.intrinsics(24, 32), K_default)


def test_relative_models_are_coloured_and_lifted_as_disparity(tmp_path):
    def disparity(image):
        return 1.0 / np.maximum(fake_depth(image), 0.5)

    service = DepthService(disparity, output_kind="disparity", work_dir=tmp_path / "work")
    image = gradient_image()
    colour, view, (_, npy, _), summary = service.predict_image(save_png(tmp_path / "a.png", image))
    values = disparity(image)
    np.testing.assert_array_equal(np.load(npy), values)
    np.testing.assert_array_equal(
        np.asarray(Image.open(colour).convert("RGB")), colorize(values, near_is_high=True)
    )
    points, _ = read_ply(view)
    np.testing.assert_allclose(-points[:, 2], (1.0 / values).reshape(-1), rtol=1e-6)
    assert "relative disparity" in summary


def test_bad_uploads_are_refused_with_a_message(service, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    with pytest.raises(UploadRejectedError, match=r"notes.png: not an image"):
        service.predict_image(str(text))
    big = save_png(tmp_path / "big.png", np.zeros((25, 32, 3), np.uint8))
    with pytest.raises(UploadRejectedError, match=r"32x25 = 800 pixels.*limit of 768"):
        service.predict_image(big)
    noise = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    heavy = tmp_path / "heavy.bmp"  # 2.3 kB of pixels + a 60 kB comment-like tail
    Image.fromarray(noise).save(heavy)
    heavy.write_bytes(heavy.read_bytes() + b"\0" * 60_000)
    with pytest.raises(UploadRejectedError, match=r"heavy.bmp: image file is 0.1 MB.*0.05 MB"):
        service.predict_image(str(heavy))
    with pytest.raises(UploadRejectedError, match="nothing uploaded"):
        service.predict_image(None)
    # The service still answers.
    _, _, (_, npy, _), _ = service.predict_image(save_png(tmp_path / "ok.png", gradient_image()))
    assert np.load(npy).shape == (24, 32)


def test_webcam_frames_arrive_as_data_urls(service):
    image = gradient_image()
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    _, _, (_, npy, _), _ = service.predict_image({"path": None, "url": url})
    np.testing.assert_array_equal(np.load(npy), fake_depth(image))


def _write_video(path, frames: int, size=(24, 32)) -> list[np.ndarray]:
    height, width = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    images = []
    for index in range(frames):
        image = gradient_image(height, width)
        image[..., 0] = np.roll(image[..., 0], 2 * index, axis=1)
        image[..., 2] = 0
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        images.append(image)
    writer.release()
    return images


def test_video_is_cut_at_the_frame_limit_and_coloured(service, tmp_path):
    _write_video(tmp_path / "clip.avi", frames=7)
    done = []
    video, summary = service.predict_video(str(tmp_path / "clip.avi"), progress=done.append)
    assert "4 frames" in summary and "of 7 frames" in summary
    assert done[-1] == pytest.approx(1.0)
    capture = cv2.VideoCapture(video)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    assert len(frames) == 4 and frames[0].shape == (24, 32, 3)
    # Depth grows with red, i.e. to the right: the near (left) side is the brighter one.
    brightness = frames[0].astype(float).mean(axis=(0, 2))
    assert brightness[:8].mean() > brightness[-8:].mean() + 40


def test_bad_videos_are_refused(service, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\0" * 100)
    with pytest.raises(UploadRejectedError, match=r"junk.mp4: not a video"):
        service.predict_video(str(junk))
    _write_video(tmp_path / "wide.avi", frames=2, size=(24, 40))
    with pytest.raises(UploadRejectedError, match=r"video frame is 40x24 = 960 pixels"):
        service.predict_video(str(tmp_path / "wide.avi"))


def test_limits_and_kinds_are_checked():
    with pytest.raises(MdkError, match="--max-mb must be positive"):
        UploadLimits(max_mb=0)
    with pytest.raises(MdkError, match="output_kind"):
        DepthService(fake_depth, output_kind="metres")
    with pytest.raises(MdkError, match="fov_deg"):
        DepthService(fake_depth, fov_deg=180)


def test_serve_command_is_registered():
    args = build_parser().parse_args(
        ["serve", "--checkpoint", "m.ckpt", "--port", "9000", "--max-mb", "3", "--max-pixels", "9"]
    )
    assert args.handler.__name__ == "_serve"
    assert (args.port, args.host, args.max_mb, args.max_pixels) == (9000, "127.0.0.1", 3.0, 9)


# --- the live server --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_app(tmp_path):
    """The page served in this process on a free localhost port; yields its URL."""
    pytest.importorskip("gradio")
    from monodepthkit.inference.app import build_app, launch_app

    app = build_app(
        fake_depth,
        limits=UploadLimits(max_pixels=32 * 24, max_mb=0.05),
        work_dir=tmp_path / "work",
    )
    _, url, _ = launch_app(app, port=free_port(), block=False, quiet=True)
    yield url
    app.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_server_refuses_bad_uploads_and_keeps_serving(live_app, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(live_app, verbose=False)
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    with pytest.raises(AppError, match=r"notes\.png: not an image"):
        client.predict(handle_file(str(text)), api_name="/predict_image")
    big = save_png(tmp_path / "big.png", np.zeros((25, 32, 3), np.uint8))
    with pytest.raises(AppError, match=r"800 pixels, above the limit of 768 \(--max-pixels\)"):
        client.predict(handle_file(big), api_name="/predict_image")
    heavy = tmp_path / "heavy.png"
    heavy.write_bytes(b"\x89PNG" + b"\0" * 60_000)
    # Gradio refuses the upload itself (--max-mb is its max_file_size) with its own message.
    with pytest.raises(ValueError, match="exceeds the maximum file size of 50000 bytes"):
        client.predict(handle_file(str(heavy)), api_name="/predict_image")
    image = gradient_image()
    colour, _, downloads, summary = client.predict(
        handle_file(save_png(tmp_path / "ok.png", image)), api_name="/predict_image"
    )
    np.testing.assert_array_equal(
        np.asarray(Image.open(colour).convert("RGB")), colorize(fake_depth(image))
    )
    np.testing.assert_array_equal(np.load(downloads[1]), fake_depth(image))
    assert "32x24" in summary


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_server_returns_a_depth_video(live_app, tmp_path):
    from gradio_client import Client, handle_file

    _write_video(tmp_path / "clip.avi", frames=3)
    video, summary = Client(live_app, verbose=False).predict(
        handle_file(str(tmp_path / "clip.avi")), api_name="/predict_video"
    )
    path = video["video"] if isinstance(video, dict) else video
    capture = cv2.VideoCapture(path)
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert count == 3 and "3 frames" in summary
