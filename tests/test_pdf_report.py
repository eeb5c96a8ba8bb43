"""The PDF report: what each page says, in the visitor's language, and nothing from a DICOM header."""

from __future__ import annotations

import numpy as np
import pypdfium2 as pdfium
import pytest

from model.__main__ import main
from model.core.decode import Container, ScanInfo
from model.core.predict import Classified, Prediction
from model.core.scan_type import ScanType
from model.core.trust import Decision, Reason
from model.i18n import use_language
from model.report.pdf_report import ReportContext, ReportScan, report_pdf
from tests.helpers import ROOT, tiny_card, write_dataset

IMAGE = ScanInfo(Container.IMAGE, image_format="PNG")
NOT_MR_DICOM = ScanInfo(Container.DICOM, not_mr=True)


def scan(name: str, probabilities: list[float], decision: Decision | None, info: ScanInfo = IMAGE) -> ReportScan:
    p = np.array(probabilities)
    prediction = Prediction(int(p.argmax()), "Glioma", p, np.log(p), 0.1, False, ScanType("T1C+", 0.97, False, 0.99))
    image = np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[:, None, None], (1, 64, 3))
    heatmap = np.outer(np.hanning(64), np.hanning(64)).astype(np.float32)
    return ReportScan(name, Classified(prediction, image, info), decision, heatmap)


def pages_text(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    return [page.get_textpage().get_text_range() for page in document]


@pytest.fixture
def context() -> ReportContext:
    return ReportContext(tiny_card(), None, "95 % set")


def test_a_report_lists_the_scans_then_gives_each_a_page_with_its_answer_and_the_models_version(context):
    scans = [
        scan("a.png", [0.97, 0.01, 0.01, 0.01], Decision([0], None)),
        scan("b.dcm", [0.5, 0.4, 0.05, 0.05], Decision([0, 1], Reason.LOW_CONFIDENCE, 0.5), NOT_MR_DICOM),
    ]
    text = pages_text(report_pdf(scans, context))
    assert len(text) == 3 and "a.png" in text[0] and "b.dcm" in text[0]
    assert "Class: Glioma · confidence 97.0%" in text[1] and "Referral: not referred" in text[1]
    assert "95 % set: Glioma, Meningioma" in text[2] and "low confidence (50%): refer" in text[2]
    assert "not an MR image" in text[2] and "CT" not in text[2]  # the flag, never the header's value
    for page in text:
        assert "not a medical device" in page and tiny_card().weights_sha256[:16] in page


def test_the_report_is_in_the_visitors_language(context):
    use_language("fr")
    try:
        text = pages_text(report_pdf([scan("a.png", [0.97, 0.01, 0.01, 0.01], Decision([0], None))], context))
    finally:
        use_language("en")
    assert "pas un dispositif médical" in text[0] and "Gliome" in text[0]


def test_a_scan_unlike_a_training_mri_gets_its_reason_and_no_class(context):
    flagged = scan("cat.jpg", [0.97, 0.01, 0.01, 0.01], Decision([], Reason.NOT_MRI))
    prediction = Prediction(0, "Glioma", flagged.result.prediction.probabilities, np.zeros(4), 9.0, True)
    text = pages_text(report_pdf([ReportScan("cat.jpg", Classified(prediction, flagged.result.prepared))], context))
    assert "Not like a training MRI" in text[0] and "confidence" not in text[0]


def test_page_one_renders_with_the_scan_drawn(context):
    pdf = report_pdf([scan("a.png", [0.97, 0.01, 0.01, 0.01], Decision([0], None))], context)
    picture = np.asarray(pdfium.PdfDocument(pdf)[0].render(scale=1).to_pil().convert("L"))
    assert picture.shape[0] > picture.shape[1] and picture.min() < 20 and picture.max() > 240  # A4, an image on it


def test_the_cli_writes_a_report_beside_its_results(tiny_onnx_artifact, tmp_path):
    data = write_dataset(tmp_path / "data", {"Testing": 1})
    (data / "broken.png").write_bytes(b"not a png")
    out, report = tmp_path / "results.csv", tmp_path / "report.pdf"
    assert (
        main(
            [
                "classify",
                str(data),
                "--out",
                str(out),
                "--report",
                str(report),
                "--artifact-dir",
                str(tiny_onnx_artifact[0]),
            ]
        )
        == 0
    )
    text = pages_text(report.read_bytes())
    assert len(text) == 1 + 4 and "broken.png" not in text[0]  # the list, one page per class's scan; no broken file


def test_a_series_page_sums_up_its_slices_and_their_referrals(context):
    one = scan("series", [0.97, 0.01, 0.01, 0.01], Decision([0], None), ScanInfo(Container.SERIES, 3))
    slices = tuple(scan(f"s{i}", [0.97, 0.01, 0.01, 0.01], None).result for i in range(3))
    unvalidated = tuple(Decision([0, 1, 2, 3], Reason.UNVALIDATED) for _ in slices)
    page = ReportScan("series", one.result, one.decision, one.heatmap, slices=slices, slice_decisions=unvalidated)
    [text] = pages_text(report_pdf([page], context))
    assert "3 slices: 3 Glioma" in text and "every slice is referred" in text


def test_the_classify_page_loads_matplotlib_only_when_a_report_is_asked_for():
    import subprocess
    import sys

    script = "import sys, pages.shared.report; print('matplotlib' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
