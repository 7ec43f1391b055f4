"""The Space's page in headless Chromium: the main components render; a screenshot is saved as a test artefact
(outputs/test-artifacts/space_page.png). Needs Debian's `chromium` (installed by .ci/run and the Makefile)."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip("headless browser test needs /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)
pytest.importorskip("gradio")

import torch  # noqa: E402

from modeling import DelocateConfig, DelocateForDeepfakeDetection  # noqa: E402
from processing import DelocateFaceProcessor  # noqa: E402
from spaces_app.app import TITLE, build_demo, launch_options  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "outputs" / "test-artifacts"
CHROME_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    "--disable-dev-shm-usage",
]
# Element ids (elem_id) and texts of the main components.
COMPONENT_IDS = ["video-input", "frames", "run-button", "verdict", "verdict-label", "overlay-video", "score-plot",
                 "why-face", "why-masked", "why-reconstruction"]
TEXTS = [TITLE, "Analyze video", "Per-frame scores", "Why the model thinks so", "Real example videos",
         "Localised regions", "Recovery model", "Limits:", "Drop Video Here"]


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser_tiny_detector")
    torch.manual_seed(0)
    DelocateForDeepfakeDetection(DelocateConfig.tiny(detector_include_recovery=True)).save_pretrained(folder)
    DelocateFaceProcessor(num_frames=4, size=64).save_pretrained(folder)
    demo = build_demo(model=str(folder), work_dir=tmp_path_factory.mktemp("browser_work"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_options(demo))
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def chromium(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        return subprocess.run(
            [str(CHROMIUM), *CHROME_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout, env={**os.environ, "HOME": profile},
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def rendered_dom(url: str, attempts: int = 4) -> str:
    """The page's DOM after its scripts ran; retried with a longer virtual-time budget until the app has rendered."""
    html = ""
    for k in range(attempts):
        proc = chromium(f"--virtual-time-budget={15000 * (k + 1)}", "--dump-dom", url)
        html = proc.stdout
        if 'id="run-button"' in html:
            return html
        time.sleep(1.0)
    return html


def test_page_renders_main_components(page_url):
    html = rendered_dom(page_url)
    missing_ids = [i for i in COMPONENT_IDS if f'id="{i}"' not in html]
    missing_texts = [t for t in TEXTS if t not in html]
    assert not missing_ids and not missing_texts, (missing_ids, missing_texts, html[:2000])
    assert 'type="file"' in html  # the upload input
    assert "Traceback" not in html and "⚠️" not in html  # no error trace, no model-missing warning


def test_screenshot_artifact(page_url):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = ARTIFACTS / "space_page.png"
    png.unlink(missing_ok=True)
    proc = chromium("--virtual-time-budget=15000", "--window-size=1280,2000", f"--screenshot={png}", page_url)
    assert png.is_file(), proc.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a rendered page, not a blank one
    import cv2
    import numpy as np

    image = cv2.imread(str(png))
    assert image.shape[:2] == (2000, 1280)
    assert float(np.std(image)) > 10.0  # not a uniform (blank) picture
