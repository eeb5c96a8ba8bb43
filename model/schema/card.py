"""Where the shipped artifact lives and what its model card says.

Class names, input size and the calibration temperature are read from the card
that training writes, so the app and the evaluation never hard-code them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Callable

from model.errors import ArtifactError
from model.i18n import N_
from model.schema.tables import ClassificationScores, GroupScores, typed

ARTIFACT_DIR = Path(__file__).resolve().parents[1] / "artifacts"
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
SCAN_TYPE_FILE = "scan_type.npz"  # the scan-type recogniser (python -m training scan-type)
SCAN_TYPE_EVALUATION_FILE = "scan_type.json"  # its scores on held-out case groups
GROUP_RESCORE_FILE = "group_rescore.json"  # the worst-group selection rule, per run (python -m training rescore)
SALIENCY_FILE = "saliency_evaluation.json"
TRUST_FILE = "trust.json"  # prediction sets and referral threshold (python -m training trust)
ROBUSTNESS_FILE = "robustness.json"  # accuracy under acquisition changes (python -m training robustness)
PRECISION_FILE = "precision.json"  # low-precision forward passes against float32 (python -m training precision)
SAMPLES_DIR = ARTIFACT_DIR / "samples"
GALLERY_DIR = "gallery"  # misclassified Testing scans, beside the evaluation (python -m training evaluate)

# Folder names of the dataset, in label order; training copies them into the card.
NO_TUMOUR = "no_tumor"  # the one class that is not a tumour
CLASS_DIRS: tuple[str, ...] = ("glioma_tumor", "meningioma_tumor", NO_TUMOUR, "pituitary_tumor")
CLASS_LABELS: dict[str, str] = {  # English, as in the card; the app translates them where it shows them
    "glioma_tumor": N_("Glioma"),
    "meningioma_tumor": N_("Meningioma"),
    "no_tumor": N_("No tumour"),
    "pituitary_tumor": N_("Pituitary tumour"),
}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Every JSON file written beside an artifact carries "schema_version". A reader upgrades an older file through
# MIGRATIONS, one version at a time, and refuses a newer one. Version 2 (2026-11-25) only added the field.
SCHEMA_VERSIONS: dict[str, int] = {
    CARD_FILE: 2,
    EVALUATION_FILE: 2,
    AUDIT_FILE: 3,
    OOD_EVALUATION_FILE: 2,
    CANDIDATES_FILE: 2,
    RESCORE_FILE: 2,
    GROUP_RESCORE_FILE: 1,
    SCAN_TYPE_EVALUATION_FILE: 1,
    SALIENCY_FILE: 2,
    TRUST_FILE: 3,
    ROBUSTNESS_FILE: 3,
    PRECISION_FILE: 1,
}
MIGRATIONS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {
    **{(kind, 1): dict for kind in SCHEMA_VERSIONS},
    (CANDIDATES_FILE, 1): lambda data: {"runs": data},  # version 1 kept the runs at the top level
    # version 2 ranked scans by confidence only
    (TRUST_FILE, 2): lambda data: data | {"coverage_curves": {"confidence": data["coverage_curves"]}},
    (AUDIT_FILE, 2): lambda data: _audit_v3(data),  # "class" is not an attribute name: "class_dir"
    (ROBUSTNESS_FILE, 2): lambda data: data | {"results": {k: _robustness_v3(v) for k, v in data["results"].items()}},
}


def _class_dir(row: dict[str, Any]) -> dict[str, Any]:
    return {("class_dir" if key == "class" else key): value for key, value in row.items()}


def _audit_v3(data: dict[str, Any]) -> dict[str, Any]:
    splits = {
        name: split
        | {"conflicting_label_groups": [[_class_dir(r) for r in g] for g in split["conflicting_label_groups"]]}
        for name, split in data["splits"].items()
    }
    return data | {"splits": splits, "label_conflicts": [_class_dir(r) for r in data.get("label_conflicts", [])]}


def _robustness_v3(subset: dict[str, Any]) -> dict[str, Any]:
    """Version 2 kept the uncorrupted scans' scores beside the changes, under "none"."""
    return {"clean": subset["none"], "corrupted": {k: v for k, v in subset.items() if k != "none"}}


def plain_json(value: Any) -> Any:
    """A typed table read from an earlier file, written back as the JSON object it came from."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} cannot be written to a result file")


def write_record(path: Path, kind: str, data: dict[str, Any], indent: int = 2) -> None:
    """The one writer of the JSON files beside an artifact: `kind` is the file's canonical name. `data` may hold
    typed tables of an earlier file (a run merged into candidates.json), written as plain JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"schema_version": SCHEMA_VERSIONS[kind], **{k: v for k, v in data.items() if k != "schema_version"}}
    path.write_text(json.dumps(record, indent=indent, default=plain_json), encoding="utf-8")


