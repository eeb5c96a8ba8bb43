"""Every page under streamlit.testing.v1.AppTest, with the committed model (marked `artifact`)."""

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from model.schema.card import ARTIFACT_DIR, load_card
from model.schema.records import Candidates, Evaluation, SaliencyEvaluation, TrustEvaluation, load
from tests.helpers import PAGES, PNG, ROOT, english_left, sample_scans

pytestmark = pytest.mark.artifact
TIMEOUT = 240


def run(page: str, language: str | None = None) -> AppTest:
    app = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
    if language:
        app.query_params["lang"] = app.session_state["lang"] = language
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def texts(app: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "subheader", "caption", "title") for e in getattr(app, kind)]
    parts += [e.value for e in app.error] + [e.value for e in app.warning] + [e.value for e in app.info]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_the_not_a_medical_device_notice(page):
    app = run(page)
    assert "not a medical device" in texts(app)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_with_every_committed_result_reads_in_french(page):
    app = run(page, "fr")
    assert "ce n'est pas un dispositif médical" in texts(app)
    assert not english_left(app)


def test_classify_an_uploaded_scan_shows_its_label_and_a_table():
    path, class_dir = sample_scans()[0]
    card = load_card()
    expected = card.class_names[card.class_dirs.index(class_dir)]
    app = run("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value([(path.name, path.read_bytes(), "image/jpeg")])
    app.run()
    assert not app.exception
    assert [s.value for s in app.subheader] == ["1 scan this session", "Details", expected]
    summary = app.dataframe[0].value
    assert summary["class"].tolist() == [expected] and summary["file"].tolist() == [path.name]
    assert 0.25 < summary["confidence"].iloc[0] <= 1 and summary["scan"].iloc[0].startswith("data:image/png")
    assert len(app.get("vega_lite_chart")) == 1  # the probabilities, drawn by the browser
    [set_column] = [c for c in summary.columns if c.endswith(" set")]
    assert expected in summary[set_column].iloc[0].split(", ")  # the prediction set holds the predicted class
    assert "on validation scans" in texts(app) and "leakage-clean subset" in texts(app)  # how far the sets carry
    sequences = ("T1", "T1 with contrast", "T2", "FLAIR", "other or unsure (e.g. diffusion)")
    kind = summary["scan type"].iloc[0]
    assert kind.split(" ", 1)[0] in ("axial", "coronal", "sagittal", "skull-stripped") and kind.endswith(sequences)
    said = texts(app)
    assert "Looks like a **" in said or "Scan type: **" in said
    assert "validation scans the model was right" in said or "Not validated on" in said
    [report] = [b.proto for b in app.get("download_button") if b.proto.label == "Download a PDF report"]
    assert report.deferred_file_id  # built when clicked (tests/test_browser.py downloads and reads it)


def classify_one(name, data):
    app = run("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value([(name, data, "image/png")])
    app.run()
    assert not app.exception
    return app


def test_a_skull_stripped_glioma_slice_is_referred_as_not_validated_with_no_borrowed_figure():
    import io

    import numpy as np
    from PIL import Image

    from model.core.preprocess import crop_head
    from training.data.domain import skull_stripped

    path = next(p for p, class_dir in sample_scans() if class_dir == "glioma_tumor")
    stripped, _ = skull_stripped(crop_head(np.asarray(Image.open(path).convert("RGB"))), None, 0.15)
    buffer = io.BytesIO()
    Image.fromarray(stripped).save(buffer, format="PNG")
    app = classify_one("stripped.png", buffer.getvalue())
    check = app.dataframe[0].value["check"].iloc[0]
    assert "not validated on this kind of scan" in check and "low confidence" not in check
    said = texts(app)
    # Its own kind's words only: no validated kind's "On n ... validation scans the model was right" sentence.
    assert "Not validated on skull-stripped " in said and "validation scans the model was right" not in said


def test_a_confident_in_source_scan_never_reads_low_confidence():
    from model.core.predict import Classifier
    from model.core.trust import CONFIDENT

    classifier = Classifier.from_artifact()
    confidence = {
        path: prediction.confidence
        for path, _ in sample_scans()
        for _, prediction in classifier.classify_images([np.asarray(Image.open(path).convert("RGB"))])
    }
    path = max(confidence, key=confidence.get)
    assert confidence[path] >= CONFIDENT  # the model is sure of at least one of its own source's samples
    app = classify_one(path.name, path.read_bytes())
    assert app.dataframe[0].value["confidence"].iloc[0] >= CONFIDENT
    assert "low confidence" not in app.dataframe[0].value["check"].iloc[0]


def test_a_batch_with_bad_files_shows_one_result_and_one_message_per_bad_file():
    path, _ = sample_scans()[0]
    app = run("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value(
        [
            (path.name, path.read_bytes(), "image/jpeg"),
            ("empty.jpg", b"", "image/jpeg"),
            ("notes.png", b"plain text, not an image" * 5, "image/png"),
            ("broken.png", PNG[: len(PNG) // 2], "image/png"),
        ]
    )
    app.run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert len(errors) == 3
    for name in ("empty.jpg", "notes.png", "broken.png"):
        assert sum(name in e for e in errors) == 1
    assert app.dataframe[0].value["file"].tolist() == [path.name]  # no row of empty cells for a failed file


def test_home_says_under_the_headline_which_kinds_of_scan_were_validated():
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    app.run()
    [line] = [c.value for c in app.caption if c.value.startswith("Validated only on ")]
    assert "axial T1 with contrast" in line and "skull-stripped" not in line.split(";")[0]  # none validated
    assert line.endswith("always referred, skull-stripped scans among them.")


def test_scans_and_results_stay_for_the_session_and_open_in_explain():
    path, _ = sample_scans()[0]
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    app.run()
    app.switch_page("pages/1_Classify.py").run()
    app.get("file_uploader")[0].set_value([(path.name, path.read_bytes(), "image/jpeg")]).run()
    app.switch_page("pages/4_Dataset.py").run()
    app.switch_page("pages/1_Classify.py").run()  # the uploader is empty again; the scan is not
    assert app.dataframe[0].value["file"].tolist() == [path.name]
    next(b for b in app.button if b.label == "Explain this scan").click().run()
    assert not app.exception
    assert app.title[0].value == "Explain a prediction" and app.selectbox[0].value == path.name


def test_explain_shows_every_method_in_one_figure_with_one_download():
    app = run("pages/2_Explain.py")
    app.multiselect[0].set_value(["Grad-CAM", "Grad-CAM++", "Score-CAM", "SmoothGrad"])
    app.run()
    assert not app.exception
    assert len(app.get("image")) == 1  # one figure: the scan and the four maps side by side, one colour bar
    buttons = {b.proto.label: b.proto for b in app.get("download_button")}
    assert len(buttons) == 2 and buttons["Download a PDF report of this scan"].deferred_file_id  # built on click
    assert "Grad-CAM: " in texts(app) and "SmoothGrad: " in texts(app)  # each map's time


def test_explain_draws_the_radiologists_outline_for_an_outlined_example():
    app = run("pages/2_Explain.py")
    picker = app.selectbox[0]
    assert "outline" in picker.value  # the default example has an outline
    toggle = next(t for t in app.toggle if "outline" in t.label)
    assert toggle.value and not toggle.disabled
    assert "Against the radiologists' outline" in texts(app)
    table = app.table[0].value
    assert table["method"].tolist() == ["Grad-CAM"] and set(table["peak on outline"]) <= {"yes", "no"}
    assert "Cheng et al." in texts(app)


def test_explain_says_why_a_scan_without_an_outline_has_none():
    app = run("pages/2_Explain.py")
    app.selectbox[0].set_value(next(o for o in app.selectbox[0].options if "outline" not in o)).run()
    assert not app.exception
    assert "No radiologists' outline for this file" in texts(app)
    assert next(t for t in app.toggle if "outline" in t.label).disabled


def test_the_common_scale_switch_redraws_the_maps():
    app = run("pages/2_Explain.py")
    scale = next(t for t in app.toggle if "Common scale" in t.label)
    assert not scale.disabled
    scale.set_value(True).run()
    assert not app.exception and len(app.get("image")) == 1


def test_evaluation_shows_the_accuracy_from_the_committed_json():
    report = load(Evaluation, ARTIFACT_DIR)
    app = run("pages/3_Evaluation.py")
    values = [m.value for m in app.metric]
    assert report.leakage_clean is not None
    assert f"{report.full.accuracy:.1%}" in values
    assert f"{report.leakage_clean.accuracy:.1%}" in values


def test_evaluation_says_when_to_trust_an_answer():
    app = run("pages/3_Evaluation.py")
    assert "When to trust an answer" in texts(app)
    rows = next(d.value for d in app.table if "mean set size" in d.value.columns)
    trust = load(TrustEvaluation, ARTIFACT_DIR)
    assert rows["images"].tolist() == [str(trust.sets[k].n) for k in ("validation", "testing", "testing_leakage_clean")]


def test_evaluation_says_whether_the_maps_point_at_the_tumour():
    app = run("pages/3_Evaluation.py")
    assert "Do the maps point at the tumour?" in texts(app)
    saliency = load(SaliencyEvaluation, ARTIFACT_DIR)
    assert ("Model-randomisation check" in texts(app)) == (saliency.sanity_check is not None)
    methods = next(t.value for t in app.table if "method" in t.value.columns)["method"].tolist()
    assert methods[: len(saliency.methods)] == saliency.methods and len(methods) == len(saliency.methods) + len(
        saliency.baselines
    )


def test_a_photo_is_flagged_as_not_a_brain_mri():
    import io

    from PIL import Image
    from skimage import data as skdata

    buffer = io.BytesIO()
    Image.fromarray(skdata.astronaut()).save(buffer, format="JPEG")
    app = run("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value([("holiday.jpg", buffer.getvalue(), "image/jpeg")])
    app.run()
    assert not app.exception
    assert any("does not look like a brain MRI" in w.value for w in app.warning)
    assert "not like a training MRI" in app.dataframe[0].value["check"].iloc[0]
    assert "gray" in [s.value for s in app.subheader][-1]  # the verdict is greyed out
    row = app.dataframe[0].value.iloc[0]
    assert row["scan type"] == "–" and row.filter(like=" set").tolist() == ["–"]  # no scan type, no set
    assert row["confidence"] is None or row["confidence"] != row["confidence"]  # no confidence (None or NaN)
    assert "Confidence" not in texts(app) and "Looks like a" not in texts(app)
    assert not app.get("vega_lite_chart")  # no probability chart


def test_the_served_app_does_not_watch_files():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"


def test_the_model_card_says_what_it_is_for_where_it_fails_and_how_testing_was_used():

    text = texts(run("pages/5_Model_card.py"))
    assert "Out of scope:" in text and "not a medical device" in text
    assert "Validated only on " in text and "skull-stripped scans among them" in text  # a failure mode, listed
    assert "On new scans from other sources the model finds only" in text
    candidates = load(Candidates, ARTIFACT_DIR).runs
    assert f"{sum(len(r) for r in candidates.values())} candidates from {len(candidates)} training runs" in text
