"""What the Classify and Explain pages hand out: the session's results as CSV, in the CLI's columns, and the PDF
report (this visitor's scans with the served model's explainer and trust layer, the outline where the app has one
and every slice's answer of a series or volume, all cached, handed to `model.report.pdf_report`)."""

from __future__ import annotations

import pandas as pd

from model.core.batch import file_rows, result_row
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


def results_csv(results: dict[str, Classified | Failure], files: dict[str, Upload]) -> bytes:
    """One row per file, or per frame or slice of a multi-frame file, series or volume, as the CLI writes them."""
    rows = [row for name, result in results.items() for row in _rows(name, result, files[name])]
    return pd.DataFrame(rows).to_csv(index=False).encode()


def _rows(name: str, result: Classified | Failure, data: Upload) -> list[dict[str, object]]:
    names = card().class_names
    if isinstance(result, Failure):
        return [result_row(name, names, error=result.english())]
    every = classify_frames(data, plane_of(name)) if result.frames > 1 else [result]
    if isinstance(every, Failure):
        return [result_row(name, names, error=every.english())]
    return file_rows(name, names, [r.prediction for r in every], served_trust())
