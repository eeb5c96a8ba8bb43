"""Measure the "is this a brain MRI?" guard: Testing scans vs images that are clearly not brain MRI.

The out-of-distribution set is built from images that ship with scikit-image
(photos, microscopy, a retina, a Shepp-Logan head phantom, faces...) plus
synthetic ones (noise, gradients, text, checkerboards, a chest-X-ray-like
picture). The threshold was fixed on validation during training; this only
measures it.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image, ImageDraw
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from model.batch import BATCH
from model.card import OOD_EVALUATION_FILE, write_record
from model.decode import decode_file, decode_image
from model.predict import Classifier
from training.data import list_split


def _skimage_images() -> Iterator[tuple[str, str, np.ndarray]]:
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
        if image.dtype == bool:
            image = image.astype(np.uint8) * 255
        if image.dtype != np.uint8:
            image = (255 * (image - image.min()) / max(float(np.ptp(image)), 1e-9)).astype(np.uint8)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, -1)
        image = image[..., :3]
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


def _synthetic_images(rng: np.random.Generator) -> Iterator[tuple[str, str, np.ndarray]]:
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


def out_of_distribution_images(seed: int = 0) -> list[tuple[str, str, np.ndarray]]:
    """(category, name, RGB uint8) of each image; every one goes through the app's decoder first."""
    images = []
    for category, name, rgb in [*_skimage_images(), *_synthetic_images(np.random.default_rng(seed))]:
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
        images.append((category, name, decode_image(buffer.getvalue(), name).rgb))
    return images


def _scores(classifier: Classifier, images: list[np.ndarray]) -> np.ndarray:
    scores = []
    for start in tqdm(range(0, len(images), BATCH), desc="scoring", unit="batch", leave=False):
        scores += [p.ood_score for _, p in classifier.classify_images(images[start : start + BATCH])]
    return np.array(scores, dtype=np.float64)


def evaluate_guard(data_dir: Path, split: str, artifact_dir: Path, out: Path) -> dict[str, Any]:
    classifier = Classifier.from_artifact(artifact_dir)
    if classifier.ood is None:
        raise ValueError("this artifact has no OOD guard")
    threshold = classifier.ood.threshold
    samples = list_split(data_dir, split, classifier.card.class_dirs)
    in_scores = _scores(classifier, [decode_file(s.path).rgb for s in samples])
    ood = out_of_distribution_images()
    out_scores = _scores(classifier, [rgb for _, _, rgb in ood])
    labels = np.r_[np.zeros(len(in_scores)), np.ones(len(out_scores))]
    categories = sorted({c for c, _, _ in ood})
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "artifact_sha256": classifier.card.weights_sha256,
        "threshold": threshold,
        "threshold_rule": "99th percentile of validation scores (fixed during training)",
        "in_distribution": {
            "split": split,
            "images": len(in_scores),
            "flagged": int((in_scores > threshold).sum()),
            "false_alarm_rate": float((in_scores > threshold).mean()),
        },
        "out_of_distribution": {
            "images": len(out_scores),
            "detected": int((out_scores > threshold).sum()),
            "detection_rate": float((out_scores > threshold).mean()),
        },
        "auroc": float(roc_auc_score(labels, np.r_[in_scores, out_scores])),
        "per_category": {
            c: {
                "images": int(sum(cat == c for cat, _, _ in ood)),
                "detection_rate": float(
                    np.mean([s > threshold for (cat, _, _), s in zip(ood, out_scores) if cat == c])
                ),
            }
            for c in categories
        },
        "out_of_distribution_scores": [
            {"category": c, "name": n, "score": float(s), "flagged": bool(s > threshold)}
            for (c, n, _), s in zip(ood, out_scores)
        ],
    }
    write_record(out, OOD_EVALUATION_FILE, report, indent=1)
    return report
