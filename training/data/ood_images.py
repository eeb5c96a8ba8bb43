"""The images that are clearly not brain MRI, on which the not-an-MRI guard is designed and measured.

Two parts, kept apart so the measurement stays honest:

- `DESIGN`: scikit-image's bundled samples (photos, microscopy, a retina, a
  Shepp-Logan head phantom, faces) and synthetic ones (noise, gradients,
  checkerboards, a text page, a chest-X-ray-like picture). The guard's design
  (which layer, which pooling) was chosen on these and the validation scans.
- `HELD_OUT`: what the guard never saw while it was designed: screenshots of
  the app's own pages (captured by `python -m training screenshots`), web-page
  and document layouts, charts and drawings, and other modalities (an
  ultrasound fan, a CT-like body slice).

Everything is generated or bundled: no download, fixed seeds, and every image
goes through the app's decoder like an upload.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from model.core.decode import decode_file, decode_image

DESIGN = "design"
HELD_OUT = "held-out"
SCREENSHOT_DIR = Path(__file__).parent / "ood_screenshots"
SIZE = 256

Generated = Iterator[tuple[str, str, np.ndarray]]


def _rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Any scikit-image sample (bool, float, grey or RGBA) as RGB uint8."""
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.dtype != np.uint8:
        image = (255 * (image - image.min()) / max(float(np.ptp(image)), 1e-9)).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, -1)
    return image[..., :3]


def _skimage_images() -> Generated:
    from skimage import data as skdata

    names = [
        "astronaut",
        "brick",
        "camera",
        "cell",
        "chelsea",
        "clock",
        "coffee",
        "coins",
        "colorwheel",
        "grass",
        "gravel",
        "horse",
        "hubble_deep_field",
        "immunohistochemistry",
        "logo",
        "microaneurysms",
        "moon",
        "page",
        "retina",
        "rocket",
        "text",
        "shepp_logan_phantom",
        "motorcycle_left",
        "checkerboard",
    ]
    for name in names:
        try:
            image = np.asarray(getattr(skdata, name)())
        except Exception:  # noqa: BLE001 - a sample that needs a download is skipped
            continue
        image = _rgb_uint8(image)
        yield "scikit-image sample", name, image
        height, width = image.shape[:2]
        yield (
            "scikit-image sample",
            f"{name} (centre crop)",
            image[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4],
        )
    faces = skdata.lfw_subset()
    for i in range(0, len(faces), 10):
        face = (np.asarray(faces[i]) * 255).astype(np.uint8)
        yield (
            "face photo",
            f"lfw face {i}",
            np.repeat(np.asarray(Image.fromarray(face).resize((200, 200)))[..., None], 3, -1),
        )


