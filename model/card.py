"""Where the shipped artifact lives and what its model card says.

Class names, input size and the calibration temperature are read from the card
that training writes, so the app and the evaluation never hard-code them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
ARTIFACT_ENV = "BRAIN_MRI_ARTIFACT_DIR"  # the app serves this folder instead, when set (the fast tests' tiny model)
WEIGHTS_FILE = "classifier.weights.npz"
CARD_FILE = "model_card.json"
ONNX_FILE = "classifier.onnx"
EVALUATION_FILE = "evaluation.json"
AUDIT_FILE = "audit.json"
OOD_GUARD_FILE = "ood_guard.npz"
OOD_EVALUATION_FILE = "ood_evaluation.json"
CANDIDATES_FILE = "candidates.json"
RESCORE_FILE = "validation_rescore.json"
SAMPLES_DIR = ARTIFACT_DIR / "samples"

# Folder names of the dataset, in label order; training copies them into the card.
CLASS_DIRS: tuple[str, ...] = ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")
CLASS_LABELS: dict[str, str] = {
    "glioma_tumor": "Glioma",
    "meningioma_tumor": "Meningioma",
    "no_tumor": "No tumour",
    "pituitary_tumor": "Pituitary tumour",
}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class ModelCard:
    """The subset of the card JSON that code depends on; everything else stays in `raw`."""

    class_dirs: list[str]
    class_names: list[str]
    image_size: int
    backbone: str
    temperature: float
    weights_file: str
    weights_sha256: str
    tta_flip: bool = False
    ood: dict[str, Any] | None = None
    onnx: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelCard":
        return cls(
            class_dirs=list(data["class_dirs"]),
            class_names=list(data["class_names"]),
            image_size=int(data["image_size"]),
            backbone=str(data["backbone"]),
            temperature=float(data["calibration"]["temperature"]),
            weights_file=str(data["artifact"]["weights_file"]),
            weights_sha256=str(data["artifact"]["sha256"]),
            tta_flip=bool(data.get("inference", {}).get("tta_flip", False)),
            ood=data.get("ood"),
            onnx=data.get("onnx"),
            raw=data,
        )

    @property
    def num_classes(self) -> int:
        return len(self.class_dirs)

    @property
    def fine_tuning(self) -> str:
        """How the backbone became this model, in words, from what training recorded."""
        selection = self.raw.get("validation", {}).get("selection", {})
        mixup = self.raw.get("training_config", {}).get("mixup")
        text = "exit flow fine-tuned"
        if selection.get("stage2_end", "best checkpoint") != "best checkpoint":
            text += f" ({selection['stage2_end']})"
        if mixup:
            text += f" with manifold mixup (Beta({mixup}, {mixup}))"
        attention = self.raw.get("training_config", {}).get("attention_weight")
        if attention:
            text += f", guided by radiologists' tumour outlines (attention weight λ = {attention})"
        if selection and self.raw.get("candidate") == "weight_interpolated":
            text += f" and mixed with the frozen-backbone head (α = {selection['alpha']:.1f})"
        return text

    @property
    def how_chosen(self) -> str:
        """Which candidate training kept and by what, in words, from what training recorded."""
        validation = self.raw["validation"]
        selection = validation.get("selection")
        text = (
            "Validation accuracy of each candidate (a duplicate-aware split of Training): "
            + ", ".join(f"{k.replace('_', ' ')} {v:.1%}" for k, v in validation["candidates_accuracy"].items())
            + f"; selected: {validation['selected'].replace('_', ' ')}"
        )
        if not selection:
            return text + "."
        return text + (
            f" (α = {selection['alpha']:.1f} between the stage-1 weights and the end of stage 2, its "
            f"{selection.get('stage2_end', 'best checkpoint')}; lowest validation loss over clean, mirrored and "
            "augmented views)."
        )


def load_card(artifact_dir: Path = ARTIFACT_DIR) -> ModelCard:
    path = Path(artifact_dir) / CARD_FILE
    with open(path, encoding="utf-8") as handle:
        return ModelCard.from_dict(json.load(handle))


def load_json(name: str, artifact_dir: Path = ARTIFACT_DIR) -> dict[str, Any]:
    with open(Path(artifact_dir) / name, encoding="utf-8") as handle:
        return json.load(handle)
