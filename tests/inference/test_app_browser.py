"""`mdk serve` in headless Chromium: upload an image, see the depth of a real checkpoint.

The server runs as a subprocess (`python -m monodepthkit.cli serve`) on a free localhost port
with a tiny random-weight checkpoint; the page is driven with Playwright and Debian's chromium
on a closed network. A screenshot is kept in ``tests/artifacts/serve_page.png``.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
    ),
    # About 40 s on a busy 2-core machine: mostly starting `mdk serve` and software WebGL.
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A SupervisedTask with a tiny random U-Net, saved as `mdk fit` would (no trainer needed)."""
    from monodepthkit.tasks import SupervisedTask
    from monodepthkit.tasks.loading import TASK_KEY, task_class_path

    torch.manual_seed(0)
    task = SupervisedTask(
        model_kwargs={"width": 4, "depth": 2, "min_depth": 0.5, "max_depth": 30}
    ).eval()
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    torch.save(
        {
            "state_dict": task.state_dict(),
            "hyper_parameters": dict(task.hparams),
            TASK_KEY: task_class_path(task),
            "pytorch-lightning_version": L.__version__,
        },
        path,
    )
    return path


@pytest.fixture(scope="module")
def server(tiny_checkpoint, tmp_path_factory):
    """`mdk serve` on a free port; yields its URL, stops it afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [
        sys.executable,
        "-m",
        "monodepthkit.cli",
        "serve",
        "--checkpoint",
        str(tiny_checkpoint),
        "--port",
        str(port),
        "--device",
        "cpu",
        "--max-pixels",
        "100000",
    ]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "NO_PROXY": "127.0.0.1,localhost"}
    with open(log, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mdk serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    pytest.fail(f"mdk serve did not answer on {url} within {timeout:.0f} s:\n{log.read_text()}")


def scene_image(height: int = 96, width: int = 128) -> np.ndarray:
    """A structured test image (gradients and a bright box) so that the depth is not flat."""
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    image[..., 1] = np.linspace(255, 0, height, dtype=np.uint8)[:, None]
    image[30:70, 40:90] = (250, 240, 60)
    return image


def _wait_for_points(canvas, path: Path, timeout: float = 30.0) -> float:
    """Fraction of the 3D view covered by points once they show (software WebGL takes a few
    seconds), measured on a screenshot of its canvas saved to ``path``: pixels away from the
    dark background colour, while the background still fills part of the view (a blank or
    white canvas does not count)."""
    background = np.array([0.1, 0.1, 0.12]) * 255
    deadline = time.monotonic() + timeout
    drawn = 0.0
    while time.monotonic() < deadline:
        canvas.screenshot(path=str(path))
        pixels = np.asarray(Image.open(path).convert("RGB"), float)
        distance = np.abs(pixels - background).max(axis=2)
        drawn = float((distance > 40).mean()) if (distance < 8).mean() > 0.2 else 0.0
        if drawn > 0.05:
            break
        time.sleep(0.5)
    return drawn


def test_upload_shows_the_checkpoint_depth(server, tiny_checkpoint, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from monodepthkit.inference import Predictor
    from monodepthkit.inference.writers import colorize

    image = scene_image()
    image_path = tmp_path / "scene.png"
    Image.fromarray(image).save(image_path)
    too_big = tmp_path / "too_big.png"
    Image.fromarray(np.zeros((300, 400, 3), np.uint8)).save(too_big)
    host = urlparse(server).netloc
    outside: list[str] = []

    with sync_api.sync_playwright() as playwright:
        # A fresh profile (user data dir) per run: no state from earlier runs or other users.
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1280, "height": 1100},
        )
        try:
            page = browser.new_page()
            page.on(
                "request",
                lambda request: (
                    outside.append(request.url)
                    if urlparse(request.url).scheme in ("http", "https", "ws", "wss")
                    and urlparse(request.url).netloc != host
                    else None
                ),
            )
            page.goto(server)
            page.set_input_files("#image-input input[type=file]", str(image_path))
            page.click("#predict-image")
            page.wait_for_selector("#depth-output img", timeout=60_000)
            page.wait_for_selector("#point-cloud canvas", timeout=30_000)
            page.wait_for_function(
                "document.querySelectorAll('#depth-files a, #depth-files tr').length >= 3",
                timeout=30_000,
            )
            cloud_shot = tmp_path / "serve_point_cloud.png"
            drawn = _wait_for_points(page.locator("#point-cloud canvas"), cloud_shot)
            shown_url = page.get_attribute("#depth-output img", "src")
            shown = page.request.get(shown_url).body()
            summary = page.inner_text("#image-summary")
            shot = tmp_path / "serve_page.png"
            page.screenshot(path=str(shot))

            # An image above --max-pixels is refused with a message; the page keeps working.
            page.set_input_files("#image-input input[type=file]", str(too_big))
            page.click("#predict-image")
            page.wait_for_selector("text=above the limit of 100000 (--max-pixels)", timeout=30_000)
        finally:
            browser.close()

    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "serve_page.png")
    shutil.copy(cloud_shot, ARTIFACTS / "serve_point_cloud.png")
    print(f"screenshots: {ARTIFACTS / 'serve_page.png'}, {ARTIFACTS / 'serve_point_cloud.png'}")

    colours = np.asarray(Image.open(io.BytesIO(shown)).convert("RGB"))
    assert colours.shape == image.shape
    assert colours.std() > 10, "the depth image is blank"
    expected = colorize(Predictor.from_checkpoint(tiny_checkpoint, device="cpu")(image))
    # Same model, same colour map: equal up to a colour-table step on a few pixels.
    difference = np.abs(colours.astype(int) - expected.astype(int))
    assert (difference.max(axis=2) <= 8).mean() > 0.99, difference.max()
    assert "128x96" in summary and "depth in metres" in summary
    assert drawn > 0.05, f"the 3D view shows no points ({drawn:.1%} of its pixels)"
    assert outside == [], f"the page made requests outside {host}: {outside}"
