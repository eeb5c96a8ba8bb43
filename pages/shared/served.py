"""What the server serves, cached and keyed by the files' stamps: the artifact folder, the classifier and the
explainer, the model card, the committed result files, the bundled outlines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import streamlit as st
from PIL import Image

from model.core.maps import GRAD_CAM, overlay
from model.core.outlines import OUTLINES_FILE, OutlineBank, prepared_outline
from model.core.predict import Classifier, Prediction
from model.core.preprocess import to_model_input
from model.core.series import Upload
from model.core.trust import Decision, Trust
from model.errors import BrainMRIError
from model.i18n import _
from model.schema.card import ARTIFACT_DIR, ARTIFACT_ENV, CARD_FILE, ModelCard, load_card
from model.schema.records import (
    RECORD_KINDS,
    Audit,
    Candidates,
    Evaluation,
    GroupRescore,
    GuardEvaluation,
    PrecisionEvaluation,
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
from pages.shared.layout import show_library_error


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
    """Grad-CAM, Grad-CAM++ and Score-CAM run on the classifier's ONNX session; the maps that need TensorFlow
    (`Explainer.needs_tensorflow`) run in its worker process, started behind the page's spinner that says so."""
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


def precision_report() -> PrecisionEvaluation | None:
    return of_served(PrecisionEvaluation)


def trust_report() -> TrustEvaluation | None:
    return of_served(TrustEvaluation)


def served_trust() -> Trust | None:
    """The trust layer of the served weights (sets, referral and per-type figures), or None without a file."""
    report = trust_report()
    return None if report is None else Trust.from_report(report)


def decision_of(prediction: Prediction) -> Decision | None:
    """The trust layer's set and referral for one answer (by its scan type's Mondrian fit), if a file is committed."""
    trust = served_trust()
    return (
        None
        if trust is None
        else trust.decide(prediction.probabilities, prediction.scan_type, prediction.out_of_distribution)
    )


@st.cache_resource(show_spinner=False)
def _outline_bank(folder: Path) -> OutlineBank | None:
    path = folder / OUTLINES_FILE
    return OutlineBank.load(path) if path.exists() else None


def scan_outline(data: Upload) -> np.ndarray | None:
    """The radiologists' outline of this exact file, aligned with the prepared scan, when the app ships one (the
    outlined scans are single slices, never a series)."""
    return _scan_outline(artifact_dir(), data) if isinstance(data, bytes) else None


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
