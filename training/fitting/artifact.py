"""Writes what training produces: the weights, the OOD guard and the model card.

The card is built once, here, from a typed `RunRecord` and the blocks of the files written beside it; later steps
(ONNX export, guard, scan type, slim) replace their own block through `model.schema.card.update_card`.
"""

from __future__ import annotations

import platform
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from model.core.architecture import FLOAT16_MIN_SIZE, save_weights_npz
from model.core.onnx_forward import available_cores
from model.core.ood import GUARD_FEATURES, THRESHOLD_RULE, OODDetector
from model.core.predict import KerasWeights
from model.core.registry import BACKBONES
from model.errors import ArtifactError
from model.schema.card import (
    CLASS_DIRS,
    CLASS_LABELS,
    OOD_GUARD_FILE,
    WEIGHTS_FILE,
    DatasetSummary,
    History,
    Machine,
    ModelCard,
    Timings,
    TrainingSettings,
    ValidationSummary,
    load_card,
    plain_json,
    sha256_file,
    update_card,
    write_card,
)

NAME = "Brain-MRI tumour classifier (Xception transfer learning)"
NOTICE = "Research and teaching demo. Not a medical device."
BACKBONE_WEIGHTS = "ImageNet Xception (include_top=False), SHA-256 verified"
CALIBRATION_METHOD = "temperature scaling on validation logits"
OUTPUT = "logits; probabilities = softmax(logits / temperature)"


@dataclass(frozen=True)
class RunRecord:
    """What a training run records about one set of weights, typed block by block as the app reads them."""

    candidate: str
    created: str
    command: str
    image_size: int
    backbone: str
    fine_tuned_from_layer: str
    last_conv_layer: str
    preprocessing: dict[str, str]
    training_config: TrainingSettings
    dataset: DatasetSummary
    validation: ValidationSummary
    history: History
    timings: Timings
    machine: Machine
    distribution_strategy: str


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
    record: RunRecord,
    temperature: float,
    tta_flip: bool,
    ood: OODDetector | None,
) -> ModelCard:
    """Saves weights (+ guard) into `out_dir` and writes the card once: the run's record and the files' blocks."""
    out_dir.mkdir(parents=True, exist_ok=True)
    card: dict[str, Any] = {
        "name": NAME,
        "notice": NOTICE,
        "class_dirs": list(CLASS_DIRS),
        "class_names": [CLASS_LABELS[c] for c in CLASS_DIRS],
        "backbone_weights": BACKBONE_WEIGHTS,
        **plain_json(record),
        "artifact": write_weights(model, out_dir, record.backbone),
        "calibration": {"method": CALIBRATION_METHOD, "temperature": temperature},
        "inference": {"tta_flip": tta_flip, "output": OUTPUT},
    }
    if ood is not None:
        card["ood"] = write_guard(ood, out_dir)
    return write_card(out_dir, card)


def write_weights(
    model: keras.Model, out_dir: Path, backbone: str, same_weights_as: Sequence[str] = ()
) -> dict[str, Any]:
    """Saves the weights into `out_dir`, leaving out what the ImageNet backbone holds; returns the card's block.

    `same_weights_as` lists earlier files of bit-identical weights (`slim_weights`), whose recorded results
    still describe this model.
    """
    weights_path = Path(out_dir) / WEIGHTS_FILE
    base_weights = BACKBONES[backbone].base_weights
    base = base_weights() if base_weights is not None else None
    left_out = save_weights_npz(model, weights_path, base)
    sha256 = sha256_file(weights_path)
    return {
        "weights_file": WEIGHTS_FILE,
        "sha256": sha256,
        "bytes": weights_path.stat().st_size,
        "storage": f"npz; float16 for arrays with >= {FLOAT16_MIN_SIZE} values, float32 otherwise",
        "arrays_from_imagenet": left_out,
        "imagenet": "arrays equal to the verified ImageNet backbone (as stored) are left out and read from it at load",
        "same_weights_as": [earlier for earlier in same_weights_as if earlier != sha256],  # a rewrite may not change it
    }


def slim_weights(artifact_dir: Path) -> dict[str, Any]:
    """Rewrites an artifact's weights file without the arrays the ImageNet backbone holds; returns the card's block.

    The new file is checked to load into bit-identical weights before it replaces the old one, and the old
    file's SHA-256 joins `same_weights_as`, so evaluations and run records made for it still name this model.
    """
    card = load_card(artifact_dir)
    model = KerasWeights(Path(artifact_dir) / card.weights_file, card.weights_sha256).load(card)
    with tempfile.TemporaryDirectory() as tmp:
        earlier = [*card.same_weights_as, card.weights_sha256]
        block = write_weights(model, Path(tmp), card.backbone, earlier)
        reloaded = KerasWeights(Path(tmp) / WEIGHTS_FILE, block["sha256"]).load(card)
        for before, after in zip(model.weights, reloaded.weights, strict=True):
            if not np.array_equal(before.numpy(), after.numpy()):
                raise ArtifactError(
                    "the rewritten weights differ at {path}; the artifact is left as it was", path=before.path
                )
        shutil.move(Path(tmp) / WEIGHTS_FILE, Path(artifact_dir) / WEIGHTS_FILE)
    update_card(artifact_dir, artifact=block)
    return block


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
