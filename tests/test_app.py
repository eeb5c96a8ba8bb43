"""Every page under streamlit.testing.v1.AppTest, with the committed model (marked `artifact`)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from model.card import EVALUATION_FILE, load_card, load_json
from tests.helpers import sample_scans
from tests.test_decode import PNG

pytestmark = pytest.mark.artifact
ROOT = Path(__file__).resolve().parents[1]
PAGES = ["streamlit_app.py", "pages/1_Classify.py", "pages/2_Explain.py", "pages/3_Evaluation.py", "pages/4_Dataset.py"]
TIMEOUT = 240


def run(page: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
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


def test_classify_an_uploaded_scan_shows_its_label_and_a_table():
    path, class_dir = sample_scans()[0]
    card = load_card()
    expected = card.class_names[card.class_dirs.index(class_dir)]
    app = run("pages/1_Classify.py")
    app.get("file_uploader")[0].set_value([(path.name, path.read_bytes(), "image/jpeg")])
    app.run()
    assert not app.exception
    assert [s.value for s in app.subheader][0] == expected
    table = app.dataframe[0].value
    assert table["prediction"].tolist() == [expected]
    assert abs(sum(table[[c for c in table.columns if c.startswith("p(")]].iloc[0]) - 1) < 1e-3


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
    assert len(app.dataframe[0].value) == 4


def test_explain_produces_an_image_for_every_method():
    app = run("pages/2_Explain.py")
    app.multiselect[0].set_value(["Grad-CAM", "Grad-CAM++", "Score-CAM", "SmoothGrad"])
    app.run()
    assert not app.exception
    assert [s.value for s in app.subheader] == ["Grad-CAM", "Grad-CAM++", "Score-CAM", "SmoothGrad"]
    assert len(app.get("download_button")) == 4
    assert len(app.get("image")) == 8  # original and overlay per method


def test_evaluation_shows_the_accuracy_from_the_committed_json():
    report = load_json(EVALUATION_FILE)
    app = run("pages/3_Evaluation.py")
    values = [m.value for m in app.metric]
    assert f"{report['full']['accuracy']:.1%}" in values
    assert f"{report['leakage_clean']['accuracy']:.1%}" in values


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
    assert app.dataframe[0].value["looks_like_training_mri"].tolist() == [False]
