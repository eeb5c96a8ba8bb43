"""Rows and sentences of the robustness check (`python -m training robustness`), for the pages and the README."""

from __future__ import annotations

from model.i18n import N_, _, pct
from model.schema.records import RobustnessCell, RobustnessEvaluation

ROBUSTNESS_SUBSETS = {
    "validation": N_("validation sample"),
    "testing_leakage_clean": N_("new test scans (leakage-clean)"),
}


def _accuracy(cell: RobustnessCell) -> float:
    """A setting's accuracy (NaN for a subset without scans, which a chart leaves out)."""
    return float("nan") if cell.accuracy.value is None else cell.accuracy.value


def accuracy_curves(report: RobustnessEvaluation, subset: str) -> dict[str, dict[int, float]]:
    """{corruption: {severity: accuracy}}, severity 0 being the uncorrupted scans: what the chart draws."""
    results = report.results[subset]
    clean = _accuracy(results.clean)
    return {
        _(name): {0: clean, **{int(s): _accuracy(cell) for s, cell in results.corrupted[name].items()}}
        for name in report.corruptions
    }


def robustness_rows(report: RobustnessEvaluation, subset: str) -> list[dict[str, str]]:
    """One row per corruption: accuracy at each severity, and the share the not-an-MRI guard flags at the worst."""
    results = report.results[subset]
    worst = str(max(report.severities))
    rows = []
    for name in report.corruptions:
        row = {_("change"): _(name)}
        row.update(
            {_("severity {s}").format(s=s): pct(_accuracy(cell), 0) for s, cell in results.corrupted[name].items()}
        )
        row[_("flagged at {s}").format(s=worst)] = pct(results.corrupted[name][worst].flagged_by_guard, 0)
        rows.append(row)
    return rows


def robustness_sentence(report: RobustnessEvaluation) -> str:
    """How far accuracy falls under the strongest setting of each change, on both subsets."""
    worst = str(max(report.severities))
    parts = []
    for subset, label in ROBUSTNESS_SUBSETS.items():
        results = report.results[subset]
        at_worst = {name: _accuracy(results.corrupted[name][worst]) for name in report.corruptions}
        weakest, strongest = min(at_worst, key=at_worst.__getitem__), max(at_worst, key=at_worst.__getitem__)
        parts.append(
            _("on the {subset}, {n} scans, from {clean} to between {low} ({weakest}) and {high} ({strongest})").format(
                subset=_(label),
                n=report.scans[subset],
                clean=pct(_accuracy(results.clean), 0),
                low=pct(at_worst[weakest], 0),
                weakest=_(weakest),
                high=pct(at_worst[strongest], 0),
                strongest=_(strongest),
            )
        )
    return _(
        "Robustness to acquisition changes (ImageNet-C protocol adapted to MRI, severities 1–{worst}, fixed seeds): "
        "at severity {worst} accuracy falls {parts}."
    ).format(worst=worst, parts="; ".join(parts))
