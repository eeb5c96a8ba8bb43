"""The nested tables of the result files, as frozen dataclasses: what the pages and the README read by attribute.

A dict remains only where its keys are data (class names, corruption names, scan types, groups), and then its
values are typed. `typed` turns parsed JSON into these classes through dacite, which checks every value's type on
the way: a file that drifted from its schema is refused when written, and named when read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import dacite

from model.errors import ArtifactError

T = TypeVar("T")
Interval = tuple[float, float]  # a 95 % confidence interval, low then high


def _widened(value: Any) -> Any:
    """JSON writes 1.0 as 1: an int is a float wherever the schema says float."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def typed(kind: type[T], data: dict[str, Any], file: str, strict: bool = False) -> T:
    """`data` as `kind`, every nested table included; refuses missing keys and wrong types (and, when `strict`,
    unknown keys) with an ArtifactError naming the file and the field."""
    config = dacite.Config(strict=strict, type_hooks={float: _widened}, cast=[tuple])
    try:
        return dacite.from_dict(kind, data, config=config)
    except dacite.DaciteError as error:
        raise ArtifactError("{file} does not follow its schema: {error}", file=file, error=error) from error


# ---- shared by several files -----------------------------------------------------------------------


@dataclass(frozen=True)
class Proportion:
    """A share with its Wilson 95 % interval; both None when there was nothing to count."""

    value: float | None
    ci95: Interval | None


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class RocCurve:
    fpr: list[float]
    tpr: list[float]


@dataclass(frozen=True)
class PrCurve:
    recall: list[float]
    precision: list[float]


@dataclass(frozen=True)
class OneVsRest:
    """One class against the others; the curves and their areas exist only when both sides have scans."""

    sensitivity: Proportion
    specificity: Proportion
    ppv: Proportion
    npv: Proportion
    roc_auc: float | None
    average_precision: float | None
    roc_curve: RocCurve | None = None
    pr_curve: PrCurve | None = None


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    count: int
    accuracy: float | None  # None: an empty bin
    confidence: float | None


@dataclass(frozen=True)
class Calibration:
    ece: float
    bins: list[CalibrationBin]


@dataclass(frozen=True)
class ClassificationScores:
    """`training.metrics.classification_report`: one set of scans scored against its labels."""

    n: int
    accuracy: float
    accuracy_ci95: Interval
    balanced_accuracy: float | None  # None: a single class present
    macro_f1: float
    per_class: dict[str, ClassScores]  # by class name
    confusion_matrix: list[list[int]]
    calibration: Calibration
    one_vs_rest: dict[str, OneVsRest] = field(default_factory=dict)


@dataclass(frozen=True)
class Detection:
    """How many images of a kind the not-an-MRI guard flagged."""

    images: int
    detected: int
    detection_rate: float


@dataclass(frozen=True)
class Localisation:
    """Grad-CAM against the expert outlines on validation scans (`training.evaluation.evaluate`)."""

    n: int
    pointing_game: float
    pointing_game_ci95: Interval
    energy_share: float
    energy_share_ci95: Interval


@dataclass(frozen=True)
class GroupScores:
    """One validation group (source x sequence) of one set of weights (`training.selection.group_row`)."""

    n: int
    nll_at_fitted_temperature: float
    temperature: float
    accuracy: float
    tumour_sensitivity: float | None  # None: no tumour scans in the group
