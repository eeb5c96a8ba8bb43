"""Typed readers of the JSON result files beside an artifact: one frozen dataclass per file, read through
attributes all the way down (`model.schema.tables`).

`write` checks the data against the same class before `card.write_record` stores it, so what training writes and
what the pages and the README read cannot drift apart. A dict remains only where its keys are data (class names,
corruption names, groups); its values are typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from model.schema.card import (
    AUDIT_FILE,
    CANDIDATES_FILE,
    EVALUATION_FILE,
    GROUP_RESCORE_FILE,
    OOD_EVALUATION_FILE,
    PRECISION_FILE,
    RESCORE_FILE,
    ROBUSTNESS_FILE,
    SALIENCY_FILE,
    SCAN_TYPE_EVALUATION_FILE,
    SCHEMA_VERSIONS,
    TRUST_FILE,
    plain_json,
    read_record,
    write_record,
)
from model.schema.tables import (
    ClassificationScores,
    Detection,
    GroupScores,
    Interval,
    Localisation,
    Proportion,
    typed,
)


@dataclass(frozen=True)
class Record:
    """A result file; `FILE` is its canonical name, which also picks its schema version and migrations."""

    FILE: ClassVar[str]
    schema_version: int

    @classmethod
    def from_dict(cls, data: dict[str, Any], strict: bool = False) -> Self:
        """The record, refusing a file that lacks a required key or holds a wrong type (and, when `strict`, one
        with an unknown key)."""
        return typed(cls, data, cls.FILE, strict)


# ---- evaluation.json -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredScan:
    """One Testing scan as the app classified it, with its leakage facts."""

    path: str
    label: int
    predicted: int
    probabilities: list[float]
    ood_score: float | None
    out_of_distribution: bool
    leaked: bool
    exact_copy: bool
    phash_distance: int
    nearest_training_image: str
    label_conflict: bool
    scan_type: str | None  # `model.core.trust.type_key` (older files: the sequence); None: no recogniser
    duplicate_group: int
    gallery_image: str | None = None  # misclassified scans only, when the gallery was drawn


@dataclass(frozen=True)
class LeakCount:
    """A class's scans in one split, how many copy a Training scan, and how many byte for byte."""

    images: int
    leaked: int
    exact: int


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
    full: ClassificationScores
    leakage_clean: ClassificationScores | None  # None: no such scans in the split
    leaked_copies: ClassificationScores | None
    leakage_counts: dict[str, LeakCount]  # by class name
    ood_flagged_fraction: float | None
    tta_flip: bool
    temperature: float
    wall_s: float
    images: list[ScoredScan]
    label_conflicts: int | None = None  # None: scored without the outlines folder
    without_label_conflicts: ClassificationScores | None = None

    def subset(self, key: str) -> ClassificationScores | None:
        """'full', 'leakage_clean' or 'leaked_copies' by name."""
        return {"full": self.full, "leakage_clean": self.leakage_clean, "leaked_copies": self.leaked_copies}[key]


# ---- audit.json ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledPath:
    path: str
    class_dir: str


@dataclass(frozen=True)
class SplitAudit:
    images: int
    class_counts: dict[str, int]  # by class folder
    exact_duplicate_groups: int
    images_in_exact_groups: int
    near_duplicate_groups: int
    images_in_near_groups: int
    conflicting_label_groups: list[list[LabelledPath]]


@dataclass(frozen=True)
class CrossPair:
    """A Testing scan and the Training scan it copies."""

    test: str
    training: str
    test_class: str
    training_class: str
    exact: bool
    phash_distance: int
    test_image: str | None = None  # the pair's pictures, drawn for the examples only
    training_image: str | None = None


@dataclass(frozen=True)
class CrossSplit:
    per_class: dict[str, LeakCount]  # by class folder
    pairs: list[CrossPair]
    label_disagreements: list[CrossPair]


@dataclass(frozen=True)
class AuditSummary:
    training_images: int
    testing_images: int
    testing_leaked: int
    testing_exact_copies: int
    testing_leakage_clean: int


@dataclass(frozen=True)
class LabelConflict:
    """A scan whose class figshare's radiologists label otherwise."""

    scan: str
    class_dir: str
    figshare_label: str
    figshare_index: int
    image: str | None = None  # its picture, drawn when the audit had the examples folder


