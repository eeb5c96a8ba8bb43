"""Streamlit glue shared by the pages: page set-up, the cached model, cached results.

Not a page itself (Streamlit ignores modules in sub-folders of pages/).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, cast

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image
from streamlit.navigation.page import StreamlitPage

from model.core.decode import SERIES_FORMAT
from model.core.maps import GRAD_CAM, Explanation, overlay
from model.core.outlines import OUTLINES_FILE, OutlineBank, prepared_outline
from model.core.predict import Classified, Classifier
from model.core.preprocess import to_model_input
from model.core.scan_type import ScanType
from model.core.volume import AXIAL, PLANES, VOLUME_FORMAT
from model.errors import BrainMRIError, InputError
from model.i18n import LANGUAGES, N_, _, use_language
from model.report.scan_type_report import served_row
from model.schema.card import ARTIFACT_DIR, ARTIFACT_ENV, CARD_FILE, SAMPLES_DIR, ModelCard, load_card
from model.schema.records import (
    RECORD_KINDS,
    Audit,
    Candidates,
    Evaluation,
    GroupRescore,
    GuardEvaluation,
    R,
    Record,
    RobustnessEvaluation,
    SaliencyEvaluation,
    ScanTypeEvaluation,
    TrustEvaluation,
    load,
)

if TYPE_CHECKING:
    from model.core.explain import Explainer

SHORT_NOTICE = N_("Research and teaching demo — not a medical device")
NOTICE = N_("Do not use it to diagnose or treat anyone.")
LANGUAGE_KEY = "lang"  # the URL parameter and the session key of the visitor's language


NAVIGATED = "navigated by streamlit_app.py"  # set by the app's entry point in every session it serves


def leave_legacy_navigation() -> None:
    """Makes a cold server's first deep link show the app's own navigation.

    With a `pages/` folder, a server's first request for e.g. /Evaluation runs that page file on its own, as
    Streamlit's legacy multipage app (sidebar "streamlit app", no icons), and every deep link after it does
    the same until a visitor opens "/". That legacy mode is one class attribute, which `st.navigation` turns
    off when streamlit_app.py first runs; turning it off here and rerunning lets streamlit_app.py serve this
    link with the full navigation. A session that streamlit_app.py has already served needs none of this.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not st.session_state.get(NAVIGATED):
        PagesManager.uses_pages_directory = False
        st.rerun()


def choose_language() -> str:
    """This visitor's language: ?lang= in the URL, else their earlier choice, else the browser's (French for any
    fr*). The sidebar selector changes it; it is written back to the URL so that a shared link keeps it."""
    wanted = st.query_params.get(LANGUAGE_KEY) or st.session_state.get(LANGUAGE_KEY) or st.context.locale
    code = use_language(wanted)
    st.session_state[LANGUAGE_KEY] = st.session_state["language_picker"] = code
    st.query_params[LANGUAGE_KEY] = code
    st.sidebar.selectbox(
        "Language · Langue",
        list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key="language_picker",
        on_change=_picked,
    )
    return code


def _picked() -> None:
    st.session_state[LANGUAGE_KEY] = st.query_params[LANGUAGE_KEY] = st.session_state["language_picker"]


def page_setup(title: str) -> None:
    """The visitor's language for this run, the page's title (an English message, translated here), the notice in
    the sidebar and in the body."""
    leave_legacy_navigation()
    use_language(st.session_state.get(LANGUAGE_KEY))
    title = _(title)
    st.set_page_config(
        page_title=f"{title} · " + _("Brain-MRI classifier"), page_icon=":material/neurology:", layout="wide"
    )
    with st.sidebar:
        st.warning(f"**{_(SHORT_NOTICE)}.** {_(NOTICE)}", icon=":material/warning:")
    st.title(title)
    # Also in the page body: on a phone the sidebar starts collapsed and its notice goes unseen.
    st.markdown(f":orange-badge[:material/warning: {_(SHORT_NOTICE)}]")


LOG = logging.getLogger("brain_mri.app")
UNEXPECTED = N_(
    "Something went wrong on this page; it has been logged. Reload the page, or try another scan: your scans are kept."
)