def read_record(path: Path, kind: str) -> dict[str, Any]:
    """Reads a file written by `write_record` (or before it), upgraded to the current schema of its kind."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # missing, unreadable, not UTF-8 or not JSON
        raise ArtifactError("{file} cannot be read: {error}", file=Path(path).name, error=error) from error
    version, current = data.get("schema_version", 1), SCHEMA_VERSIONS[kind]
    if version > current:
        raise ArtifactError(f"{Path(path).name} has schema version {version}; this code reads up to {current}.")
    while version < current:
        data = MIGRATIONS[(kind, version)](data)
        version += 1
    data["schema_version"] = current
    return data


@dataclass(frozen=True)
class GuardFile:
    """The card's `ood` block: the not-an-MRI guard's file and how it was fitted (`training.artifact.write_guard`)."""

    file: str
    sha256: str
    threshold: float
    threshold_rule: str
    method: str
    features: str = ""  # empty: a guard from before the frozen-layer guard, which the app refuses


@dataclass(frozen=True)
class ScanTypeFile:
    """The card's `scan_type` block: the scan-type recogniser's file (`training.scan_type.fit_scan_type`)."""

    file: str
    sha256: str
    sequences: list[str]
    unsure_below: float


@dataclass(frozen=True)
class OnnxExport:
    """The card's `onnx` block: the ONNX export and its check against Keras (`training.export.export_onnx`)."""

    file: str
    sha256: str
    bytes: int
    precision: str
    float16_arrays: int
    opset: int
    max_logit_difference_vs_tensorflow: float
    probe_images: int
    versions: dict[str, str]


@dataclass(frozen=True)
class TrainingSettings:
    """The card's `training_config` block: `training.config.TrainConfig` as the run recorded it, paths as strings.
    Cards from before a setting existed lack it and read the value that meant "off"."""

    data_dir: str
    out_dir: str
    run_dir: str | None  # None (or "None", in cards written before this was fixed): the run chose its own folder
    backbone: str
    image_size: int
    views: int
    seed: int
    batch_size: int
    label_smoothing: float
    dropout: float
    interpolation_steps: int
    head_epochs: int
    head_learning_rate: float
    finetune_epochs: int
    finetune_learning_rate: float
    patience: int
    augment: dict[str, float]  # `training.augment.AugmentConfig`, which reads older blocks (`recorded`)
    extra_data_dirs: list[str] = field(default_factory=list)
    mixup: float = 0.0
    attention_weight: float = 0.0
    masks_dir: str | None = None
    init_from: str | None = None
    balance_sources: bool = False


@dataclass(frozen=True)
class DatasetSummary:
    """The card's `dataset` block: what the model was trained and validated on."""

    source: str
    split_used: str
    fingerprint_sha256: str
    images: int
    train_images: int
    validation_images: int
    duplicate_groups: int
    near_duplicate_phash_distance: int
    class_counts: dict[str, int]  # by class folder
    sources: list[str] = field(default_factory=list)  # empty: a card from before the second source (Sartaj alone)
    validation_groups: dict[str, int] = field(default_factory=dict)  # source x sequence -> validation scans


@dataclass(frozen=True)
class ViewLoss:
    """A choice by the loss over clean, mirrored and augmented validation views (cards before two sources)."""

    nll_all_views: float
    nll_all_views_at_fitted_temperature: float
    accuracy_all_views: float
    accuracy_clean: float
    alpha: float | None = None  # an interpolation step
    weights: str | None = None  # an end of stage 2


@dataclass(frozen=True)
class WorstGroupLoss:
    """A choice by the worst group's loss at its fitted temperature (`training.selection.validation_scores`)."""

    worst_group_nll: float
    worst_group: str
    nll_at_fitted_temperature: float
    accuracy_clean: float
    groups: dict[str, GroupScores]
    alpha: float | None = None
    weights: str | None = None
    mean_group_nll: float | None = None  # reported beside the worst (cards before three sources have none)


@dataclass(frozen=True)
class Selection:
    """How training chose the end of stage 2 and the interpolation between stage 1 and it."""

    criterion: str
    alpha: float
    interpolation: list[WorstGroupLoss | ViewLoss]
    stage2_end: str = "best checkpoint"
    averaging: list[WorstGroupLoss | ViewLoss] = field(default_factory=list)
    candidates_worst_group_nll: dict[str, float] = field(default_factory=dict)
    candidates_nll_all_views: dict[str, float] = field(default_factory=dict)  # cards before two sources

    @property
    def by_worst_group(self) -> bool:
        return bool(self.candidates_worst_group_nll)


@dataclass(frozen=True)
class ValidationSummary:
    """The card's `validation` block: each candidate's accuracy, the choice, calibration and the chosen one's scores."""

    candidates_accuracy: dict[str, float]
    selected: str
    tta_flip_accuracy: float
    no_tta_accuracy: float
    nll_before_calibration: float
    nll_after_calibration: float
    report: ClassificationScores
    selection: Selection | None = None  # None: a card from before the selection was recorded


@dataclass(frozen=True)
class History:
    """The card's `history` block: per-epoch Keras metrics of each stage, by metric name."""

    stage1_head: dict[str, list[float]]
    stage2_finetune: dict[str, list[float]]


