"""Writes what training produces: the weights, the OOD guard and the model card."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from model.architecture import FLOAT16_MIN_SIZE, save_weights_npz
from model.card import OOD_GUARD_FILE, WEIGHTS_FILE, sha256_file, write_card
from model.onnx_forward import available_cores
from model.ood import GUARD_FEATURES, THRESHOLD_RULE, OODDetector


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": available_cores(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def write_artifact(
    model: keras.Model,
    out_dir: Path,
    card: dict[str, Any],
    temperature: float,
    tta_flip: bool,
    ood: OODDetector | None,
) -> dict[str, Any]:
    """Saves weights (+ guard) into `out_dir` and a card that records their SHA-256."""
    out_dir.mkdir(parents=True, exist_ok=True)
    weights_path = out_dir / WEIGHTS_FILE
    save_weights_npz(model, weights_path)
    card = dict(card)
    card["artifact"] = {
        "weights_file": WEIGHTS_FILE,
        "sha256": sha256_file(weights_path),
        "bytes": weights_path.stat().st_size,
        "storage": f"npz; float16 for arrays with >= {FLOAT16_MIN_SIZE} values, float32 otherwise",
    }
    card["calibration"] = {"method": "temperature scaling on validation logits", "temperature": temperature}
    card["inference"] = {"tta_flip": tta_flip, "output": "logits; probabilities = softmax(logits / temperature)"}
    if ood is not None:
        card["ood"] = write_guard(ood, out_dir)
    write_card(out_dir, card)
    return card


def write_guard(ood: OODDetector, out_dir: Path) -> dict[str, Any]:
    """Saves the guard into `out_dir`; returns the card's `ood` block."""
    ood_path = Path(out_dir) / OOD_GUARD_FILE
    ood.save(ood_path)
    return {
        "file": OOD_GUARD_FILE,
        "sha256": sha256_file(ood_path),
        "threshold": ood.threshold,
        "threshold_rule": THRESHOLD_RULE,
        "features": GUARD_FEATURES,
        "method": "min class-conditional Mahalanobis distance, probabilistic-PCA covariance",
    }