def run_page(page: StreamlitPage) -> None:
    """The last resort around every page: an unexpected error shows one calm sentence and goes to the server log,
    never a traceback to the visitor. Streamlit's own flow (stop, rerun, switch page) is not an Exception."""
    try:
        page.run()
    except Exception:  # noqa: BLE001 - deliberately everything a page did not foresee
        LOG.exception("unexpected error on page %s", page.title)
        st.error(_(UNEXPECTED), icon=":material/error:")


def artifact_dir() -> Path:
    """The artifact the app serves: model/artifacts, or the folder ARTIFACT_ENV names (the fast tests' tiny
    model). Read on every call and passed to every cache, so two artifacts never share a cached result."""
    return Path(os.environ.get(ARTIFACT_ENV, ARTIFACT_DIR))


def file_stamp(path: Path) -> str:
    """What changes when a file is rewritten (modification time and size): part of the key of every cache that
    reads it, so that a running server serves a new model or result file without a restart."""
    try:
        info = path.stat()
    except OSError:
        return "missing"
    return f"{info.st_mtime_ns}:{info.st_size}"


def stamp(name: str) -> str:
    """The stamp of a file of the served artifact (see `file_stamp`)."""
    return file_stamp(artifact_dir() / name)


def get_classifier() -> Classifier:
    with st.spinner(_("Loading the model (once per server)…")):
        classifier = _classifier(artifact_dir())
        if classifier.onnx is not None and classifier.onnx.has_last_conv:
            _explainer(artifact_dir())  # no TensorFlow: ready now, the first map costs only its own time
        return classifier


def _classifier(folder: Path) -> Classifier:
    return _classifier_of(folder, file_stamp(folder / CARD_FILE))


@st.cache_resource(show_spinner=False, max_entries=2)
def _classifier_of(folder: Path, card_stamp: str) -> Classifier:
    classifier = Classifier.from_artifact(folder)
    classifier.warm_up()
    return classifier


def get_explainer() -> Explainer:
    with st.spinner(_("Preparing the saliency maps (once per server)…")):
        return _explainer(artifact_dir())


def _explainer(folder: Path) -> Explainer:
    return _explainer_of(folder, file_stamp(folder / CARD_FILE))


@st.cache_resource(show_spinner=False, max_entries=2)
def _explainer_of(folder: Path, card_stamp: str) -> Explainer:
    """Grad-CAM, Grad-CAM++ and Score-CAM run on the classifier's ONNX session; TensorFlow loads only for the
    maps that need it (`Explainer.needs_tensorflow`), behind the page's spinner that says so."""
    from model.core.explain import Explainer

    explainer = Explainer(_classifier(folder))
    explainer.warm_up()
    return explainer


def card() -> ModelCard:
    """The served model's card; a card that cannot be read stops the page with the library's message."""
    try:
        return _card(artifact_dir())
    except BrainMRIError as error:
        show_library_error(error)


def _card(folder: Path) -> ModelCard:
    return _card_of(folder, file_stamp(folder / CARD_FILE))


@st.cache_data(show_spinner=False, max_entries=4)
def _card_of(folder: Path, card_stamp: str) -> ModelCard:
    return load_card(folder)


def committed(kind: type[R]) -> R | None:
    """A result file committed next to the artifact, typed, or None when it has not been produced yet."""
    return cast("R | None", _committed(artifact_dir(), kind.FILE, stamp(kind.FILE)))


@st.cache_data(show_spinner=False, max_entries=32)
def _committed(folder: Path, name: str, file_stamp: str) -> Record | None:
    return load(RECORD_KINDS[name], folder)


def evaluation() -> Evaluation | None:
    return of_served(Evaluation)


def audit() -> Audit | None:
    return committed(Audit)


def of_served(kind: type[R]) -> R | None:
    """A committed result of the model being served, or None (not produced yet, or left from an earlier model)."""
    report = committed(kind)
    sha = getattr(report, "artifact_sha256", None)
    return report if report is not None and sha is not None and card().describes(sha) else None


def saliency_evaluation() -> SaliencyEvaluation | None:
    return of_served(SaliencyEvaluation)


def guard_evaluation() -> GuardEvaluation | None:
    return of_served(GuardEvaluation)


def candidates() -> Candidates | None:
    return committed(Candidates)