@dataclass(frozen=True)
class AuditExamples:
    grid: dict[str, list[str]]  # by class folder: pictures of a few scans
    leak_pairs: list[CrossPair]


@dataclass(frozen=True)
class Audit(Record):
    """Exact and near duplicates within and across the splits (`python -m training audit`)."""

    FILE: ClassVar[str] = AUDIT_FILE
    created: str
    dataset_fingerprint_sha256: str
    near_duplicate_rule: str
    class_names: dict[str, str]  # class folder -> name
    splits: dict[str, SplitAudit]
    cross_split: CrossSplit
    summary: AuditSummary
    label_conflicts: list[LabelConflict] = field(default_factory=list)
    examples: AuditExamples | None = None  # None: drawn without pictures


# ---- ood_evaluation.json ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FalseAlarms:
    split: str
    images: int
    flagged: int
    false_alarm_rate: float


@dataclass(frozen=True)
class GuardScore:
    part: str
    category: str
    name: str
    score: float
    flagged: bool


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
    in_distribution: FalseAlarms
    out_of_distribution: Detection
    auroc: float
    per_part: dict[str, Detection]  # "design", "held-out"
    per_category: dict[str, Detection]
    out_of_distribution_scores: list[GuardScore]


# ---- candidates.json, validation_rescore.json, group_rescore.json ----------------------------------


@dataclass(frozen=True)
class CandidateScore:
    """One candidate of a run, scored on Testing once after its run chose (older runs recorded less)."""

    artifact_sha256: str
    split: str
    validation_accuracy: float
    full: float
    leakage_clean: float
    leaked_copies: float
    finetune_epochs_run: int
    runtime: str
    chosen_by_run: bool
    validation_nll_all_views: float | None = None
    validation_worst_group_nll: float | None = None
    alpha: float | None = None  # weight interpolation's alpha
    run_wall_s: float | None = None
    testing_recall: dict[str, float] | None = None  # by class name
    testing_paths_sha256: str | None = None  # which scans, in which order, `testing_predictions` refers to
    testing_predictions: list[int] | None = None
    grad_cam_validation: Localisation | None = None


@dataclass(frozen=True)
class Candidates(Record):
    """Every candidate of every training run, scored once on Testing after the run chose (`evaluate --run-dir`)."""

    FILE: ClassVar[str] = CANDIDATES_FILE
    runs: dict[str, dict[str, CandidateScore]]  # run -> candidate -> scores


@dataclass(frozen=True)
class RescoredArtifact:
    artifact_dir: str
    candidate: str
    artifact_sha256: str
    nll_all_views: float
    nll_all_views_at_fitted_temperature: float
    accuracy_all_views: float
    accuracy_clean: float
    cpu: str | None = None  # the machine that built the cache (rows before it was recorded have none)


@dataclass(frozen=True)
class Rescore(Record):
    """Finished artifacts scored again on their run's validation views (`python -m training rescore`)."""

    FILE: ClassVar[str] = RESCORE_FILE
    rows: list[RescoredArtifact]


@dataclass(frozen=True)
class GroupRescored:
    """One artifact by the worst-group rule (`training.selection.validation_scores`)."""

    artifact_dir: str
    run: str
    candidate: str
    trained_on: list[str]
    artifact_sha256: str
    worst_group_nll: float
    worst_group: str
    nll_at_fitted_temperature: float
    accuracy_clean: float
    groups: dict[str, GroupScores]
    cpu: str
    beats_shipped: bool | None  # None: the shipped model's own row
    mean_group_nll: float | None = None  # reported beside the worst (rows before three sources have none)


@dataclass(frozen=True)
class GroupRescore(Record):
    """Artifacts scored by the worst-group rule on one run's clean validation views (`python -m training rescore`):
    per artifact, each source x sequence group's loss at its own fitted temperature, accuracy and sensitivity."""

    FILE: ClassVar[str] = GROUP_RESCORE_FILE
    rule: str
    cache_of: str  # the sources whose split gave every row's validation scans
    validation_groups: dict[str, int]
    rows: list[GroupRescored]


