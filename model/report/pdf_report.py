"""A report to keep: one PDF page per scan (and first pages listing them when there are several), in the visitor's
language, built with Matplotlib's PDF backend.

Each scan page has the scan as the model saw it, its Grad-CAM (with the radiologists' outline where the app has
one), the calibrated probabilities, the prediction set, the scan type and what validation says of it, the referral
and its reason, and, for a series or volume, the slices' summary. Every page carries the model's version (weights
SHA-256, training date) and the notice. No DICOM header value is written: only the file's name (as the visitor
gave it) and what the model computed.
"""

from __future__ import annotations

import io
import re
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from model.core.explain import Explainer
from model.core.maps import GRAD_CAM
from model.core.predict import Classified, Classifier, Prediction
from model.core.preprocess import to_model_input
from model.core.trust import Decision, Trust
from model.i18n import N_, _, pct
from model.report.card_report import NOTICE, SHORT_NOTICE
from model.report.evaluation_report import candidate_name
from model.report.figures import class_colours
from model.report.scan_type_report import accuracy_on_kind, describe
from model.report.series_report import NOT_MR, slices_summary
from model.report.trust_report import check_words, reason_text, referrals_summary
from model.schema.card import ModelCard

A4_INCHES = (8.27, 11.69)
MAX_REPORT_SCANS = 100  # scan pages in one report (a session keeps at most as many scans)
ROWS_PER_PAGE = 24  # of the list of scans, each at most three lines tall
LIST_WRAP = (26, 16, 10, 22, 30)  # characters per line of each column of the list, at 8 points...
LIST_WIDTHS = [0.27, 0.16, 0.1, 0.2, 0.27]  # ...in these shares of the page's width
LINE_HEIGHT = 0.0135  # one line of 8-point text, as a share of the list's height
WRAP = 95  # characters of 10-point text across the page's text column
TITLE = N_("Brain MRI classifier: scan report")


@dataclass(frozen=True)
class ReportScan:
    """One scan as the report shows it; `slices` holds every slice's answer of a series, volume or multi-frame
    file, `heatmap` the Grad-CAM of the predicted class ([0, 1], the prepared image's size)."""

    name: str
    result: Classified
    decision: Decision | None = None
    heatmap: np.ndarray | None = None
    outline: np.ndarray | None = None
    slices: tuple[Classified, ...] = ()
    slice_decisions: tuple[Decision, ...] = ()


@dataclass(frozen=True)
class ReportContext:
    """What every page says of the model, and the words of the set's label ("95 % set")."""

    card: ModelCard
    trust: Trust | None
    set_label: str
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def plain(text: str) -> str:
    """Markdown emphasis off: the report's sentences come from the app's, which bold their key words."""
    return re.sub(r"\*{1,2}([^*]+)\*{1,2}", r"\1", text)


def class_labels(card: ModelCard) -> list[str]:
    return [_(name) for name in card.class_names]


def scan_lines(scan: ReportScan, context: ReportContext) -> list[str]:
    """The report's sentences for one scan, most important first."""
    prediction, labels = scan.result.prediction, class_labels(context.card)
    if prediction.out_of_distribution:
        return [_("Not like a training MRI: the model gives no class for it.")]
    lines = [
        _("Class: {label} · confidence {confidence}").format(
            label=labels[prediction.class_index], confidence=pct(prediction.confidence)
        )
    ]
    if scan.result.info.not_mr:
        lines.append(_(NOT_MR))
    if scan.decision is not None:
        members = ", ".join(labels[i] for i in scan.decision.members)
        lines.append(f"{context.set_label.capitalize()}: {members}")
        lines.append(
            _("Referral: {reason}").format(reason=reason_text(scan.decision))
            if scan.decision.referred
            else _("Referral: not referred")
        )
    if prediction.scan_type is not None:
        lines.append(
            plain(describe(prediction.scan_type)) + " " + plain(accuracy_on_kind(prediction.scan_type, context.trust))
        )
    if scan.slices:
        flagged = [r.prediction.out_of_distribution for r in scan.slices]
        frames = not scan.result.info.sliced  # a multi-frame file
        lines.append(plain(slices_summary(labels, [r.prediction.class_index for r in scan.slices], flagged, frames)))
        if scan.slice_decisions:
            lines.append(plain(referrals_summary(list(scan.slice_decisions))))
    return [line for line in lines if line]