def robustness_report() -> RobustnessEvaluation | None:
    return of_served(RobustnessEvaluation)


def group_rescore() -> GroupRescore | None:
    return committed(GroupRescore)


def scan_type_report() -> ScanTypeEvaluation | None:
    return of_served(ScanTypeEvaluation)


def served_rescore_row() -> dict[str, Any] | None:
    """The served model's row of the committed selection rescore: its accuracy per held-out source x sequence."""
    report = group_rescore()
    served = card()
    return None if report is None else served_row(report, (served.weights_sha256, *served.same_weights_as))


def trust_report() -> TrustEvaluation | None:
    return of_served(TrustEvaluation)


@st.cache_resource(show_spinner=False)
def _outline_bank(folder: Path) -> OutlineBank | None:
    path = folder / OUTLINES_FILE
    return OutlineBank.load(path) if path.exists() else None


def scan_outline(data: bytes) -> np.ndarray | None:
    """The radiologists' outline of this exact file, aligned with the prepared scan, when the app ships one."""
    return _scan_outline(artifact_dir(), data)


@st.cache_data(show_spinner=False, max_entries=64)
def _scan_outline(folder: Path, data: bytes) -> np.ndarray | None:
    bank = _outline_bank(folder)
    return None if bank is None else prepared_outline(bank, data, _card(folder).image_size)


def grad_cam_overlay(path: Path, class_index: int) -> np.ndarray:
    return _grad_cam_overlay(artifact_dir(), path, class_index)


@st.cache_data(show_spinner=False, max_entries=64)
def _grad_cam_overlay(folder: Path, path: Path, class_index: int) -> np.ndarray:
    """A prepared scan saved on disk with its Grad-CAM overlaid: computed once per scan and class, not per rerun."""
    image = np.asarray(Image.open(path).convert("RGB"))
    return overlay(image, _explainer(folder).explain(to_model_input(image), class_index, GRAD_CAM).heatmap)


EXPLANATIONS_KEPT = 48


def remembered_explanation(key: tuple, compute: Callable[[], Explanation]) -> Explanation:
    """This visitor's recent maps, at most EXPLANATIONS_KEPT, so that switching class or method back is instant."""
    kept = st.session_state.setdefault("explanations", {})
    if key not in kept:
        kept[key] = compute()
        while len(kept) > EXPLANATIONS_KEPT:
            kept.pop(next(iter(kept)))
    return kept[key]


@dataclass(frozen=True)
class Result:
    """A classification reduced to plain data, so that st.cache_data can keep it."""

    prepared: np.ndarray
    class_index: int
    class_name: str
    probabilities: np.ndarray
    confidence: float
    margin: float
    out_of_distribution: bool
    ood_score: float | None
    frames: int
    frame: int
    details: dict[str, str]
    scan_type: ScanType | None = None


@dataclass(frozen=True)
class Failure:
    """Why a file could not be classified: the library's typed error as plain data, shown in the visitor's
    language (`message`) and written to the CSV in English (`english`)."""

    template: str
    details: dict

    @classmethod
    def of(cls, error: InputError) -> "Failure":
        return cls(error.template, dict(error.details))

    def message(self) -> str:
        return _(self.template).format(**{k: _(v) if isinstance(v, str) else v for k, v in self.details.items()})

    def english(self) -> str:
        return self.template.format(**self.details)


THIS_FILE = N_("This file")  # the name a bad file's message starts with


def class_label(name: str) -> str:
    """A class name from the card ("Glioma") or the outline dataset ("glioma"), in the visitor's language."""
    return _(name)


def frame_word(result: Result) -> str:
    """What one frame of a multi-frame result is called: a slice of a series, a frame of a multi-frame file."""
    return _("slice") if result.details.get("format") in (SERIES_FORMAT, VOLUME_FORMAT) else _("frame")


def classify(data: bytes, frame: int | None = None, plane: str = AXIAL) -> Result | Failure:
    """Cached by file content (and frame, and a volume's plane); a bad file gives why instead."""
    return _classify(artifact_dir(), data, frame, plane)


@st.cache_data(show_spinner=False, max_entries=256)
def _classify(folder: Path, data: bytes, frame: int | None, plane: str) -> Result | Failure:
    try:
        return _result(_classifier(folder).classify_bytes(data, THIS_FILE, frame, plane))
    except InputError as error:
        return Failure.of(error)


