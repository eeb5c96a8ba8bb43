"""What a person waits for in the browser: a real `streamlit run` server driven by headless Chromium.

Measures upload -> first result for one scan, upload -> every result and the summary table for twenty, the
server's memory after it has only classified, then "Explain this scan" -> the first Grad-CAM, Grad-CAM++ and
Score-CAM added to it, a visit to every other page, and the server's memory after that tour (TensorFlow is never
loaded: those three maps come from the classifier's ONNX session).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.throughput import scan_folder
from training.evaluation.app_server import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, running_app


def _upload_and_wait(page, url: str, files: list[Path]) -> float:
    """Seconds from handing the files to the uploader until the summary table, the first scan's details and
    the page's last line are visible (the script has run to its end)."""
    page.goto(f"{url}/Classify")
    page.get_by_text("Drop brain MRI slices").wait_for(timeout=WAIT_MS)
    started = time.perf_counter()
    page.locator("input[type=file]").first.set_input_files([str(f) for f in files])
    heading = f"{len(files)} scan{'s' * (len(files) > 1)} this session"
    page.get_by_role("heading", name=heading).wait_for(timeout=WAIT_MS)
    page.locator("[data-testid=stDataFrame]").wait_for(timeout=WAIT_MS)
    page.get_by_role("button", name="Explain this scan").wait_for(timeout=WAIT_MS)
    page.locator("[data-testid=stVegaLiteChart]").first.wait_for(timeout=WAIT_MS)
    page.get_by_text("Classified with").wait_for(timeout=WAIT_MS)
    return time.perf_counter() - started


def _wait_for_map(page, method: str) -> float:
    """Seconds until the Explain page shows `method`'s time under the figure (the map is drawn)."""
    started = time.perf_counter()
    page.get_by_text(f"{method}: ").last.wait_for(timeout=WAIT_MS)
    return time.perf_counter() - started


def _explain_tour(page, url: str) -> dict[str, float]:
    """From the Classify page of a classified scan: the first map, two more methods, then every other page."""
    started = time.perf_counter()
    page.get_by_role("button", name="Explain this scan").first.click()
    _wait_for_map(page, "Grad-CAM")
    timings = {"first_map_s": time.perf_counter() - started}
    for method in ("Grad-CAM++", "Score-CAM"):
        methods = page.get_by_role("combobox", name="Methods")
        methods.click()
        page.get_by_role("option", name=method, exact=True).click()
        page.keyboard.press("Escape")
        timings[f"adding_{method.lower().replace('-', '_').replace('+', 'p')}_s"] = _wait_for_map(page, method)
    for path, heading in (("Evaluation", "Evaluation"), ("Dataset", "Dataset"), ("Model_card", "Model card")):
        page.goto(f"{url}/{path}")
        page.get_by_role("heading", name=heading).first.wait_for(timeout=WAIT_MS)
    return timings


def browser_timings() -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "scans"
        folder.mkdir()
        first, one, twenty = _split(scan_folder(folder, 22, distinct=True))
        log = Path(tmp) / "server.log"
        launched = time.perf_counter()
        with running_app(log) as (url, server), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            timings: dict[str, Any] = {}
            for name, files in (("first_scan", first), ("one_scan", one), ("twenty_scans", twenty)):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                timings[f"{name}_s"] = _upload_and_wait(page, url, files)
                if name == "first_scan":
                    timings["server_start_to_first_result_s"] = time.perf_counter() - launched
            timings["server_rss_after_classifying_mib"] = psutil.Process(server.pid).memory_info().rss / 2**20
            timings |= _explain_tour(page, url)
            toured = psutil.Process(server.pid)
            timings["tensorflow_loaded"] = any("tensorflow" in m.path for m in toured.memory_maps())
            timings["server_rss_after_tour_mib"] = toured.memory_info().rss / 2**20
            browser.close()
        log_text = log.read_text()
    return {
        **timings,
        "server_log_lines": len(log_text.splitlines()),
        "server_log_warnings": sum("WARNING" in line or "Inotify" in line for line in log_text.splitlines()),
    }


def _split(scans: list[Path]) -> tuple[list[Path], list[Path], list[Path]]:
    """A scan for the fresh server's first result, another for a warm single upload, twenty for the batch."""
    return scans[:1], scans[1:2], scans[2:22]