def footer(context: ReportContext) -> str:
    card = context.card
    return " · ".join(
        [
            _("Model: {name}, weights SHA-256 {sha}, trained {date}").format(
                name=candidate_name(card.candidate), sha=card.weights_sha256[:16], date=card.created[:10]
            ),
            _("report made {date}").format(date=context.created.strftime("%Y-%m-%d %H:%M UTC")),
            f"{_(SHORT_NOTICE)}. {_(NOTICE)}",
        ]
    )


def _page(context: ReportContext, heading: str) -> Figure:
    """An A4 page with the title, a heading, and the model's version and the notice at the foot."""
    figure = Figure(figsize=A4_INCHES)
    figure.text(0.06, 0.955, _(TITLE), fontsize=16, weight="bold")
    figure.text(0.06, 0.93, _(SHORT_NOTICE), fontsize=9, weight="bold", color="#b35c00")
    figure.text(0.06, 0.905, textwrap.shorten(heading, 110), fontsize=11)
    figure.text(0.06, 0.035, textwrap.fill(footer(context), 130), fontsize=7.5, color="#444444", va="bottom")
    return figure


def scan_page(scan: ReportScan, context: ReportContext) -> Figure:
    """One scan: the image and its Grad-CAM side by side, the probabilities, then the sentences."""
    figure = _page(context, scan.name)
    result = scan.result
    seen = figure.add_axes((0.06, 0.58, 0.42, 0.3))
    seen.imshow(result.prepared)
    seen.set_title(_("as the model sees it"), fontsize=10)
    panels = [seen]
    if scan.heatmap is not None and not result.prediction.out_of_distribution:
        cam = figure.add_axes((0.52, 0.58, 0.42, 0.3))
        cam.imshow(result.prepared)
        cam.imshow(scan.heatmap, cmap="jet", vmin=0, vmax=1, alpha=0.45)
        title = _("Grad-CAM for {label}").format(label=class_labels(context.card)[result.prediction.class_index])
        outlined = title + (_(", radiologists' outline in white") if scan.outline is not None else "")
        cam.set_title(textwrap.fill(outlined, 48), fontsize=10)
        panels.append(cam)
    for axis in panels:
        if scan.outline is not None:
            axis.contour(scan.outline, levels=[0.5], colors="white", linewidths=1.2)
        axis.set_axis_off()
    top = 0.56
    if not result.prediction.out_of_distribution:
        _probability_axes(figure, result, context)
        top = 0.37
    first, *rest = scan_lines(scan, context)
    figure.text(0.06, top, textwrap.fill(first, WRAP - 20), fontsize=13, weight="bold", va="top")
    text = "\n".join(textwrap.fill(line, WRAP) for line in rest)
    figure.text(0.06, top - 0.035, text, fontsize=10, va="top", linespacing=1.6)
    return figure


def _probability_axes(figure: Figure, result: Classified, context: ReportContext) -> None:
    axis = figure.add_axes((0.3, 0.43, 0.6, 0.12))
    probabilities = result.prediction.probabilities
    positions = np.arange(len(probabilities))[::-1]
    axis.barh(positions, probabilities, color=class_colours(context.card.class_dirs))
    axis.set_yticks(positions, class_labels(context.card), fontsize=10)
    axis.set_xlim(0, 1)
    axis.xaxis.set_major_formatter(PercentFormatter(1.0))
    axis.set_xlabel(_("calibrated probability"), fontsize=10)
    for y, p in zip(positions, probabilities):
        inside = p > 0.85  # a long bar carries its figure inside, in white
        axis.text(
            p - 0.02 if inside else p + 0.02,
            y,
            pct(p),
            va="center",
            ha="right" if inside else "left",
            fontsize=9,
            color="white" if inside else "black",
        )
    axis.spines[["top", "right"]].set_visible(False)


def list_rows(scans: Sequence[ReportScan], context: ReportContext) -> list[list[str]]:
    """The list of scans: file, class, confidence, set, referral (as on the Classify page)."""
    labels, rows = class_labels(context.card), []
    for scan in scans:
        prediction, decision, check = scan.result.prediction, scan.decision, check_words(scan.result, scan.decision)
        if prediction.out_of_distribution:
            rows.append([scan.name, "–", "–", "–", check])
            continue
        members = "–" if decision is None else ", ".join(labels[i] for i in decision.members)
        rows.append([scan.name, labels[prediction.class_index], pct(prediction.confidence), members, check])
    return rows


