"""Typed readers of the JSON result files beside an artifact: one frozen dataclass per file, read through attributes.

`write` checks the data against the same class before `card.write_record` stores it, so what training writes and
what the pages and the README read cannot drift apart. Nested tables (per-class metrics, per-scan rows, one entry
per corruption) stay plain dicts: their keys are data (class names, corruption names), not schema.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from model.errors import ArtifactError
from model.schema.card import (
    AUDIT_FILE,
    CANDIDATES_FILE,
    EVALUATION_FILE,
    GROUP_RESCORE_FILE,
    OOD_EVALUATION_FILE,
    RESCORE_FILE,
    ROBUSTNESS_FILE,
    SALIENCY_FILE,
    SCAN_TYPE_EVALUATION_FILE,
    SCHEMA_VERSIONS,
    TRUST_FILE,
    read_record,
    write_record,
)

Table = dict[str, Any]


@dataclass(frozen=True)
class Record:
    """A result file; `FILE` is its canonical name, which also picks its schema version and migrations."""

    FILE: ClassVar[str]
    schema_version: int

    @classmethod
    def from_dict(cls, data: dict[str, Any], strict: bool = False) -> Self:
        """The record, refusing a file that lacks a required key (and, when `strict`, one with an unknown key)."""
        known = {f.name: f for f in fields(cls)}
        required = [n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING]
        missing = [name for name in required if name not in data]
        unknown = [key for key in data if key not in known] if strict else []
        if missing or unknown:
            raise ArtifactError(
                "{file} does not follow its schema: missing {missing}, unknown {unknown}",
                file=cls.FILE,
                missing=", ".join(missing) or "none",
                unknown=", ".join(unknown) or "none",
            )
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class Evaluation(Record):
    """A split scored through the app's classification path (`python -m training evaluate`)."""

    FILE: ClassVar[str] = EVALUATION_FILE
    created: str
    split: str
    artifact_sha256: str
    artifact_dir: str
    candidate: str
    runtime: str
    class_names: list[str]
    dataset_fingerprint_sha256: str
    near_duplicate_rule: str
    full: Table
    leakage_clean: Table
    leaked_copies: Table
    leakage_counts: Table
    ood_flagged_fraction: float | None
    tta_flip: bool
    temperature: float
    wall_s: float
    images: list[Table]
    label_conflicts: int | None = None  # None: scored without the outlines folder
    without_label_conflicts: Table | None = None

    def subset(self, key: str) -> Table:
        """'full', 'leakage_clean' or 'leaked_copies' by name."""
        return {"full": self.full, "leakage_clean": self.leakage_clean, "leaked_copies": self.leaked_copies}[key]


@dataclass(frozen=True)
class Audit(Record):
    """Exact and near duplicates within and across the splits (`python -m training audit`)."""

    FILE: ClassVar[str] = AUDIT_FILE
    created: str
    dataset_fingerprint_sha256: str
    near_duplicate_rule: str
    class_names: Table
    splits: Table
    cross_split: Table
    summary: Table
    label_conflicts: list[Table] = field(default_factory=list)
    examples: Table = field(default_factory=dict)


@dataclass(frozen=True)
class GuardEvaluation(Record):
    """The not-an-MRI guard against Testing and the non-MRI images (`python -m training ood`)."""

    FILE: ClassVar[str] = OOD_EVALUATION_FILE
    created: str
    artifact_sha256: str
    guard_sha256: str
    threshold: float
    threshold_rule: str
    features: str
    in_distribution: Table
    out_of_distribution: Table
    auroc: float
    per_part: Table
    per_category: Table
    out_of_distribution_scores: list[Table]


@dataclass(frozen=True)
class Candidates(Record):
    """Every candidate of every training run, scored once on Testing after the run chose (`evaluate --run-dir`)."""

    FILE: ClassVar[str] = CANDIDATES_FILE
    runs: dict[str, dict[str, Table]]