def classify_frames(data: bytes, plane: str = AXIAL) -> list[Result] | Failure:
    """Every frame or slice of a multi-frame file, series or volume, cached by content; or why it failed."""
    return _classify_frames(artifact_dir(), data, plane)


@st.cache_data(show_spinner=False, max_entries=16)
def _classify_frames(folder: Path, data: bytes, plane: str) -> list[Result] | Failure:
    try:
        return [_result(c) for c in _classifier(folder).classify_frames(data, THIS_FILE, plane)]
    except InputError as error:
        return Failure.of(error)


def _result(classified: Classified) -> Result:
    p, decoded = classified.prediction, classified.decoded
    return Result(
        classified.prepared,
        p.class_index,
        p.class_name,
        p.probabilities,
        p.confidence,
        p.margin,
        p.out_of_distribution,
        p.ood_score,
        decoded.frames,
        decoded.frame,
        decoded.details,
        p.scan_type,
    )


SAMPLE_KINDS = {
    "outlined": N_("with the radiologists' outline"),
    "new": N_("new scan"),
    "copy": N_("copy of a training scan"),
}


def sample_scans() -> dict[str, Path]:
    """Label shown in the picker -> file `<class_dir>__<kind>_<name>.jpg`; outlined examples first."""
    names = dict(zip(card().class_dirs, card().class_names))
    labelled = {}
    for kind, words in SAMPLE_KINDS.items():
        for path in sorted((artifact_dir() / SAMPLES_DIR.name).glob(f"*__{kind}_*.jpg")):
            class_dir, name = path.stem.split("__")
            label = _("{cls} example, {kind} ({name})").format(
                cls=class_label(names.get(class_dir, "?")), kind=_(words), name=name.removeprefix(kind + "_")
            )
            labelled[label] = path
    return labelled


def png_bytes(image) -> bytes:
    """A uint8 image array or a Matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    if isinstance(image, np.ndarray):
        Image.fromarray(image).save(buffer, format="PNG")
    else:
        import matplotlib.pyplot as plt  # only the pages that draw figures pay for it

        image.savefig(buffer, format="png", dpi=110)
        plt.close(image)  # pyplot keeps every figure it made until it is closed
    return buffer.getvalue()


SCANS_KEPT = 100  # per visitor, in memory only...
KEPT_MEGABYTES = 300  # ...and this much in all (the newest scan is always kept; a zipped series may weigh 200 MB)


WIDGET_SCANS, UPLOADER_ROUND, EXAMPLES_KEY = "widget_scans", "uploader_round", "examples"


def keep_scans(files: list[tuple[str, bytes]]) -> None:
    """Adds files to this visitor's scans (memory only, never disk), so they survive a visit to another page."""
    kept: dict[str, bytes] = st.session_state.setdefault("scans", {})
    for name, data in files:
        kept.pop(name, None)
        kept[name] = data
    forgotten = 0
    while len(kept) > SCANS_KEPT or (len(kept) > 1 and sum(map(len, kept.values())) > KEPT_MEGABYTES * 2**20):
        kept.pop(next(iter(kept)))
        forgotten += 1
    if forgotten:
        st.warning(
            _(
                "Each visitor keeps at most {count} scans and {limit} MB in memory: the {n} oldest were forgotten, "
                "with their results."
            ).format(count=SCANS_KEPT, limit=KEPT_MEGABYTES, n=forgotten),
            icon=":material/delete_sweep:",
        )


def uploader_key() -> str:
    return f"uploads-{st.session_state.get(UPLOADER_ROUND, 0)}"


def sync_scans(current: list[tuple[str, bytes]], widgets_continue: bool) -> None:
    """Keeps this visitor's scans in step with the uploader and the examples picker. When the widgets continue from
    the last run (`widgets_continue`: their state was there before they were drawn), a file that was there then and
    is gone now (removed with its ×, an example unpicked) is forgotten with its result. Coming back from another
    page the widgets start empty (Streamlit drops the state of widgets a page did not draw): nothing is forgotten."""
    names = {name for name, _ in current}
    kept = kept_scans()
    for gone in st.session_state.get(WIDGET_SCANS, set()) - names if widgets_continue else ():
        kept.pop(gone, None)
    st.session_state[WIDGET_SCANS] = names
    keep_scans(current)