def list_page(rows: list[list[str]], context: ReportContext, first: int, total: int) -> Figure:
    """Up to `ROWS_PER_PAGE` scans of the list, each row as tall as its longest wrapped cell."""
    figure = _page(context, _("{total} scans; each has a page of its own after this list").format(total=total))
    figure.text(0.06, 0.875, _("Scans {first} to {last}").format(first=first + 1, last=first + len(rows)), fontsize=10)
    axis = figure.add_axes((0.06, 0.08, 0.88, 0.78))
    axis.set_axis_off()
    header = [_("file"), _("class"), _("confidence"), context.set_label, _("check")]
    cells = [[textwrap.fill(cell, width) for cell, width in zip(row, LIST_WRAP)] for row in [header, *rows]]
    table = axis.table(cellText=cells[1:], colLabels=cells[0], loc="upper left", cellLoc="left", colWidths=LIST_WIDTHS)
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (row, _column), cell in table.get_celld().items():
        cell.set_height(LINE_HEIGHT * (max(text.count("\n") for text in cells[row]) + 1.6))
    return figure


def report_pdf(scans: Sequence[ReportScan], context: ReportContext) -> bytes:
    """The whole report as PDF bytes (nothing is written to disk): the list when there are several scans, then a
    page per scan, at most `MAX_REPORT_SCANS`."""
    scans = list(scans)[:MAX_REPORT_SCANS]
    buffer = io.BytesIO()
    metadata = {"Title": _(TITLE), "Creator": "brain-mri-classifier", "Subject": _(SHORT_NOTICE)}
    with PdfPages(buffer, metadata=metadata) as pdf:
        if len(scans) > 1:
            rows = list_rows(scans, context)
            for first in range(0, len(rows), ROWS_PER_PAGE):
                pdf.savefig(list_page(rows[first : first + ROWS_PER_PAGE], context, first, len(rows)))
        for scan in scans:
            pdf.savefig(scan_page(scan, context))
    return buffer.getvalue()


def scan_for_report(
    name: str,
    result: Classified,
    trust: Trust | None,
    explainer: Explainer,
    outline: np.ndarray | None = None,
    slices: Sequence[Classified] = (),
) -> ReportScan:
    """One scan as the report shows it, for the app and the CLI alike: its trust decision, the Grad-CAM of the
    predicted class (none for a scan unlike a training MRI), and whether its DICOM header says it is not MR."""

    def decided(prediction: Prediction) -> Decision | None:
        return (
            None
            if trust is None
            else trust.decide(prediction.probabilities, prediction.scan_type, prediction.out_of_distribution)
        )

    heatmap = None
    if not result.prediction.out_of_distribution:
        heatmap = explainer.explain(to_model_input(result.prepared), result.prediction.class_index, GRAD_CAM).heatmap
    slice_decisions = tuple(d for d in (decided(s.prediction) for s in slices) if d is not None)
    return ReportScan(
        name,
        result,
        decided(result.prediction),
        heatmap,
        outline,
        slices=tuple(slices),
        slice_decisions=slice_decisions,
    )


def files_report(paths: Sequence[Path], artifact_dir: Path) -> tuple[bytes, int]:
    """The report of scan files, as `python -m model classify --report` writes it: each file as the app shows it
    when dropped alone (a multi-frame file, series or volume by its middle frame), classified again here because
    the results file keeps answers, not images; a file that cannot be classified is left out (the results file
    says why). Returns the PDF and how many scans it holds."""
    from model.core.outlines import OUTLINES_FILE, OutlineBank, prepared_outline
    from model.core.trust import committed_trust
    from model.errors import InputError
    from model.report.trust_report import set_label
    from model.schema.records import TrustEvaluation, load

    classifier = Classifier.from_artifact(artifact_dir)
    explainer, trust = Explainer(classifier), committed_trust(artifact_dir, classifier.card)
    bank = OutlineBank.load(artifact_dir / OUTLINES_FILE) if (artifact_dir / OUTLINES_FILE).exists() else None
    scans = []
    for path in list(paths)[:MAX_REPORT_SCANS]:
        data = path.read_bytes()
        try:
            result = classifier.classify_upload(data, path.name)
        except InputError:
            continue
        outline = None if bank is None else prepared_outline(bank, data, classifier.card.image_size)
        scans.append(scan_for_report(path.name, result, trust, explainer, outline))
    report = load(TrustEvaluation, artifact_dir)
    context = ReportContext(classifier.card, trust, set_label(report) if report is not None else "")
    return report_pdf(scans, context), len(scans)