# ---- scan_type.json --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanTypeScores:
    n: int
    sequence_labels: list[str]
    confusion_matrix: list[list[int]]  # true sequence (rows) x recognised (columns, the last "unsure")
    sequence_accuracy: float
    unsure_share: float
    sequence_accuracy_per_source: dict[str, float]
    skull_stripped_accuracy: float
    plane_n: int = 0  # views whose plane is known (`training.data.planes`)
    plane_labels: list[str] = field(default_factory=list)
    plane_confusion_matrix: list[list[int]] = field(default_factory=list)  # true plane (rows) x recognised
    plane_accuracy: float | None = None
    plane_accuracy_per_source: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ScanTypeEvaluation(Record):
    """The scan-type recogniser on held-out case groups (`python -m training scan-type`)."""

    FILE: ClassVar[str] = SCAN_TYPE_EVALUATION_FILE
    artifact_sha256: str
    unsure_rule: str
    unsure_below: float
    train_scans: int
    validation: ScanTypeScores


# ---- saliency_evaluation.json ----------------------------------------------------------------------


@dataclass(frozen=True)
class MapScores:
    """One map of one scan against its outline (`model.core.localisation.scores`)."""

    pointing_game: float
    energy_share: float
    auprc: float
    scale: float | None = None  # the map's own range: baselines have none
    spearman_vs_randomised: float | None = None  # only with the randomised-model check


@dataclass(frozen=True)
class SaliencyScan:
    subset: str
    scan: str
    label: int
    predicted: int
    correct: bool
    area_share: float  # the outline's share of the image
    methods: dict[str, MapScores]  # by method name


@dataclass(frozen=True)
class MethodSummary:
    """Mean and bootstrap 95 % CI of each score over a group's scans; only `n` when the method scored none."""

    n: int
    pointing_game: float | None = None
    pointing_game_ci95: Interval | None = None
    energy_share: float | None = None
    energy_share_ci95: Interval | None = None
    auprc: float | None = None
    auprc_ci95: Interval | None = None
    spearman_vs_randomised: float | None = None
    spearman_vs_randomised_ci95: Interval | None = None
    area_share: float | None = None


@dataclass(frozen=True)
class SaliencySubset:
    scans: int
    groups: dict[str, dict[str, MethodSummary]]  # group ("all", a class, ...) -> method -> summary


@dataclass(frozen=True)
class Subsample:
    """Which scans the slow methods ran on: at most this many per subset, drawn with this seed."""

    max_scans_per_subset: int
    seed: int


@dataclass(frozen=True)
class GalleryEntry:
    kind: str  # "best", "typical", "worst"
    scan: str
    label: int
    file: str
    shares: dict[str, float]  # by method: the map's energy inside the outline


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
    slow_methods_subsample: Subsample
    sanity_check: str | None  # None: the randomised-model check was not run
    skipped_outline_too_small: list[str]
    tables: dict[str, SaliencySubset]  # "validation", "testing"
    absolute_scales: dict[str, float]  # by method
    scans: list[SaliencyScan]
    wall_s: float
    gallery: list[GalleryEntry] = field(default_factory=list)  # drawn only when every method was scored


# ---- trust.json ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetScores:
    """Conformal prediction sets on a set of scans: how often they hold the true class, and their sizes."""

    n: int
    coverage: float
    mean_size: float
    size_counts: dict[str, int]  # set size -> scans


@dataclass(frozen=True)
class ReferralScores:
    """What the referral threshold does on a set of scans; accuracy None where no scan is left on that side."""

    n: int
    referred_share: float
    accuracy_all: float
    accuracy_kept: float | None
    accuracy_referred: float | None


@dataclass(frozen=True)
class GroupTrust(SetScores):
    """Sets and referral on one validation group (source x sequence), on its held-out half."""

    referred_share: float
    accuracy_all: float
    accuracy_kept: float | None
    accuracy_referred: float | None


@dataclass(frozen=True)
class ScanTypeThresholds:
    """Mondrian conformal: the set threshold and the referral threshold fitted for one scan type."""

    n: int
    qhat: float
    referral_threshold: float
    accuracy: float | None = None  # on this type's validation scans (files before it was recorded have none)
    rendered_share: float = 0.0  # of those scans, the share that are validation scans skull-stripped by us


