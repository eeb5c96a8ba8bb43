"""Rows and sentences of the saliency check (`python -m training saliency`), for the pages and the README alike.

The JSON is written once by training/evaluation/saliency.py; everything a person reads about it is worded here.
"""

from __future__ import annotations

from typing import Any

from model.i18n import N_, _, number, pct
from model.schema.card import ModelCard
from model.schema.records import Candidates, GalleryEntry, MethodSummary, SaliencyEvaluation
from model.schema.tables import Interval

SALIENCY_GALLERY_DIR = "saliency_gallery"
VALIDATION, TESTING = "validation", "testing"
SUBSET_LABELS = {
    VALIDATION: N_("validation tumour scans (held out from Training, never trained on)"),
    TESTING: N_("Testing scans with an outline (most are copies of Training scans)"),
}
OUTLINE_CITATION = N_(
    "Tumour outlines drawn by radiologists: Cheng et al., figshare brain tumour dataset (article 1512427), "
    "CC BY 4.0; PLoS One 2015 and 2016."
)
WHAT_A_HIT_MEANS = N_(
    "A **hit** means the hottest pixel of the map lies on the radiologists' tumour outline (or within 15 px of it "
    "at 299 px); the **energy share** is how much of the whole map lies inside the outline, to compare with the "
    "outline's own share of the image, which is what a map that points nowhere in particular scores."
)
WHY_NOT_PROOF = N_(
    "Even a high share does not show that the model reasons like a radiologist: a map shows where the class score "
    "is sensitive, not which features the model used or why, and a tumour is also the brightest, most unusual "
    "region of many slices."
)
METRIC_COLUMNS = ("pointing game", "energy share", "AUPRC")
# Words the saliency JSON uses as group and baseline names, marked here for translation.
JSON_WORDS = (
    N_("all"),
    N_("correct predictions"),
    N_("wrong predictions"),
    N_("Uniform map (baseline)"),
    N_("Centred Gaussian in the head (baseline)"),
)


def tolerance_words(tolerance: str) -> str:
    """The JSON's '15 px at 299 px' in the visitor's language."""
    words = tolerance.split()
    return _("{pixels} px at {size} px").format(pixels=words[0], size=words[3]) if len(words) == 5 else tolerance


def _with_ci(value: float | None, ci95: Interval | None) -> str:
    if value is None or ci95 is None:
        return "–"
    low, high = ci95
    return f"{pct(value, 0)} ({pct(low, 0)}–{pct(high, 0)})"


def _share(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else pct(value, digits)


def summary_rows(report: SaliencyEvaluation, subset: str = VALIDATION, group: str = "all") -> list[dict[str, Any]]:
    """One row per method and baseline: scans, each score with its 95 % CI, and ρ against the randomised model."""
    table = report.tables[subset].groups.get(group, {})
    return [
        {
            _("method"): _(method),
            _("scans"): summary.n,
            _("pointing game"): _with_ci(summary.pointing_game, summary.pointing_game_ci95),
            _("energy share"): _with_ci(summary.energy_share, summary.energy_share_ci95),
            _("outline's area share"): _share(summary.area_share),
            "AUPRC": _with_ci(summary.auprc, summary.auprc_ci95),
            _("ρ vs randomised model"): "–"
            if summary.spearman_vs_randomised is None
            else number(summary.spearman_vs_randomised, 2),
        }
        for method, summary in table.items()
        if summary.n
    ]


def groups_of(report: SaliencyEvaluation, subset: str = VALIDATION) -> list[str]:
    return list(report.tables[subset].groups)


def default_method_summary(report: SaliencyEvaluation, subset: str = VALIDATION) -> tuple[str, MethodSummary]:
    """(name, summary over all scans) of the app's default method, the first the check lists (Grad-CAM)."""
    method = report.methods[0]
    return method, report.tables[subset].groups["all"][method]


def headline(report: SaliencyEvaluation) -> str:
    """One sentence: how often the default method's peak lands on the outline, against the Gaussian baseline."""
    table = report.tables[VALIDATION].groups["all"]
    method, ours = default_method_summary(report)
    baseline = table[report.baselines[-1]]
    low, high = ours.pointing_game_ci95 or (None, None)
    return _(
        "On {n} {scans}, {method}'s peak lands on the radiologists' outline for **{hits}** of scans (95 % CI "
        "{low}–{high}; a centred Gaussian that only knows where the head is: {baseline}), and {energy} of its map "
        "lies inside the outline, which covers {area} of the image."
    ).format(
        n=ours.n,
        scans=_(SUBSET_LABELS[VALIDATION]),
        method=_(method),
        hits=_share(ours.pointing_game, 0),
        low=_share(low, 0),
        high=_share(high, 0),
        baseline=_share(baseline.pointing_game, 0),
        energy=_share(ours.energy_share, 0),
        area=_share(ours.area_share),
    )


def sanity_sentence(report: SaliencyEvaluation) -> str:
    """The model-randomisation check in words (Adebayo et al., NeurIPS 2018)."""
    table = report.tables[VALIDATION].groups["all"]
    correlations = {method: table[method].spearman_vs_randomised for method in report.methods if method in table}
    parts = [f"{_(method)} {number(rho, 2)}" for method, rho in correlations.items() if rho is not None]
    if not parts:
        return ""
    return _(
        "Model-randomisation check (Adebayo et al., NeurIPS 2018): with the exit flow and head re-initialised, the "
        "rank correlation (Spearman ρ) between each method's maps of the trained and the randomised model is "
        "{correlations}. Near 0, the map depends on what the model learned; near 1, it mostly shows the image itself."
    ).format(correlations=", ".join(parts))


ATTENTION_ABLATION_RUN = "lambda0_full"  # the outline experiment's run without the term (training/PREREGISTRATION.md)


def by_construction(card: ModelCard, candidates: Candidates | None) -> str:
    """When the served model was trained to put its Grad-CAM inside the outlines, the pointing game partly measures
    that training: say so, with what the same recipe without the term scored."""
    weight = 0.0 if card.training_config is None else card.training_config.attention_weight
    if not weight:
        return ""
    text = _(
        "The served model was trained with a term that rewards its Grad-CAM for lying inside radiologists' outlines "
        "(λ = {weight}, on training scans of the same source), so this figure is partly so by construction."
    ).format(weight=number(weight, 2))
    ablation = None if candidates is None else candidates.runs.get(ATTENTION_ABLATION_RUN, {})
    scored = next((row.grad_cam_validation for row in (ablation or {}).values() if row.grad_cam_validation), None)
    if scored is None:
        return text
    low, high = scored.pointing_game_ci95
    return (
        text
        + " "
        + _(
            "The same recipe without the term (run {run}) pointed at the outline for {hits} (95 % CI {low}–{high})."
        ).format(run=ATTENTION_ABLATION_RUN, hits=pct(scored.pointing_game, 0), low=pct(low, 0), high=pct(high, 0))
    )


def gallery_caption(item: GalleryEntry, class_names: list[str]) -> str:
    """What a gallery strip shows, in the visitor's language (the image itself has no words): the scan with its
    outline, then each method's map with its share of energy inside the outline."""
    class_name = class_names[item.label]
    maps = ", ".join(f"{method} ({pct(share, 0)})" for method, share in item.shares.items())
    return _(
        "{label} · {scan}: the scan with the radiologists' outline (white), then the maps of {maps}; in brackets, "
        "each map's share inside the outline. Colour: relevance, each map scaled to its own maximum."
    ).format(label=_(class_name), scan=item.scan, maps=maps)