def clear_scans() -> None:
    """Forgets every scan and empties the uploader (a new widget key) and the examples picker."""
    kept_scans().clear()
    st.session_state[WIDGET_SCANS] = set()
    st.session_state[UPLOADER_ROUND] = st.session_state.get(UPLOADER_ROUND, 0) + 1
    st.session_state.pop(EXAMPLES_KEY, None)


def kept_scans() -> dict[str, bytes]:
    """This visitor's scans, file name -> bytes, oldest first."""
    return st.session_state.setdefault("scans", {})


PLANES_KEY = "volume-planes"  # scan name -> the plane a visitor cuts that volume along, kept across pages
PLANE_RESETS_KEY = "volume-plane-resets"  # scan name -> how often its plane went back to axial


def plane_of(name: str) -> str:
    return st.session_state.get(PLANES_KEY, {}).get(name, AXIAL)


def _remember_plane(name: str, widget: str) -> None:
    st.session_state.setdefault(PLANES_KEY, {})[name] = st.session_state[widget]


def classify_scan(name: str, data: bytes, frame: int | None = None) -> Result | Failure:
    """`classify` in the plane the visitor picked; a volume too thin to cut along that plane (a few thick slices
    give strips, not images) goes back to axial slices, and the page says why. Call before the plane picker."""
    plane = plane_of(name)
    result = classify(data, frame, plane)
    if isinstance(result, Failure) and plane != AXIAL:
        st.warning(
            _("{name} cannot be shown in {plane} slices: {why} Showing axial slices.").format(
                name=name, plane=_(plane), why=result.message()
            ),
            icon=":material/warning:",
        )
        st.session_state[PLANES_KEY][name] = AXIAL
        resets = st.session_state.setdefault(PLANE_RESETS_KEY, {})
        resets[name] = resets.get(name, 0) + 1  # a new picker: the browser would keep showing the old choice
        result = classify(data, None, AXIAL)
    return result


def pick_plane(name: str, result: Result, page: str) -> None:
    """For a NIfTI volume: which plane to cut it along. Remembered per scan (a widget's own state does not outlive
    its page) and applied before the page classifies again (the callback runs first)."""
    if result.details.get("format") != VOLUME_FORMAT:
        return
    widget = f"plane-{page}-{name}-{st.session_state.get(PLANE_RESETS_KEY, {}).get(name, 0)}"
    st.radio(
        _("Plane"),
        PLANES,
        index=PLANES.index(plane_of(name)),
        format_func=_,
        horizontal=True,
        key=widget,
        on_change=_remember_plane,
        args=(name, widget),
    )


def explain_scan(name: str) -> None:
    """Opens the Explain page on one of this visitor's scans."""
    st.session_state["explain_scan"] = name
    st.switch_page("pages/2_Explain.py")


def thumbnail_uri(image: np.ndarray, size: int = 64) -> str:
    """A small PNG as a data URI, for an image column of a table."""
    thumbnail = Image.fromarray(image)
    thumbnail.thumbnail((size, size))
    return "data:image/png;base64," + base64.b64encode(png_bytes(np.asarray(thumbnail))).decode()


def probability_chart(labels: list[str], probabilities: np.ndarray) -> alt.Chart:
    """One bar per class on a fixed 0-100 % axis, so that scans compare at a glance (a bar chart would rescale its
    axis to each scan's top class)."""
    frame = pd.DataFrame({"class": labels, "p": np.asarray(probabilities, dtype=float)})
    return (
        alt.Chart(frame, height=170)
        .mark_bar()
        .encode(
            x=alt.X(
                "p:Q", title=_("calibrated probability"), scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")
            ),
            y=alt.Y("class:N", title=None, sort=None, axis=alt.Axis(labelLimit=240)),
            tooltip=[
                alt.Tooltip("class:N", title=_("class")),
                alt.Tooltip("p:Q", title=_("calibrated probability"), format=".1%"),
            ],
        )
    )


def content_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def show_library_error(error: BrainMRIError) -> NoReturn:
    st.error(_("The model could not be loaded: {error}").format(error=error))
    st.stop()
