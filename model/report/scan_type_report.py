"""Sentences about the kind of scan (`model.core.scan_type`) and how often the model is right on that kind.

The accuracy per kind comes from the selection rule's committed rescore (`group_rescore.json`): the served model's
accuracy on each held-out validation group (source x sequence).
"""

from __future__ import annotations

from model.core.scan_type import UNSURE, ScanType
from model.i18n import N_, _, pct
from model.schema.records import GroupRescore, GroupRescored, ScanTypeEvaluation

SEQUENCE_NAMES = {
    "T1": N_("T1"),
    "T1C+": N_("T1 with contrast"),
    "T2": N_("T2"),
    UNSURE: N_("other or unsure (e.g. FLAIR)"),
}


def sequence_name(sequence: str) -> str:
    return _(SEQUENCE_NAMES[sequence])


def served_row(report: GroupRescore, weights_sha256s: tuple[str, ...]) -> GroupRescored | None:
    """The rescore row of the served model (any of its weights files' SHA-256s), or None."""
    return next((row for row in report.rows if row.artifact_sha256 in weights_sha256s), None)


def describe(scan_type: ScanType) -> str:
    """'Looks like a T2 scan (78 %), skull-stripped.'"""
    if scan_type.sequence == UNSURE:
        text = _("Scan type: **{name}**").format(name=sequence_name(UNSURE))
    else:
        text = _("Looks like a **{name}** scan ({p})").format(
            name=sequence_name(scan_type.sequence), p=pct(scan_type.sequence_probability, 0)
        )
    return text + (_(", skull-stripped") if scan_type.skull_stripped else "") + "."


def accuracy_on_kind(scan_type: ScanType, row: GroupRescored | None) -> str:
    """How often the served model was right on held-out scans of this sequence from another source, or why unknown."""
    if scan_type.sequence == UNSURE:
        return _("The model was not trained or checked on this kind of scan: treat its answer with extra care.")
    # Groups are "<source>/<sequence>" for every source that records sequences (Sartaj does not): pooled here.
    groups = [] if row is None else [g for name, g in row.groups.items() if name.endswith(f"/{scan_type.sequence}")]
    n = sum(g.n for g in groups)
    if n == 0:
        return _("No held-out scans of this kind were scored.")
    right = sum(g.accuracy * g.n for g in groups)
    return _("On {name} scans from another source the model was right {accuracy} of the time (n = {n}).").format(
        name=sequence_name(scan_type.sequence), accuracy=pct(right / n, 0), n=n
    )


def confusion_rows(report: ScanTypeEvaluation) -> list[dict[str, str]]:
    """The recogniser's confusion matrix on held-out case groups: true sequence (rows) x recognised (columns)."""
    validation = report.validation
    names = [sequence_name(label) for label in validation.sequence_labels]
    return [
        {_("true sequence"): names[i], **{name: str(count) for name, count in zip(names, counts)}}
        for i, counts in enumerate(validation.confusion_matrix)
    ]


def scan_type_sentence(report: ScanTypeEvaluation) -> str:
    validation = report.validation
    return _(
        "On {n} held-out views (scans of validation case groups, each as it is and skull-stripped) the recogniser "
        "named the sequence right {accuracy} of the time, called {unsure} 'other or unsure', and told skull-stripped "
        "views from the rest {stripped} of the time."
    ).format(
        n=validation.n,
        accuracy=pct(validation.sequence_accuracy, 0),
        unsure=pct(validation.unsure_share, 0),
        stripped=pct(validation.skull_stripped_accuracy),
    )
