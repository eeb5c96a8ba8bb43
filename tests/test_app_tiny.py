"""Every page under AppTest with the tiny trained model (fast suite): the pages must not need the real artifact.

The tiny artifact has no evaluation, audit or saliency files, so the pages also show how they say so.
"""

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from model.schema.card import ARTIFACT_ENV, CARD_FILE, read_record, write_card
from tests.helpers import (
    PAGES,
    ROOT,
    dicom,
    encode,
    english_left,
    head_volume,
    localiser_views,
    nifti,
    same_image_twice,
    series_slices,
    synthetic_scan,
    zipped,
)


@pytest.fixture
def tiny_app(trained, monkeypatch):
    _, _, config, _ = trained
    monkeypatch.setenv(ARTIFACT_ENV, str(config.out_dir))

    def run(page: str, language: str | None = None) -> AppTest:
        app = AppTest.from_file(str(ROOT / page), default_timeout=120)
        if language:
            app.query_params["lang"] = language  # the entry point reads it; a page file alone reads the session
            app.session_state["lang"] = language
        app.run()
        assert not app.exception, [e.message for e in app.exception]
        return app

    return run


def body_text(app: AppTest) -> str:
    kinds = ("markdown", "caption", "title", "subheader", "info", "warning", "error")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(app, kind))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_tiny_model_with_the_notice(tiny_app, page):
    assert "not a medical device" in body_text(tiny_app(page))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_french_with_no_english_left(tiny_app, page):
    app = tiny_app(page, "fr")
    assert "ce n'est pas un dispositif médical" in body_text(app)
    assert not english_left(app)


def test_the_english_left_check_finds_english_on_an_english_page(tiny_app):
    left = english_left(tiny_app("pages/1_Classify.py", "en"))
    assert "Classify MRI slices" in left  # so an empty result on a French page means something


def test_a_french_visitor_gets_french_class_names_and_error_messages(tiny_app, trained):
    scan = encode(Image.fromarray(synthetic_scan(0, np.random.default_rng(0))).convert("RGB"), "JPEG")
    app = tiny_app("pages/1_Classify.py", "fr")
    app.get("file_uploader")[0].set_value([("scan.jpg", scan, "image/jpeg"), ("vide.png", b"", "image/png")]).run()
    assert not app.exception and not english_left(app)
    french = {"Glioma": "Gliome", "Meningioma": "Méningiome", "No tumour": "Absence de tumeur"}
    french["Pituitary tumour"] = "Tumeur hypophysaire"
    assert app.dataframe[0].value["classe"].iloc[0] in french.values()
    assert [e.value for e in app.error] == ["**vide.png** n'a pas pu être classé. Ce fichier est vide."]
    assert "2 images dans cette session" in [s.value for s in app.subheader]


def test_pages_without_committed_results_say_which_command_makes_them(tiny_app):
    assert "python -m training evaluate" in body_text(tiny_app("pages/3_Evaluation.py"))
    assert "python -m training audit" in body_text(tiny_app("pages/4_Dataset.py"))


