"""The PDF report of the Classify and Explain pages: this visitor's scans, with the served model's explainer and
trust layer, the outline where the app has one and every slice's answer of a series or volume (all cached), handed
to `model.report.pdf_report`."""

from __future__ import annotations

from model.core.predict import Classified
from model.core.series import Upload
from model.report.trust_report import set_label
from pages.shared.scans import Failure, classify_frames, plane_of
from pages.shared.served import card, get_explainer, scan_outline, served_trust, trust_report


def pdf_report(scans: dict[str, tuple[Upload, Classified]]) -> bytes:
    """The report of these scans, in this run's language. Matplotlib loads here, on the first report, not when the
    page starts: a server that only classifies never needs it."""
    from model.report.pdf_report import ReportContext, report_pdf, scan_for_report

    report, trust, explainer = trust_report(), served_trust(), get_explainer()
    pages = []
    for name, (data, result) in scans.items():
        frames = classify_frames(data, plane_of(name)) if result.frames > 1 else []
        slices = frames if not isinstance(frames, Failure) else []
        pages.append(scan_for_report(name, result, trust, explainer, scan_outline(data), slices))
    return report_pdf(pages, ReportContext(card(), trust, set_label(report) if report is not None else ""))
