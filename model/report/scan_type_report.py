"""Sentences about the kind of scan (`model.core.scan_type`) and how often the model is right on that kind.

The accuracy per kind comes from the committed trust file (`trust.json`): the served model's accuracy on the
validation scans the recogniser put in that kind, which is what the sets and referral of that kind are fitted on.
"""

from __future__ import annotations

from model.core.scan_type import UNSURE, ScanType
from model.core.trust import MIN_VALIDATED, STRIPPED, Trust, key_type, type_key
from model.core.volume import Plane
from model.i18n import N_, _, pct
from model.report.series_report import plane_word
from model.schema.records import GroupRescore, GroupRescored, ScanTypeEvaluation

SEQUENCE_NAMES = {
    "T1": N_("T1"),
    "T1C+": N_("T1 with contrast"),
    "T2": N_("T2"),
    "FLAIR": N_("FLAIR"),
    UNSURE: N_("other or unsure (e.g. diffusion)"),
}


def sequence_name(sequence: str) -> str:
    return _(SEQUENCE_NAMES[sequence])


def served_row(report: GroupRescore, weights_sha256s: tuple[str, ...]) -> GroupRescored | None:
    """The rescore row of the served model (any of its weights files' SHA-256s), or None."""
    return next((row for row in report.rows if row.artifact_sha256 in weights_sha256s), None)


def describe(scan_type: ScanType) -> str:
    """'Looks like a T2 scan (78 %), skull-stripped, coronal (91 %).' The plane without a figure where the file
    says it."""
    if scan_type.sequence == UNSURE:
        text = _("Scan type: **{name}**").format(name=sequence_name(UNSURE))
    else:
        text = _("Looks like a **{name}** scan ({p})").format(
            name=sequence_name(scan_type.sequence), p=pct(scan_type.sequence_probability, 0)
        )
    text += _(", skull-stripped") if scan_type.skull_stripped else ""
    if scan_type.plane_probability >= 1.0:
        return text + _(", {plane} (as the file says).").format(plane=plane_word(scan_type.plane))
    return text + _(", {plane} ({p}).").format(plane=plane_word(scan_type.plane), p=pct(scan_type.plane_probability, 0))


def kind_name(scan_type: ScanType) -> str:
    """'skull-stripped coronal T1 with contrast', 'axial T2', ... as the trust layer's cells name them."""
    template = _("skull-stripped {plane} {sequence}") if scan_type.skull_stripped else _("{plane} {sequence}")
    return template.format(plane=plane_word(scan_type.plane), sequence=sequence_name(scan_type.sequence))


def key_name(key: str) -> str:
    """A trust cell's key (`model.core.trust.type_key`) in words."""
    scan_type = key_type(key)
    return key if scan_type is None else kind_name(scan_type)


def type_sentences(trust: Trust) -> list[str]:
    """A plain sentence per scan type the trust file has: how often the served model is right there, on how many
    validation scans (of every training source), or that it was not validated on it; the types with too few
    validation scans for any figure together in one last sentence."""
    sentences, few = [], []
    for key, fitted in trust.by_type.items():
        if key == "" or fitted.accuracy is None:
            continue
        if fitted.n < MIN_VALIDATED:
            few.append(_("{kind} ({n})").format(kind=key_name(key), n=fitted.n))
            continue
        if trust.fitted(key) is not None:
            sentence = _("{kind}: right {accuracy} of the time on {n} validation scans of every training source.")
        else:
            sentence = _(
                "{kind}: not validated (always referred); on {n} validation scans skull-stripped by us it was right "
                "{accuracy}."
            )
        said = sentence.format(kind=key_name(key), accuracy=pct(fitted.accuracy, 0), n=fitted.n)
        sentences.append(said[:1].upper() + said[1:])
    if few:
        sentences.append(
            _("Not validated, with fewer than {least} validation scans each (always referred): {kinds}.").format(
                least=MIN_VALIDATED, kinds=", ".join(few)
            )
        )
    return sentences


def validated_sentence(trust: Trust) -> str:
    """The kinds of scan the served model was validated on, in one line, and that every other kind is referred
    ("" without per-type figures). Listing the validated kinds also covers kinds validation never saw."""
    if not trust.by_type:
        return ""
    validated = [k for k in trust.by_type if k and trust.fitted(k) is not None]
    if not validated:
        return _("Not validated on any kind of scan: every answer is referred.")
    stripped = any(STRIPPED in k.split(" ") for k in validated)
    text = _("Validated only on {kinds}; answers on any other kind of scan are always referred").format(
        kinds=", ".join(key_name(k) for k in validated)
    )
    return text + ("." if stripped else _(", skull-stripped scans among them."))


def accuracy_on_kind(scan_type: ScanType, trust: Trust | None) -> str:
    """How often the served model was right on validation scans of this very kind (sequence, skull stripped or
    not, plane), or that it was not validated on it: never another kind's figure."""
    key = type_key(scan_type)
    fitted = None if trust is None else trust.fitted(key)
    if fitted is None or fitted.accuracy is None:
        text = _("Not validated on {kind} scans: the answer is always referred.").format(kind=kind_name(scan_type))
        rendered = None if trust is None else trust.rendered(key)
        if rendered is None or rendered.accuracy is None:
            return text
        return (
            text
            + " "
            + _("On {n} validation scans skull-stripped by us it was right {accuracy}.").format(
                n=rendered.n, accuracy=pct(rendered.accuracy, 0)
            )
        )
    return _("On {n} {kind} validation scans the model was right {accuracy} of the time.").format(
        n=fitted.n, kind=kind_name(scan_type), accuracy=pct(fitted.accuracy, 0)
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


def plane_rows(report: ScanTypeEvaluation) -> list[dict[str, str]]:
    """The recogniser's planes on held-out views whose plane is known: true plane (rows) x recognised (columns)."""
    validation = report.validation
    names = [plane_word(Plane(label)) for label in validation.plane_labels]
    return [
        {_("true plane"): names[i], **{name: str(count) for name, count in zip(names, counts)}}
        for i, counts in enumerate(validation.plane_confusion_matrix)
    ]


def plane_sentence(report: ScanTypeEvaluation) -> str:
    """How often the plane was named right, and where the known planes come from ("" for a file without planes)."""
    validation = report.validation
    if validation.plane_accuracy is None:
        return ""
    return _(
        "It named the plane right {accuracy} of the time on {n} held-out views whose plane is known (lgg-dev's "
        "axial slices, and Sartaj and feltrin-dev scans whose plane we read by eye); where a file says its plane (a "
        "volume's cut, a DICOM's orientation) the file's plane is used."
    ).format(accuracy=pct(validation.plane_accuracy), n=validation.plane_n)
