"""This visitor's scans and their results: classification cached by content, the scans kept in the session,
volume planes, the example scans, remembered maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import streamlit as st

from model.core.decode import Container
from model.core.maps import Explanation
from model.core.predict import Classified
from model.core.series import Upload, upload_digest, upload_size
from model.core.volume import PLANES, Plane
from model.errors import BrainMRIError, InputError
from model.i18n import N_, _
from model.report.series_report import plane_word
from model.schema.card import SAMPLES_DIR
from pages.shared.layout import THIS_FILE, class_label
from pages.shared.served import _classifier, artifact_dir, card

SCANS_KEPT = 100  # per visitor, in memory only...
KEPT_MEGABYTES = 300  # ...and this much in all (the newest scan is always kept; a series may weigh 200 MB)
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
class Failure:
    """Why a file could not be classified: the library's typed error as plain data, shown in the visitor's
    language (`message`) and written to the CSV in English (`english`)."""

    template: str
    details: dict

    @classmethod
    def of(cls, error: BrainMRIError) -> "Failure":
        return cls(error.template, dict(error.details))

    def message(self) -> str:
        return _(self.template).format(**{k: _(v) if isinstance(v, str) else v for k, v in self.details.items()})

    def english(self) -> str:
        return self.template.format(**self.details)


def classify(data: Upload, frame: int | None = None, plane: Plane = Plane.AXIAL) -> Classified | Failure:
    """Cached by file content (and frame, and a volume's plane); a bad file gives why instead."""
    return _classify(artifact_dir(), data, frame, plane)


@st.cache_data(show_spinner=False, max_entries=256)
def _classify(folder: Path, data: Upload, frame: int | None, plane: Plane) -> Classified | Failure:
    try:
        return _classifier(folder).classify_upload(data, THIS_FILE, frame, plane)
    except InputError as error:
        return Failure.of(error)


def classify_frames(data: Upload, plane: Plane = Plane.AXIAL) -> list[Classified] | Failure:
    """Every frame or slice of a multi-frame file, series or volume, cached by content; or why it failed. The
    results keep the answers, not the images (a volume's slices as the model saw them would weigh tens of MB):
    the summary, the chart and the CSV need only the answers, and a shown slice comes from `classify`."""
    return _classify_frames(artifact_dir(), data, plane)


@st.cache_data(show_spinner=False, max_entries=SCANS_KEPT)
def _classify_frames(folder: Path, data: Upload, plane: Plane) -> list[Classified] | Failure:
    try:
        return _classifier(folder).classify_frames(data, THIS_FILE, plane, keep_images=False)
    except InputError as error:
        return Failure.of(error)


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


WIDGET_SCANS, UPLOADER_ROUND, EXAMPLES_KEY = "widget_scans", "uploader_round", "examples"


def keep_scans(files: list[tuple[str, Upload]]) -> None:
    """Adds files to this visitor's scans (memory only, never disk), so they survive a visit to another page."""
    kept: dict[str, Upload] = st.session_state.setdefault("scans", {})
    for name, data in files:
        kept.pop(name, None)
        kept[name] = data
    forgotten = 0
    while len(kept) > SCANS_KEPT or (len(kept) > 1 and sum(map(upload_size, kept.values())) > KEPT_MEGABYTES * 2**20):
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


def sync_scans(current: list[tuple[str, Upload]], widgets_continue: bool) -> None:
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


def kept_scans() -> dict[str, Upload]:
    """This visitor's scans, file name -> bytes (a series dropped as slices: its slices), oldest first."""
    return st.session_state.setdefault("scans", {})


PLANES_KEY = "volume-planes"  # scan name -> the plane a visitor cuts that volume along, kept across pages
PLANE_RESETS_KEY = "volume-plane-resets"  # scan name -> how often its plane went back to axial


def plane_of(name: str) -> Plane:
    return Plane(st.session_state.get(PLANES_KEY, {}).get(name, Plane.AXIAL))


def _remember_plane(name: str, widget: str) -> None:
    st.session_state.setdefault(PLANES_KEY, {})[name] = st.session_state[widget]


def classify_scan(
    name: str, data: Upload, frame_in: Callable[[Plane], int | None] | None = None
) -> Classified | Failure:
    """`classify` in the plane the visitor picked, at the frame `frame_in(plane)` gives (default: the middle); a
    volume too thin to cut along that plane (a few thick slices give strips, not images) goes back to axial slices,
    at the axial slice the visitor last picked, and the page says why. Call before the plane picker."""
    plane = plane_of(name)
    result = classify(data, frame_in(plane) if frame_in else None, plane)
    if isinstance(result, Failure) and plane != Plane.AXIAL:
        st.warning(
            _("{name} cannot be shown in {plane} slices: {why} Showing axial slices.").format(
                name=name, plane=plane_word(plane), why=result.message()
            ),
            icon=":material/warning:",
        )
        st.session_state[PLANES_KEY][name] = Plane.AXIAL
        resets = st.session_state.setdefault(PLANE_RESETS_KEY, {})
        resets[name] = resets.get(name, 0) + 1  # a new picker: the browser would keep showing the old choice
        result = classify(data, frame_in(Plane.AXIAL) if frame_in else None, Plane.AXIAL)
    return result


def pick_plane(name: str, result: Classified, page: str) -> None:
    """For a NIfTI volume: which plane to cut it along. Remembered per scan (a widget's own state does not outlive
    its page) and applied before the page classifies again (the callback runs first)."""
    if result.info.container is not Container.VOLUME:
        return
    widget = f"plane-{page}-{name}-{st.session_state.get(PLANE_RESETS_KEY, {}).get(name, 0)}"
    st.radio(
        _("Plane"),
        PLANES,
        index=PLANES.index(plane_of(name)),
        format_func=plane_word,
        horizontal=True,
        key=widget,
        on_change=_remember_plane,
        args=(name, widget),
    )


def explain_scan(name: str) -> None:
    """Opens the Explain page on one of this visitor's scans."""
    st.session_state["explain_scan"] = name
    st.switch_page("pages/2_Explain.py")


def content_id(data: Upload) -> str:
    return upload_digest(data)[:12]
