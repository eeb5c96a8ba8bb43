"""Dataset: class balance, examples per class, and the duplicate/leakage audit."""

import pandas as pd
import streamlit as st

from model.i18n import N_, _, language
from model.report.evaluation_report import audit_sentence
from model.report.figures import class_distribution
from model.schema.records import Audit
from pages.shared.layout import class_label, page_setup, png_bytes, table
from pages.shared.served import artifact_dir, audit, stamp

EXAMPLES_DIR = "examples"  # thumbnails beside the audit (python -m training audit --examples-dir)

page_setup(N_("The dataset"))
report = audit()
if report is None:
    st.info(_("No audit has been committed. Run `python -m training audit` (see README)."))
    st.stop()

class_dirs = list(report.class_names)
names = [class_label(report.class_names[c]) for c in class_dirs]
st.markdown(
    _(
        "Bhuvaji et al., *Brain Tumor Classification (MRI)*, Kaggle 2020 (doi:10.34740/KAGGLE/DSV/1183165): "
        "T1-weighted and other MRI slices as JPEGs, in a Training and a Testing folder. Every number on "
        "this page comes from `python -m training audit`."
    )
)
counts = {split: info.class_counts for split, info in report.splits.items()}


@st.cache_data(show_spinner=False, max_entries=2)
def distribution_png(source: str, lang: str) -> bytes:
    return png_bytes(class_distribution(counts, class_dirs, names))


st.columns([3, 2])[0].image(
    distribution_png(stamp(Audit.FILE), language()),
    alt=_("Images per class: {counts}").format(
        counts="; ".join(
            f"{split} " + ", ".join(f"{n} {c.get(d, 0)}" for d, n in zip(class_dirs, names))
            for split, c in counts.items()
        )
    ),
)

st.subheader(_("Examples per class (Training)"))
for class_dir, name in zip(class_dirs, names):
    files = [] if report.examples is None else report.examples.grid.get(class_dir, [])
    if files:
        st.markdown(f"**{name}**")
        st.image(
            [str(artifact_dir() / EXAMPLES_DIR / f) for f in files],
            width=130,
            alt=[_("{name} training scan").format(name=name)] * len(files),
        )

st.subheader(_("Duplicates and leakage between the splits"))
st.markdown(audit_sentence(report) + " " + _("Perceptual hashes from `imagehash`."))
per_class = pd.DataFrame(
    [
        {
            _("class"): class_label(report.class_names[c]),
            _("test images"): v.images,
            _("copies of training scans"): v.leaked,
            _("byte-identical"): v.exact,
            _("new"): v.images - v.leaked,
        }
        for c, v in report.cross_split.per_class.items()
    ]
)
table(per_class)
conflicting_groups = report.splits["Training"].conflicting_label_groups
disagreements = report.cross_split.label_disagreements
st.caption(
    _(
        "{groups} near-duplicate groups inside Training carry more than one label, and {scans} test scans copy a "
        "training scan of another class."
    ).format(groups=len(conflicting_groups), scans=len(disagreements))
)

st.markdown(_("**Examples: a test scan next to the training scan it copies**"))
grid = st.columns(4)
for slot, pair in enumerate([] if report.examples is None else report.examples.leak_pairs):
    with grid[slot % 4].container(border=True):
        st.image(
            [
                str(artifact_dir() / EXAMPLES_DIR / str(pair.test_image)),
                str(artifact_dir() / EXAMPLES_DIR / str(pair.training_image)),
            ],
            width=110,
            caption=["Testing", "Training"],
            alt=[_("Testing scan"), _("its copy in Training")],
        )
        kind = _("byte-identical") if pair.exact else _("pHash distance {d}").format(d=pair.phash_distance)
        st.caption(f"{class_label(report.class_names[pair.test_class])} · {kind}")

conflicts = report.label_conflicts
if conflicts:
    st.subheader(_("Where two sources disagree on the label"))
    filed = " / ".join(sorted({class_label(report.class_names[c.class_dir]) for c in conflicts}))
    st.markdown(
        _(
            "**{n} scans filed as {filed} here are slices that the figshare dataset, where radiologists outlined each "
            "tumour, labels otherwise** (Cheng et al., figshare article 1512427, CC BY 4.0). One slice rarely settles "
            "the question; the Evaluation page also scores Testing without them."
        ).format(n=len(conflicts), filed=filed)
    )
    shelf = st.columns(7)
    for slot, conflict in enumerate(conflicts):
        with shelf[slot % 7]:
            if conflict.image is not None:
                st.image(
                    str(artifact_dir() / EXAMPLES_DIR / conflict.image),
                    width="stretch",
                    alt=_("Scan labelled differently by figshare ({label})").format(
                        label=class_label(conflict.figshare_label)
                    ),
                )
            split, file = conflict.scan.split("/")[0], conflict.scan.split("/")[-1]
            st.caption(
                _("{file} ({split}) · figshare: {label}, slice {index}").format(
                    file=file,
                    split=split,
                    label=class_label(conflict.figshare_label),
                    index=conflict.figshare_index,
                )
            )