def _synthetic_images(rng: np.random.Generator) -> Generated:
    size = 256
    yy, xx = np.mgrid[:size, :size] / size
    for i in range(5):
        yield "noise", f"uniform noise {i}", rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        gaussian = np.clip(rng.normal(128, 40, (size, size)), 0, 255).astype(np.uint8)
        yield "noise", f"gaussian noise {i}", np.repeat(gaussian[..., None], 3, -1)
    for angle in (0, 45, 90):
        ramp = (255 * (np.cos(np.radians(angle)) * xx + np.sin(np.radians(angle)) * yy)).clip(0, 255)
        yield "synthetic", f"gradient {angle}", np.repeat(ramp.astype(np.uint8)[..., None], 3, -1)
    for cells in (4, 16):
        board = (((yy * cells).astype(int) + (xx * cells).astype(int)) % 2 * 255).astype(np.uint8)
        yield "synthetic", f"checkerboard {cells}", np.repeat(board[..., None], 3, -1)
    for value in (0, 128, 255):
        yield "synthetic", f"solid {value}", np.full((size, size, 3), value, np.uint8)
    text = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(text)
    for line in range(12):
        draw.text((10, 10 + 20 * line), "Lorem ipsum dolor sit amet, consectetur", fill="black")
    yield "document", "text page", np.asarray(text)
    for i in range(3):  # a chest-X-ray-like picture: bright body, darker lungs, rib bands
        body = ((xx - 0.5) ** 2 / 0.16 + (yy - 0.55) ** 2 / 0.2 < 1).astype(float) * 170
        lungs = ((xx - 0.33) ** 2 / 0.01 + (yy - 0.5) ** 2 / 0.06 < 1) | (
            (xx - 0.67) ** 2 / 0.01 + (yy - 0.5) ** 2 / 0.06 < 1
        )
        picture = body - lungs * 110 + lungs * 40 * (np.sin(yy * (40 + 5 * i)) > 0.6)
        picture = np.clip(picture + rng.normal(0, 8, picture.shape), 0, 255).astype(np.uint8)
        yield "x-ray-like", f"chest x-ray-like {i}", np.repeat(picture[..., None], 3, -1)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _web_pages(rng: np.random.Generator) -> Generated:
    """App-like layouts: a sidebar, a title, paragraphs, buttons, a table and a picture, light and dark."""
    from skimage import data as skdata

    pictures = [skdata.camera(), skdata.coins(), skdata.moon(), skdata.shepp_logan_phantom()]
    for i in range(8):
        dark = i % 4 == 3
        background, ink, panel = (
            ((14, 17, 23), (250, 250, 250), (38, 39, 48)) if dark else ("white", (20, 21, 26), (240, 242, 246))
        )
        page = Image.new("RGB", (1200, 800), background)
        draw = ImageDraw.Draw(page)
        draw.rectangle((0, 0, 260, 800), fill=panel)
        for row in range(6):
            draw.text((24, 40 + 36 * row), f"Page {row + 1}", fill=ink, font=_font(18))
        draw.text(
            (300, 40),
            "Brain MRI tumour classifier" if i % 2 else "Evaluation on held-out scans",
            fill=ink,
            font=_font(34),
        )
        for line in range(int(rng.integers(4, 10))):
            words = " ".join("lorem ipsum dolor sit amet".split()[: int(rng.integers(2, 5))] * 4)
            draw.text((300, 110 + 24 * line), words, fill=ink, font=_font(16))
        draw.rounded_rectangle((300, 360, 480, 400), 8, fill=(255, 75, 75))
        for r in range(5):
            for c in range(4):
                draw.rectangle((520 + 150 * c, 360 + 34 * r, 670 + 150 * c, 394 + 34 * r), outline=(200, 200, 200))
        picture = Image.fromarray(_rgb_uint8(pictures[i % len(pictures)])).resize((300, 300))
        page.paste(picture, (300 + 40 * (i % 3), 440))
        yield "web page", f"web page layout {i}" + (" (dark)" if dark else ""), np.asarray(page)


def _documents(rng: np.random.Generator) -> Generated:
    """A letter, a form, a spreadsheet and a slide."""
    letter = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(letter)
    for line in range(40):
        draw.text(
            (70, 80 + 24 * line),
            "The patient was seen in clinic today and the findings were discussed."[: int(rng.integers(30, 70))],
            fill="black",
            font=_font(15),
        )
    yield "office document", "letter", np.asarray(letter)
    form = Image.new("RGB", (850, 1100), (250, 250, 245))
    draw = ImageDraw.Draw(form)
    for row in range(14):
        draw.text((60, 70 + 70 * row), f"Field {row + 1}:", fill="black", font=_font(18))
        draw.rectangle((220, 62 + 70 * row, 780, 100 + 70 * row), outline="black", width=2)
    yield "office document", "form", np.asarray(form)
    sheet = Image.new("RGB", (1000, 700), "white")
    draw = ImageDraw.Draw(sheet)
    for r in range(25):
        for c in range(8):
            draw.rectangle(
                (20 + 120 * c, 20 + 26 * r, 140 + 120 * c, 46 + 26 * r),
                outline=(190, 190, 190),
                fill=(232, 240, 254) if r == 0 else None,
            )
            draw.text((26 + 120 * c, 25 + 26 * r), f"{rng.integers(0, 999)}", fill="black", font=_font(13))
    yield "office document", "spreadsheet", np.asarray(sheet)
    slide = Image.new("RGB", (1280, 720), (24, 52, 110))
    draw = ImageDraw.Draw(slide)
    draw.text((80, 80), "Results", fill="white", font=_font(64))
    for line in range(5):
        draw.text((110, 220 + 70 * line), f"- finding number {line + 1}", fill="white", font=_font(36))
    yield "office document", "slide", np.asarray(slide)


