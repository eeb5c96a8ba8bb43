"""The app in a subprocess, for headless Chromium: training's screenshots, the browser benchmark and the browser
tests all start it here (a fresh `streamlit run streamlit_app.py` on a free local port)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's, as `make chromium` installs it
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
WAIT_MS = 300_000  # what a page may take to draw on a loaded 2-core machine
STARTUP_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """(its URL, the server process) once the server answers its health check; stopped on the way out."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    with open(log, "w") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(url, process)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a loaded machine: the server must still go
                process.kill()
                process.wait()


def _wait_until_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.time() + STARTUP_S
    while time.time() < deadline and process.poll() is None:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not start (exit code {process.poll()})")
