"""The Space's page in headless Chromium: the main components render, and an analysis run from the page (upload,
click) shows every output, the per-frame plot with its legend (every clip's name in its line colour, inside the
plot's block). Screenshots are saved as test artefacts: outputs/test-artifacts/space_page.png (empty page),
space_result.png (after an analysis) and space_plot_small_video.png (the plot of a 176x144 video on a narrow
screen). Needs Debian's `chromium` (installed by .ci/run and the Makefile)."""

import base64
import json
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
    pytest.skip("Space browser tests need Debian's headless chromium at /usr/bin/chromium, which is not installed: "
                "enable them with `make chromium` as root, or `sudo apt-get install -y chromium`",
                allow_module_level=True)
pytest.importorskip("gradio")

import torch  # noqa: E402

from modeling import DelocateConfig, DelocateForDeepfakeDetection  # noqa: E402
from processing import DelocateFaceProcessor  # noqa: E402
from conftest import carphone_path  # noqa: E402
from spaces_app.app import CLIP_COLORS, TITLE, build_demo, launch_options  # noqa: E402

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


# ---------------------------------------------------------------------------------------------------- end to end
class DevTools:
    """Minimal Chrome DevTools Protocol client over `--remote-debugging-pipe` (fd 3: commands in, fd 4: replies
    out, NUL-separated JSON): no websocket library needed."""

    def __init__(self, width: int = 1280, height: int = 2200):
        import fcntl

        r3, w3 = os.pipe()
        r4, w4 = os.pipe()
        # move the child's ends above 10 so that dup2 onto 3 / 4 cannot clobber them
        cmd_in, reply_out = fcntl.fcntl(r3, fcntl.F_DUPFD_CLOEXEC, 10), fcntl.fcntl(w4, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(r3)
        os.close(w4)
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")

        # bash (dash reads no fd above 9) puts the pipe ends on fds 3 / 4 and execs chromium: no Python code runs
        # between fork and exec (a `preexec_fn` deadlocked the child twice in the full suite, whose process has
        # hundreds of threads by then).
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$@" 3<&{cmd_in} 4>&{reply_out}', "bash",
             str(CHROMIUM), *CHROME_FLAGS, f"--window-size={width},{height}", "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(cmd_in, reply_out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": self.profile},
        )
        os.close(cmd_in)
        os.close(reply_out)
        self.writer = os.fdopen(w3, "wb", buffering=0)
        self.reader = os.fdopen(r4, "rb", buffering=0)
        self.buffer, self.next_id, self.session = b"", 0, None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def send(self, method: str, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session is not None:
            message["sessionId"] = self.session
        self.writer.write(json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = self.reader.read(1 << 16)
                if not chunk:
                    raise EOFError("chromium closed the DevTools pipe")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def js(self, expression: str):
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True).get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {expression}")

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


# The per-frame plot's legend as drawn (Vega's SVG): title, entries (label text, symbol colour) and whether each
# entry lies inside both the chart and the plot's block (which cuts off whatever overflows it).
LEGEND_JS = """(() => {
  const block = document.querySelector('#score-plot');
  const svg = block && block.querySelector('svg.marks');
  const legend = svg && svg.querySelector('.role-legend');
  if (!legend) return null;
  const inside = (r, o) => r.left >= o.left - 0.5 && r.right <= o.right + 0.5 && r.top >= o.top - 0.5
                           && r.bottom <= o.bottom + 0.5;
  const b = block.getBoundingClientRect(), s = svg.getBoundingClientRect();
  const entries = [...legend.querySelectorAll('.role-legend-entry .role-scope > g')].map(g => {
    const label = g.querySelector('.role-legend-label text'), symbol = g.querySelector('.role-legend-symbol path');
    const boxes = [label.getBoundingClientRect(), symbol.getBoundingClientRect()];
    return {label: label.textContent, colour: symbol.getAttribute('stroke') || symbol.getAttribute('fill'),
            visible: boxes.every(r => r.width > 0 && inside(r, b) && inside(r, s))};
  });
  const title = legend.querySelector('.role-legend-title text');
  return {title: title ? title.textContent : null, entries: entries};
})()"""


def assert_full_legend(browser: DevTools, clips: int) -> None:
    """The plot's legend names clips 1..`clips`, each in its line colour, all of them visible (not cut off)."""
    legend = browser.wait_for(f"(l => l && l.entries.length >= {clips} ? l : null)({LEGEND_JS})")
    assert legend["title"] == "clip"
    assert [e["label"] for e in legend["entries"]] == [str(k + 1) for k in range(clips)]
    assert [e["colour"] for e in legend["entries"]] == list(CLIP_COLORS[:clips])
    assert [e["label"] for e in legend["entries"] if not e["visible"]] == [], legend


def upload_and_analyze(browser: DevTools, url: str, video: Path, frames: int | None = None) -> str:
    """Opens the page, uploads `video`, (sets the frames slider,) presses Analyze; returns the verdict text."""
    browser.send("Page.navigate", url=url)
    browser.wait_for("!!document.querySelector('#run-button')")
    browser.send("DOM.enable")
    root = browser.send("DOM.getDocument", depth=-1, pierce=True)["root"]["nodeId"]
    node = browser.send("DOM.querySelector", nodeId=root, selector="#video-input input[type=file]")["nodeId"]
    browser.send("DOM.setFileInputFiles", nodeId=node, files=[str(video)])
    browser.wait_for("!!document.querySelector('#video-input video')")
    if frames is not None:
        browser.js("(e => { e.value = %d; e.dispatchEvent(new Event('input', {bubbles: true}));"
                   " e.dispatchEvent(new Event('change', {bubbles: true})); })"
                   "(document.querySelector('#frames input[type=number]'))" % frames)
        browser.wait_for(f"document.querySelector('#frames input[type=range]').value == '{frames}'")
    browser.js("document.querySelector('#run-button').click()")
    return browser.wait_for(
        "(t => t.includes('P(fake)') ? t : '')(document.querySelector('#verdict').innerText)", timeout=300)


def test_analysis_renders_in_browser(page_url):
    """Upload the real clip in the page, press the button, check every output renders; screenshot artefact."""
    from delocate_hf.assets import default_video_path
    from spaces_app.analysis import display_size

    browser = DevTools()
    try:
        verdict = upload_and_analyze(browser, page_url, default_video_path())
        assert verdict.startswith(("Fake — P(fake)", "Real — P(fake)")) and "8 frames analysed in 2 clips" in verdict
        assert "Not calibrated" in verdict, verdict  # a random model says so under its verdict
        assert_full_legend(browser, clips=2)
        side = display_size(64)
        sizes = browser.wait_for(
            "(a => a.every(x => x > 0) ? a : null)([...document.querySelectorAll("
            "'#why-face img, #why-masked img, #why-reconstruction img')].map(e => e.naturalWidth))")
        assert sizes == [side, side, side]
        assert browser.wait_for("(v => v && v.videoWidth)(document.querySelector('#overlay-video video'))") == 640
        assert browser.wait_for("!!document.querySelector('#score-plot canvas, #score-plot svg')")
        assert "recovery error" in browser.js("document.querySelector('#why-text').innerText")
        time.sleep(1.0)  # let the plot and the video poster paint
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        png = ARTIFACTS / "space_result.png"
        png.write_bytes(base64.b64decode(browser.send("Page.captureScreenshot", format="png")["data"]))
        assert png.stat().st_size > 50_000
    finally:
        browser.close()


def test_plot_legend_of_a_small_video_on_a_narrow_screen(page_url):
    """A 176x144 video analysed in the slider's maximum of 8 clips, on a 420 px wide screen: the legend still shows
    all 8 clips with their colours inside the plot (screenshot artefact of the plot)."""
    browser = DevTools(width=420, height=2400)
    try:
        verdict = upload_and_analyze(browser, page_url, carphone_path(), frames=32)  # 8 clips of the tiny model's 4
        assert "176×144" in verdict and "32 frames analysed in 8 clips" in verdict, verdict
        assert_full_legend(browser, clips=8)
        time.sleep(1.0)  # let the plot paint
        rect = browser.js("(r => ({x: r.x, y: r.y + window.scrollY, width: r.width, height: r.height}))"
                          "(document.querySelector('#score-plot').getBoundingClientRect())")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        png = ARTIFACTS / "space_plot_small_video.png"
        shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                            clip={**rect, "scale": 1})
        png.write_bytes(base64.b64decode(shot["data"]))
        assert png.stat().st_size > 5_000
    finally:
        browser.close()