@dataclass(frozen=True)
class CoveragePoint:
    kept_share: float
    accuracy: float


@dataclass(frozen=True)
class TrustEvaluation(Record):
    """Prediction sets and the referral threshold, fitted on validation (`python -m training trust`)."""

    FILE: ClassVar[str] = TRUST_FILE
    artifact_sha256: str
    alpha: float
    qhat: float
    referred_share_on_validation: float
    referral_threshold: float
    sets: dict[str, SetScores]  # "validation", "testing", "testing_leakage_clean"
    referral: dict[str, ReferralScores]
    coverage_curves: dict[str, dict[str, list[CoveragePoint]]]  # ranking -> subset -> curve
    wall_s: float
    mondrian: dict[str, ScanTypeThresholds] = field(default_factory=dict)  # by scan type
    groups: dict[str, GroupTrust] = field(default_factory=dict)  # by source x sequence
    types: dict[str, GroupTrust] = field(default_factory=dict)  # by scan type (`model.core.trust.type_key`), held out
    # by source: fitted on the other sources' validation scans, applied to this one's (a hospital the fit never saw)
    unseen_sources: dict[str, GroupTrust] = field(default_factory=dict)
    worst_source_rule: bool = False  # each type's thresholds hold for its worst source (`trust.mondrian_fit`)


# ---- robustness.json -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RobustnessCell:
    """A set of scans under one setting: accuracy, mean confidence, and the share the guard flags."""

    accuracy: Proportion
    mean_confidence: float
    flagged_by_guard: float


@dataclass(frozen=True)
class RobustnessSubset:
    clean: RobustnessCell  # the scans as they are
    corrupted: dict[str, dict[str, RobustnessCell]]  # change -> severity ("1".."5") -> scores


@dataclass(frozen=True)
class RobustnessEvaluation(Record):
    """Accuracy under simulated acquisition changes (`python -m training robustness`)."""

    FILE: ClassVar[str] = ROBUSTNESS_FILE
    created: str
    artifact_sha256: str
    seed: int
    validation_sample: int
    scans: dict[str, int]  # by subset
    corruptions: list[str]
    severities: list[int]
    results: dict[str, RobustnessSubset]  # "validation", "testing_leakage_clean"
    wall_s: float


@dataclass(frozen=True)
class DifferingScan:
    """A scan on which a low-precision forward pass does not give float32's answer (or its probabilities)."""

    scan: str  # recorded path
    split: str  # "validation" or "Testing"
    float32_class: str
    low_precision_class: str
    max_probability_difference: float
    same_set: bool
    same_referral: bool


@dataclass(frozen=True)
class PrecisionAgreement:
    """One low-precision forward pass against float32 on every scan; `serves` only when every bound holds."""

    precision: str  # "int8" (ONNX Runtime static quantisation) or "bf16" (OpenVINO)
    engine: str
    available: bool
    why_not: str  # "" when it ran
    scans: int
    class_agreement: float | None
    max_probability_difference: float | None
    set_agreement: float | None
    referral_agreement: float | None
    min_grad_cam_correlation: float | None
    share_grad_cam_correlation_over_bound: float | None
    serves: bool
    differing: list[DifferingScan]


@dataclass(frozen=True)
class PrecisionEvaluation(Record):
    """May a low-precision forward pass serve in float32's place? (`python -m training precision`)"""

    FILE: ClassVar[str] = PRECISION_FILE
    created: str
    artifact_sha256: str
    cpu: str
    cpu_flags: list[str]
    bounds: dict[str, float]
    scans: dict[str, int]  # by split
    calibration_scans: int  # validation scans that set int8's ranges
    results: dict[str, PrecisionAgreement]
    served: str  # the precision the app serves
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
        PrecisionEvaluation,
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
    plain = json.loads(json.dumps(data, default=plain_json))  # typed tables of an earlier file, as JSON holds them
    record = kind.from_dict({**plain, "schema_version": SCHEMA_VERSIONS[kind.FILE]}, strict=True)
    write_record(Path(path), kind.FILE, plain, indent=indent)
    return record