@dataclass(frozen=True)
class Timings:
    """The card's `timings` block: seconds per stage (a stage a run skipped has None)."""

    total_wall_s: float
    hash_and_split_s: float | None = None
    cache_frozen_layers_s: float | None = None
    cache_images_computed: int | None = None  # 0: the frozen-layer cache was reused
    stage1_head_s: float | None = None
    stage1_images_per_s: float | None = None
    outline_views_s: float | None = None
    stage2_finetune_s: float | None = None
    stage2_images_per_s: float | None = None
    interpolation_s: float | None = None


@dataclass(frozen=True)
class Machine:
    """The card's `machine` block: where the model was trained."""

    platform: str
    cpu: str
    cpu_count: int
    gpus: list[str]
    python: str
    tensorflow: str
    keras: str
    numpy: str


# The card's blocks that training writes about the run, each read as its dataclass (absent on the tiny model's card).
TRAINING_RECORDS: dict[str, type] = {
    "training_config": TrainingSettings,
    "dataset": DatasetSummary,
    "validation": ValidationSummary,
    "history": History,
    "timings": Timings,
    "machine": Machine,
}


@dataclass
class ModelCard:
    """The model card, read through attributes; `write_card` and `update_card` are its only writers."""

    class_dirs: list[str]
    class_names: list[str]
    image_size: int
    backbone: str
    temperature: float
    weights_file: str
    weights_sha256: str
    weights_bytes: int = 0
    tta_flip: bool = False
    same_weights_as: tuple[str, ...] = ()  # SHA-256s of earlier files of bit-identical weights (training slim)
    ood: GuardFile | None = None
    onnx: OnnxExport | None = None
    scan_type: ScanTypeFile | None = None
    last_conv_layer: str | None = None
    candidate: str = ""
    created: str = ""
    command: str = ""  # the command line of the run that produced the weights ("" on cards before it was recorded)
    training_config: TrainingSettings | None = None  # None: a card without training records (the tiny model)
    dataset: DatasetSummary | None = None  # None: a card without training records (the tests' tiny model)
    validation: ValidationSummary | None = None
    history: History | None = None
    timings: Timings | None = None
    machine: Machine | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], strict: bool = False) -> "ModelCard":
        """The card, or an ArtifactError naming what is missing or unknown (the app says it cannot load); `strict`
        also refuses unknown keys inside the typed blocks (the writer's check)."""
        try:
            return cls._from_dict(data, strict)
        except (KeyError, TypeError) as error:
            raise ArtifactError("{file} does not follow its schema: {error}", file=CARD_FILE, error=error) from error

    @classmethod
    def _from_dict(cls, data: dict[str, Any], strict: bool) -> "ModelCard":
        return cls(
            class_dirs=list(data["class_dirs"]),
            class_names=list(data["class_names"]),
            image_size=int(data["image_size"]),
            backbone=str(data["backbone"]),
            temperature=float(data["calibration"]["temperature"]),
            weights_file=str(data["artifact"]["weights_file"]),
            weights_sha256=str(data["artifact"]["sha256"]),
            weights_bytes=int(data["artifact"].get("bytes", 0)),
            tta_flip=bool(data.get("inference", {}).get("tta_flip", False)),
            same_weights_as=tuple(data["artifact"].get("same_weights_as", ())),
            ood=GuardFile(**data["ood"]) if data.get("ood") else None,
            onnx=OnnxExport(**data["onnx"]) if data.get("onnx") else None,
            scan_type=ScanTypeFile(**data["scan_type"]) if data.get("scan_type") else None,
            last_conv_layer=data.get("last_conv_layer"),
            candidate=data.get("candidate", ""),
            created=data.get("created", ""),
            command=data.get("command", ""),
            **{
                name: typed(kind, data[name], f"{CARD_FILE} ({name})", strict) if data.get(name) else None
                for name, kind in TRAINING_RECORDS.items()
            },
        )

    def settings(self) -> TrainingSettings:
        """The run's settings, for training code that re-creates its split; a card without them is refused."""
        if self.training_config is None:
            raise ArtifactError("{file} records no training settings", file=CARD_FILE)
        return self.training_config

    def describes(self, weights_sha256: str) -> bool:
        """Whether a result recorded for the weights file `weights_sha256` is a result of this model."""
        return weights_sha256 == self.weights_sha256 or weights_sha256 in self.same_weights_as

    @property
    def num_classes(self) -> int:
        return len(self.class_dirs)


def load_card(artifact_dir: Path = ARTIFACT_DIR) -> ModelCard:
    return ModelCard.from_dict(read_record(Path(artifact_dir) / CARD_FILE, CARD_FILE))


def write_card(artifact_dir: Path, card: dict[str, Any]) -> ModelCard:
    """The one writer of the model card: refuses a card the app could not read, returns it typed."""
    checked = ModelCard.from_dict(card, strict=True)
    write_record(Path(artifact_dir) / CARD_FILE, CARD_FILE, card)
    return checked


def update_card(artifact_dir: Path, **blocks: Any) -> ModelCard:
    """Replaces whole top-level blocks of an artifact's card (a new ONNX export, guard or weights file)."""
    path = Path(artifact_dir) / CARD_FILE
    return write_card(artifact_dir, read_record(path, CARD_FILE) | blocks)
