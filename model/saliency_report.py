"""Rows and sentences of the saliency check (`python -m training saliency`), for the pages and the README alike.

The JSON is written once by training/saliency.py; everything a person reads about it is worded here.
"""

from __future__ import annotations

from typing import Any

SALIENCY_GALLERY_DIR = "saliency_gallery"
VALIDATION, TESTING = "validation", "testing"
SUBSET_LABELS = {
    VALIDATION: "validation tumour scans (held out from Training, never trained on)",
    TESTING: "Testing scans with an outline (most are copies of Training scans)",
}
OUTLINE_CITATION = (
    "Tumour outlines drawn by radiologists: Cheng et al., figshare brain tumour dataset (article 1512427), "
    "CC BY 4.0; PLoS One 2015 and 2016."
)
WHAT_A_HIT_MEANS = (
    "A **hit** means the hottest pixel of the map lies on the radiologists' tumour outline (or within 15 px of it "
    "at 299 px); the **energy share** is how much of the whole map lies inside the outline, to compare with the "
    "outline's own share of the image, which is what a map that points nowhere in particular scores."
)
WHY_NOT_PROOF = (
    "Even a high share does not show that the model reasons like a radiologist: a map shows where the class score "
    "is sensitive, not which features the model used or why, and a tumour is also the brightest, most unusual "
    "region of many slices."
)
METRIC_COLUMNS = ("pointing game", "energy share", "AUPRC")


def _with_ci(summary: dict[str, Any], metric: str) -> str:
    if metric not in summary:
        return "–"
    low, high = summary[f"{metric}_ci95"]
    return f"{summary[metric]:.0%} ({low:.0%}–{high:.0%})"


def summary_rows(report: dict[str, Any], subset: str = VALIDATION, group: str = "all") -> list[dict[str, Any]]:
    """One row per method and baseline: scans, each score with its 95 % CI, and ρ against the randomised model."""
    table = report["tables"][subset]["groups"].get(group, {})
    rows = []
    for method, summary in table.items():
        if not summary.get("n"):
            continue
        rows.append(
            {
                "method": method,
                "scans": summary["n"],
                "pointing game": _with_ci(summary, "pointing_game"),
                "energy share": _with_ci(summary, "energy_share"),
                "outline's area share": f"{summary['area_share']:.1%}",
                "AUPRC": _with_ci(summary, "auprc"),
                "ρ vs randomised model": f"{summary['spearman_vs_randomised']:.2f}"
                if "spearman_vs_randomised" in summary
                else "–",
            }
        )
    return rows


def groups_of(report: dict[str, Any], subset: str = VALIDATION) -> list[str]:
    return list(report["tables"][subset]["groups"])


def default_method_summary(report: dict[str, Any], subset: str = VALIDATION) -> tuple[str, dict[str, Any]]:
    """(name, summary over all scans) of the app's default method, the first the check lists (Grad-CAM)."""
    method = report["methods"][0]
    return method, report["tables"][subset]["groups"]["all"][method]


def headline(report: dict[str, Any]) -> str:
    """One sentence: how often the default method's peak lands on the outline, against the Gaussian baseline."""
    table = report["tables"][VALIDATION]["groups"]["all"]
    method, ours = default_method_summary(report)
    baseline_name = report["baselines"][-1]
    baseline = table[baseline_name]
    low, high = ours["pointing_game_ci95"]
    return (
        f"On {ours['n']} {SUBSET_LABELS[VALIDATION]}, {method}'s peak lands on the radiologists' outline for "
        f"**{ours['pointing_game']:.0%}** of scans (95 % CI {low:.0%}–{high:.0%}; a centred Gaussian that only knows "
        f"where the head is: {baseline['pointing_game']:.0%}), and {ours['energy_share']:.0%} of its map lies inside "
        f"the outline, which covers {ours['area_share']:.1%} of the image."
    )


def sanity_sentence(report: dict[str, Any]) -> str:
    """The model-randomisation check in words (Adebayo et al., NeurIPS 2018)."""
    table = report["tables"][VALIDATION]["groups"]["all"]
    parts = [
        f"{method} {table[method]['spearman_vs_randomised']:.2f}"
        for method in report["methods"]
        if "spearman_vs_randomised" in table.get(method, {})
    ]
    if not parts:
        return ""
    return (
        "Model-randomisation check (Adebayo et al., NeurIPS 2018): with the exit flow and head re-initialised, the "
        "rank correlation (Spearman ρ) between each method's maps of the trained and the randomised model is "
        + ", ".join(parts)
        + ". Near 0, the map depends on what the model learned; near 1, it mostly shows the image itself."
    )