def _charts() -> Generated:
    """Matplotlib figures, as a student would screenshot them: line, bars, scatter, a heat map, a pie."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    drawers = {
        "line chart": lambda ax: ax.plot(np.cumsum(rng.normal(size=(100, 3)), axis=0)),
        "bar chart": lambda ax: ax.bar(list("ABCDE"), rng.uniform(1, 10, 5)),
        "scatter plot": lambda ax: ax.scatter(*rng.normal(size=(2, 200)), c=rng.uniform(size=200)),
        "heat map": lambda ax: ax.imshow(rng.integers(0, 50, (4, 4)), cmap="Blues"),
        "pie chart": lambda ax: ax.pie(rng.uniform(1, 5, 4)),
        "histogram": lambda ax: ax.hist(rng.normal(size=1000), bins=30),
    }
    for name, draw in drawers.items():
        figure, axes = plt.subplots(figsize=(5, 4), dpi=80)
        draw(axes)
        axes.set_title(name)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
        yield "chart or drawing", name, np.asarray(Image.open(buffer).convert("RGB"))
    for i in range(3):  # line drawings: shapes in ink on paper
        drawing = Image.new("RGB", (SIZE, SIZE), "white")
        pen = ImageDraw.Draw(drawing)
        for _ in range(6 + 3 * i):
            x, y = rng.integers(0, SIZE - 60, 2)
            w, h = rng.integers(20, 90, 2)
            shape = pen.ellipse if rng.uniform() < 0.5 else pen.rectangle
            shape((int(x), int(y), int(x + w), int(y + h)), outline="black", width=3)
        yield "chart or drawing", f"line drawing {i}", np.asarray(drawing)


def _other_modalities(rng: np.random.Generator) -> Generated:
    """An ultrasound fan with speckle and a CT-like body slice: grey-scale medical pictures that are not brain MRI."""
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    for i in range(3):
        radius = np.hypot(xx - SIZE / 2, yy - 10)
        angle = np.degrees(np.arctan2(xx - SIZE / 2, yy - 10))
        fan = (radius < SIZE * 0.95) & (np.abs(angle) < 35 + 5 * i)
        speckle = rng.rayleigh(45, (SIZE, SIZE)) * fan
        echo = 90 * np.exp(-(((radius - 120 - 15 * i) / 12) ** 2)) * fan
        picture = np.clip(speckle + echo, 0, 255).astype(np.uint8)
        yield "other modality", f"ultrasound-like {i}", np.repeat(picture[..., None], 3, -1)
    for i in range(3):
        body = ((xx - 128) / 115) ** 2 + ((yy - 128) / (80 + 5 * i)) ** 2 < 1
        lungs = (((xx - 85) / 35) ** 2 + ((yy - 115) / 50) ** 2 < 1) | (
            ((xx - 171) / 35) ** 2 + ((yy - 115) / 50) ** 2 < 1
        )
        spine = ((xx - 128) / 14) ** 2 + ((yy - 185) / 14) ** 2 < 1
        picture = body * 110.0 - lungs * 100 + spine * 140 + rng.normal(0, 6, body.shape) * body
        yield (
            "other modality",
            f"CT-like body slice {i}",
            np.repeat(np.clip(picture, 0, 255).astype(np.uint8)[..., None], 3, -1),
        )


def _app_screenshots() -> Generated:
    for path in sorted(SCREENSHOT_DIR.glob("*.png")):
        yield "app screenshot", path.stem.replace("_", " "), decode_file(path).rgb


def _decoded(generated: Generated, part: str) -> list[tuple[str, str, str, np.ndarray]]:
    images = []
    for category, name, rgb in generated:
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
        images.append((part, category, name, decode_image(buffer.getvalue(), name).rgb))
    return images


@functools.cache  # built once per process: training, refitting and measuring the guard all read it
def out_of_distribution_images(seed: int = 0) -> list[tuple[str, str, str, np.ndarray]]:
    """(part, category, name, RGB uint8) of each image: the design part first, then the held-out part."""
    design = _decoded(iter([*_skimage_images(), *_synthetic_images(np.random.default_rng(seed))]), DESIGN)
    rng = np.random.default_rng(seed + 1)
    held_out = [*_app_screenshots(), *_web_pages(rng), *_documents(rng), *_charts(), *_other_modalities(rng)]
    return design + _decoded(iter(held_out), HELD_OUT)
