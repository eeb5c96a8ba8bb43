"""End to end in real headless Chromium: start `streamlit run`, upload a scan, see the label and Grad-CAM."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from model.card import load_card
from tests.helpers import ROOT, sample_scans

pytestmark = [pytest.mark.browser, pytest.mark.artifact]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_S = 120
RESULT_MS = 120_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("server") / "streamlit.log", "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + STARTUP_S
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("streamlit did not become healthy")
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed; `make test` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def test_upload_in_a_real_browser_shows_label_and_grad_cam(server, browser, tmp_path):
    path, class_dir = sample_scans()[0]
    card = load_card()
    expected = card.class_names[card.class_dirs.index(class_dir)]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})

    page.goto(f"{server}/Classify")
    page.locator("input[type=file]").first.set_input_files(str(path))
    page.get_by_role("heading", name=expected).wait_for(timeout=RESULT_MS)
    page.get_by_text("Download results as CSV").wait_for(timeout=RESULT_MS)
    page.screenshot(path=tmp_path / "classify.png", full_page=True)

    page.goto(f"{server}/Explain")
    page.locator("input[type=file]").first.set_input_files(str(path))
    page.get_by_text(f"Explaining {expected}").first.wait_for(timeout=RESULT_MS)
    page.get_by_text("Grad-CAM: ").first.wait_for(timeout=RESULT_MS)  # the map's time, written after the figure
    page.wait_for_function(
        """() => { const images = [...document.querySelectorAll("[data-testid='stImage'] img")];
                   return images.length >= 1 && images.every(img => img.complete && img.naturalWidth > 400); }""",
        timeout=RESULT_MS,
    )
    page.screenshot(path=tmp_path / "explain.png", full_page=True)
    assert (tmp_path / "explain.png").stat().st_size > 10_000
