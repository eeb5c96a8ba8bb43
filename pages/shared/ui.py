"""Streamlit glue shared by the pages: page set-up, the cached model, cached results.

Not a page itself (Streamlit ignores modules in sub-folders of pages/).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from model.card import ARTIFACT_DIR, AUDIT_FILE, EVALUATION_FILE, ModelCard, load_card, load_json
from model.errors import BrainMRIError, InputError
from model.explain import Explainer
from model.predict import Classifier

NOTICE = "**Research and teaching demo — not a medical device.** Do not use it to diagnose or treat anyone."
SAMPLES_DIR = ARTIFACT_DIR / "samples"


def page_setup(title: str) -> None:
    st.set_page_config(page_title=f"{title} · Brain-MRI classifier", page_icon=":material/neurology:", layout="wide")
    with st.sidebar:
        st.warning(NOTICE, icon=":material/warning:")
    st.title(title)


@st.cache_resource(show_spinner="Loading the model (once per server)…")
def get_classifier() -> Classifier:
    classifier = Classifier.from_artifact(ARTIFACT_DIR)
    classifier.warm_up()
    return classifier


@st.cache_resource(show_spinner="Preparing saliency methods…")
def get_explainer() -> Explainer:
    return Explainer(get_classifier())


@st.cache_data(show_spinner=False)
def card() -> ModelCard:
    return load_card()


@st.cache_data(show_spinner=False)
def committed_json(name: str) -> dict | None:
    """A JSON file committed next to the artifact, or None when it has not been produced yet."""
    try:
        return load_json(name)
    except FileNotFoundError:
        return None


def evaluation() -> dict | None:
    return committed_json(EVALUATION_FILE)


def audit() -> dict | None:
    return committed_json(AUDIT_FILE)


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


@st.cache_data(show_spinner=False, max_entries=256)
def classify(data: bytes, frame: int | None = None) -> Result | str:
    """Cached by file content (and frame); a bad file gives its one-sentence message instead."""
    try:
        classified = get_classifier().classify_bytes(data, "This file", frame)
    except InputError as error:
        return str(error)
    p = classified.prediction
    return Result(
        classified.prepared,
        p.class_index,
        p.class_name,
        p.probabilities,
        p.confidence,
        p.margin,
        p.out_of_distribution,
        p.ood_score,
        classified.decoded.frames,
        classified.decoded.frame,
        classified.decoded.details,
    )


def sample_scans() -> dict[str, Path]:
    """Label shown in the picker -> file: `<class_dir>__<name>.jpg`."""
    names = dict(zip(card().class_dirs, card().class_names))
    return {
        f"{names.get(p.name.split('__')[0], '?')} example ({p.stem.split('__')[-1]})": p
        for p in sorted(SAMPLES_DIR.glob("*.jpg"))
    }


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def content_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def show_library_error(error: BrainMRIError) -> None:
    st.error(f"The model could not be loaded: {error}")
    st.stop()