@dataclass(frozen=True)
class Rescore(Record):
    """Finished artifacts scored again on their run's validation views (`python -m training rescore`)."""

    FILE: ClassVar[str] = RESCORE_FILE
    rows: list[Table]


@dataclass(frozen=True)
class GroupRescore(Record):
    """Artifacts scored by the worst-group rule on one run's clean validation views (`python -m training rescore`):
    per artifact, each source x sequence group's loss at its own fitted temperature, accuracy and sensitivity."""

    FILE: ClassVar[str] = GROUP_RESCORE_FILE
    rule: str
    cache_of: str  # the training configuration whose split and frozen-layer cache scored every row
    validation_groups: dict[str, int]
    rows: list[Table]


@dataclass(frozen=True)
class ScanTypeEvaluation(Record):
    """The scan-type recogniser on held-out case groups (`python -m training scan-type`)."""

    FILE: ClassVar[str] = SCAN_TYPE_EVALUATION_FILE
    artifact_sha256: str
    unsure_rule: str
    unsure_below: float
    train_scans: int
    validation: Table


@dataclass(frozen=True)
class SaliencyEvaluation(Record):
    """Every saliency method against the expert tumour outlines (`python -m training saliency`)."""

    FILE: ClassVar[str] = SALIENCY_FILE
    created: str
    artifact_sha256: str
    candidate: str
    class_names: list[str]
    methods: list[str]
    baselines: list[str]
    target: str
    pointing_tolerance: str
    slow_methods_subsample: Table
    sanity_check: str | None  # None: the randomised-model check was not run
    skipped_outline_too_small: list[Any]
    tables: Table
    absolute_scales: Table
    scans: list[Table]
    wall_s: float
    gallery: list[Table] = field(default_factory=list)  # drawn only when every method was scored


@dataclass(frozen=True)
class TrustEvaluation(Record):
    """Prediction sets and the referral threshold, fitted on validation (`python -m training trust`)."""

    FILE: ClassVar[str] = TRUST_FILE
    artifact_sha256: str
    alpha: float
    qhat: float
    referred_share_on_validation: float
    referral_threshold: float
    sets: Table
    referral: Table
    coverage_curves: Table
    wall_s: float
    mondrian: dict[str, dict[str, float]] = field(default_factory=dict)  # per scan type: n, qhat, referral threshold
    groups: Table = field(default_factory=dict)  # per source x sequence, on held-out halves of validation


@dataclass(frozen=True)
class RobustnessEvaluation(Record):
    """Accuracy under simulated acquisition changes (`python -m training robustness`)."""

    FILE: ClassVar[str] = ROBUSTNESS_FILE
    created: str
    artifact_sha256: str
    seed: int
    validation_sample: int
    scans: Table
    corruptions: list[str]
    severities: list[int]
    results: Table
    wall_s: float


R = TypeVar("R", bound=Record)
RECORD_KINDS: dict[str, type[Record]] = {
    kind.FILE: kind
    for kind in (
        Evaluation,
        Audit,
        GuardEvaluation,
        Candidates,
        Rescore,
        GroupRescore,
        ScanTypeEvaluation,
        SaliencyEvaluation,
        TrustEvaluation,
        RobustnessEvaluation,
    )
}


def read(kind: type[R], path: Path) -> R:
    """A result file, upgraded to the current schema of its kind and checked against it."""
    return kind.from_dict(read_record(Path(path), kind.FILE))


def load(kind: type[R], artifact_dir: Path) -> R | None:
    """The artifact's file of this kind, or None when it has not been produced yet."""
    path = Path(artifact_dir) / kind.FILE
    return read(kind, path) if path.exists() else None


def write(kind: type[R], path: Path, data: dict[str, Any], indent: int = 2) -> R:
    """The one writer of result files: the data must follow `kind` exactly; returns the record as written."""
    record = kind.from_dict({**data, "schema_version": SCHEMA_VERSIONS[kind.FILE]}, strict=True)
    write_record(Path(path), kind.FILE, data, indent=indent)
    return record