def test_classify_shows_a_result_from_the_tiny_model(tiny_app, trained):
    scan = encode(Image.fromarray(synthetic_scan(0, np.random.default_rng(0))).convert("RGB"), "JPEG")
    app = tiny_app("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value([("scan.jpg", scan, "image/jpeg")]).run()
    assert not app.exception
    summary = app.dataframe[0].value
    assert summary["file"].tolist() == ["scan.jpg"]
    assert summary["class"].iloc[0] in trained[3].class_names


def test_a_dicom_file_of_another_modality_is_greyed_out_and_said_plainly(tiny_app):
    pixels = synthetic_scan(0, np.random.default_rng(4)).astype(np.uint16) * 16
    app = tiny_app("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value([("echo.dcm", dicom(pixels, modality="US"), "application/dicom")]).run()
    assert not app.exception
    assert "DICOM header says not MR" in app.dataframe[0].value["check"].iloc[0]
    assert any("says it is not an MR image" in w.value for w in app.warning)
    assert app.subheader[-1].value.startswith(":gray[")
    for header_value in ("Secret", "ID-12345", "US"):  # not even the modality: no header value is shown
        assert header_value not in body_text(app)


def test_a_zipped_series_is_classified_slice_by_slice_with_a_scrubber_and_a_summary(tiny_app):
    app = tiny_app("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value([("head.zip", zipped(series_slices(3)), "application/zip")]).run()
    assert not app.exception
    assert app.dataframe[0].value["file"].tolist() == ["head.zip"]
    assert app.slider[0].label == "Slice of head.zip" and app.slider[0].value == 2
    assert any(m.value.startswith("**Whole series** · 3 slices:") for m in app.markdown)
    app.slider[0].set_value(3).run()
    assert not app.exception and any("slice 3 of 3" in c.value for c in app.caption)


def test_slices_dropped_together_are_one_series_with_the_answers_of_the_same_series_zipped(tiny_app):
    app = tiny_app("pages/1_Classify.py")
    dropped = [(name, data, "application/dicom") for name, data in series_slices(3)]
    app.get("file_uploader")[0].set_value(dropped).run()
    assert not app.exception
    [name] = app.dataframe[0].value["file"].tolist()
    assert name.startswith("series of 3 slices") and app.slider[0].label == f"Slice of {name}"
    as_dropped = [m.value for m in app.markdown if m.value.startswith("**Whole series** · 3 slices:")]
    zipped_app = tiny_app("pages/1_Classify.py")
    zipped_app.get("file_uploader")[0].set_value([("head.zip", zipped(series_slices(3)), "application/zip")]).run()
    assert as_dropped == [m.value for m in zipped_app.markdown if m.value.startswith("**Whole series**")]


def test_a_volume_gets_a_plane_picker_a_scrubber_and_a_summary(tiny_app):
    app = tiny_app("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value([("head.nii.gz", nifti(head_volume(40), gz=True), "application/gzip")]).run()
    assert not app.exception
    assert app.radio[0].label == "Plane" and app.radio[0].value == "axial"
    assert app.slider[0].label == "Slice of head.nii.gz" and (app.slider[0].max, app.slider[0].value) == (40, 21)
    assert any(m.value.startswith("**Whole volume** · 40 slices:") for m in app.markdown)
    assert any("NIfTI volume · axial · slice 21 of 40" in c.value for c in app.caption)
    app.radio[0].set_value("coronal").run()
    assert not app.exception and app.slider[0].max == 96 and any("coronal" in c.value for c in app.caption)


def test_a_multi_frame_file_counts_frames_and_the_table_shows_the_check_right_after_the_class(tiny_app):
    rng = np.random.default_rng(2)
    frames = np.stack([synthetic_scan(label, rng).astype(np.uint16) * 16 for label in (0, 3)])
    photo = encode(Image.fromarray(synthetic_scan(1, rng)).convert("RGB"), "JPEG")
    app = tiny_app("pages/1_Classify.py")
    files = [("cine.dcm", dicom(frames), "application/dicom"), ("scan.jpg", photo, "image/jpeg")]
    app.get("file_uploader")[0].set_value(files).run()
    assert not app.exception
    assert any(m.value.startswith("**Whole file** · 2 frames:") for m in app.markdown)
    order = list(app.dataframe[0].proto.column_order)
    assert order[:4] == ["scan", "class", "check", "file"]
    confidence = app.dataframe[0].value["confidence"]
    assert confidence.between(0, 1).all()  # a share; the grid writes it as a percent in the browser's locale


def test_a_volume_too_thin_for_the_picked_plane_goes_back_to_axial_and_says_why(tiny_app):
    app = tiny_app("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value([("thin.nii", nifti(head_volume(10)), "application/octet-stream")]).run()
    app.slider[0].set_value(3).run()
    app.radio[0].set_value("sagittal").run()
    assert not app.exception
    assert any("cannot be shown in sagittal slices" in w.value for w in app.warning)
    assert app.radio[0].value == "axial" and app.slider[0].max == 10 and not app.error
    # The slider, the caption and the slice shown agree: the axial slice picked before, not the middle one.
    assert app.slider[0].value == 3 and any("axial · slice 3 of 10" in c.value for c in app.caption)


def test_explain_draws_a_map_for_an_upload_with_the_tiny_model(tiny_app):
    scan = encode(Image.fromarray(synthetic_scan(3, np.random.default_rng(1))).convert("RGB"), "JPEG")
    app = tiny_app("pages/2_Explain.py")
    app.get("file_uploader")[0].set_value(("scan.jpg", scan, "image/jpeg")).run()
    assert not app.exception
    assert app.selectbox[0].value == "scan.jpg"
    assert len(app.get("image")) == 1 and len(app.get("download_button")) == 2  # the figure (PNG), the report (PDF)


def test_a_map_whose_tensorflow_worker_fails_is_said_plainly_and_the_other_maps_still_show(tiny_app, monkeypatch):
    from model.core.tensorflow_worker import UNAVAILABLE, TensorFlowWorker
    from model.errors import SaliencyUnavailableError

    def failing(self, batch, class_index, method, progress, reference):
        raise SaliencyUnavailableError(UNAVAILABLE, method=method, why="out of memory")

    monkeypatch.setattr(TensorFlowWorker, "heatmap", failing)
    monkeypatch.setattr(TensorFlowWorker, "warm_up", lambda self: None)
    scan = encode(Image.fromarray(synthetic_scan(2, np.random.default_rng(5))).convert("RGB"), "JPEG")
    app = tiny_app("pages/2_Explain.py")
    app.get("file_uploader")[0].set_value(("scan.jpg", scan, "image/jpeg")).run()
    app.multiselect[0].set_value(["Grad-CAM", "SmoothGrad"]).run()
    assert not app.exception
    assert any("SmoothGrad is unavailable: out of memory" in e.value for e in app.error)
    assert len(app.get("image")) == 1  # Grad-CAM's figure


def test_explain_picks_a_frame_of_a_multi_frame_file_and_says_which(tiny_app):
    rng = np.random.default_rng(2)
    frames = np.stack([synthetic_scan(label, rng).astype(np.uint16) * 16 for label in (0, 3)])
    app = tiny_app("pages/2_Explain.py")
    app.get("file_uploader")[0].set_value(("series.dcm", dicom(frames), "application/dicom")).run()
    assert not app.exception and "Explaining frame 2 of 2" in body_text(app)  # the middle frame first
    app.slider[0].set_value(1).run()
    assert not app.exception and "Explaining frame 1 of 2" in body_text(app)


@pytest.mark.parametrize("page", [page for page in PAGES if "Dataset" not in page])  # it reads only the audit
def test_a_card_that_does_not_follow_its_schema_is_said_plainly_on_every_page_reading_it(
    trained, tmp_path, monkeypatch, page
):
    _, _, config, _ = trained
    broken = shutil.copytree(config.out_dir, tmp_path / "artifact")
    card = read_record(broken / CARD_FILE, CARD_FILE)
    del card["calibration"]["temperature"]
    (broken / CARD_FILE).write_text(json.dumps(card))  # by hand: write_card would refuse it
    monkeypatch.setenv(ARTIFACT_ENV, str(broken))
    app = AppTest.from_file(str(ROOT / page), default_timeout=120).run()
    assert not app.exception, [e.message for e in app.exception]
    assert "The model could not be loaded: model_card.json does not follow its schema" in body_text(app)


def test_a_running_server_serves_a_rewritten_card_without_a_restart(trained, tmp_path, monkeypatch):
    """Caches are keyed by the files' stamps, not by their paths: a new card is read on the next run."""
    _, _, config, _ = trained
    artifact = shutil.copytree(config.out_dir, tmp_path / "artifact")
    monkeypatch.setenv(ARTIFACT_ENV, str(artifact))
    before = AppTest.from_file(str(ROOT / "pages/5_Model_card.py"), default_timeout=120).run()
    card = read_record(artifact / CARD_FILE, CARD_FILE)
    card["calibration"]["temperature"] = 7.25
    write_card(artifact, card)
    after = AppTest.from_file(str(ROOT / "pages/5_Model_card.py"), default_timeout=120).run()
    assert not after.exception and "7.25" in body_text(after) and "7.25" not in body_text(before)


def test_clear_empties_the_uploader_and_a_removed_file_leaves_the_table(tiny_app):
    scans = [
        (f"{i}.jpg", encode(Image.fromarray(synthetic_scan(i, np.random.default_rng(i))).convert("RGB"), "JPEG"))
        for i in range(3)
    ]
    app = tiny_app("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value([(name, data, "image/jpeg") for name, data in scans]).run()
    assert app.dataframe[0].value["file"].tolist() == ["0.jpg", "1.jpg", "2.jpg"]
    app.get("file_uploader")[0].set_value([(name, data, "image/jpeg") for name, data in scans[1:]]).run()  # its ×
    assert app.dataframe[0].value["file"].tolist() == ["1.jpg", "2.jpg"]
    next(b for b in app.button if b.label == "Clear scans").click().run()
    assert not app.exception and not app.dataframe
    assert app.get("file_uploader")[0].value in (None, [])
    assert "Upload one or more scans" in body_text(app)


def test_a_zipped_series_with_a_localiser_classifies_its_slices_and_says_what_was_left_out(tiny_app):
    app = tiny_app("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value(
        [("exam.zip", zipped(series_slices(3) + localiser_views(7)), "application/zip")]
    )
    app.run()
    assert not app.exception and not app.error
    assert any(m.value.startswith("**Whole series** · 3 slices:") for m in app.markdown)
    assert any("7 files of this series were left out: smaller than 32 px" in c.value for c in app.caption)


def test_the_same_image_dropped_twice_is_one_scan_not_a_series(tiny_app):
    app = tiny_app("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value([(n, d, "application/dicom") for n, d in same_image_twice()]).run()
    assert not app.exception
    assert (
        app.dataframe[0].value["file"].tolist() == ["MR_small.dcm"] and "1 scan this session" in app.subheader[0].value
    )
