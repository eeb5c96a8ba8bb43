"""Screenshots of the app's own pages, for the not-an-MRI guard's held-out set (`python -m training screenshots`).

A screenshot of the app once passed the guard as "No tumour 84.9 %". These are
captured from a real server in headless Chromium, at a desktop and a phone
size, with and without a classified scan, and committed at half size beside
`training/data/ood_images.py`, which feeds them to `python -m training ood`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image

from pages.shared.sitemap import PAGES as SITE
from training.data.ood_images import SCREENSHOT_DIR
from training.evaluation.app_server import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, running_app

PAGES = ("", *(page.url_path for page in SITE))  # Home, then every page
VIEWPORTS = {"desktop": (1400, 900), "phone": (390, 844)}


def _save_half_size(png: bytes, path: Path) -> None:
    with tempfile.NamedTemporaryFile(suffix=".png") as tmp:
        Path(tmp.name).write_bytes(png)
        with Image.open(tmp.name) as image:
            image.convert("RGB").resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS).save(
                path, optimize=True
            )


def capture_screenshots(scan: Path, out_dir: Path = SCREENSHOT_DIR) -> list[Path]:
    """Every page at both sizes once it has rendered, the page before it has, and Classify after an upload."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp, running_app(Path(tmp) / "server.log") as (url, _):
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for size, (width, height) in VIEWPORTS.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                for name in PAGES:
                    page.goto(f"{url}/{name}", wait_until="commit")
                    if not name and size == "desktop":  # the page before Streamlit has drawn anything
                        written.append(_shoot(page, out_dir / "app_loading_desktop.png"))
                    page.get_by_text("not a medical device").first.wait_for(timeout=WAIT_MS)
                    page.wait_for_load_state("networkidle")
                    written.append(_shoot(page, out_dir / f"app_{name.lower() or 'home'}_{size}.png"))
                page.goto(f"{url}/Classify")
                page.locator("input[type=file]").first.set_input_files(str(scan))
                page.get_by_role("button", name="Explain this scan").wait_for(timeout=WAIT_MS)
                written.append(_shoot(page, out_dir / f"app_classify_result_{size}.png"))
            browser.close()
    return written


def _shoot(page, path: Path) -> Path:
    _save_half_size(page.screenshot(), path)
    return path
