"""The PDF report of the Classify and Explain pages: this visitor's scans gathered for `model.report.pdf_report`
(Grad-CAM of the predicted class, the outline where the app has one, every slice's answer of a series or volume)."""

from __future__ import annotations

from model.core.maps import GRAD_CAM
from model.core.predict import Classified
from model.core.preprocess import to_model_input
from model.core.series import Upload
from model.report.pdf_report import ReportContext, ReportScan, report_pdf
from model.report.trust_report import set_label
from pages.shared.scans import Failure, classify_frames, plane_of
from pages.shared.served import card, decision_of, get_explainer, scan_outline, served_trust, trust_report


def report_scan(name: str, data: Upload, result: Classified) -> ReportScan:
    """One scan as the report shows it (the DICOM modality only as a flag, never its value)."""
    heatmap = None
    if not result.prediction.out_of_distribution:
        explained = get_explainer().explain(to_model_input(result.prepared), result.prediction.class_index, GRAD_CAM)
        heatmap = explained.heatmap
    frames = classify_frames(data, plane_of(name)) if result.frames > 1 else []
    slices = tuple(frames) if not isinstance(frames, Failure) else ()
    modality = result.details.get("modality")
    return ReportScan(
        name,
        result,
        decision_of(result.prediction),
        heatmap,
        scan_outline(data),
        not_mr=result.details.get("format", "").startswith("DICOM") and modality not in (None, "MR"),
        slices=slices,
        slice_decisions=tuple(d for d in (decision_of(s.prediction) for s in slices) if d is not None),
    )


def pdf_report(scans: dict[str, tuple[Upload, Classified]]) -> bytes:
    """The report of these scans, in this run's language."""
    report = trust_report()
    context = ReportContext(card(), served_trust(), set_label(report) if report is not None else "")
    return report_pdf([report_scan(name, data, result) for name, (data, result) in scans.items()], context)
