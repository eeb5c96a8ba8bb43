"""Picks the small sample scans bundled with the app (and used as test fixtures).

Per class: the first Testing scan with no copy in Training and the first one
with a copy, each classified correctly by the committed model (so the tests
can assert their labels), shrunk to at most 256 px. Per tumour class also one
scan with a radiologists' outline, copied byte for byte so that the app's
outline bank (keyed by the file's SHA-256) recognises it: the first correctly
classified Testing scan with an outline, else the first correctly classified
validation scan of the saliency check (held out from training).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from model.schema.records import Evaluation, SaliencyEvaluation, read
from training.data.masks import label_conflicts

SAMPLE_MAX_SIDE = 256


def sample_file_name(scan: str, kind: str) -> str:
    """`Testing/glioma_tumor/image(1).jpg` as a "new" sample: `glioma_tumor__new_image1.jpg`."""
    class_dir, name = scan.split("/")[-2:]
    stem = Path(name).stem.replace("(", "").replace(")", "").replace(" ", "_")
    return f"{class_dir}__{kind}_{stem}.jpg"


def write_samples(data_dir: Path, evaluation: Path, out_dir: Path) -> list[Path]:
    """Per class, the Testing scan the served model gets right most confidently among the new scans, and among the
    copies of training scans, shrunk to a sample's size."""
    report = read(Evaluation, evaluation)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for label in range(len(report.class_names)):
        for leaked in (False, True):
            right = [r for r in report.images if r.label == label and r.leaked == leaked and r.predicted == label]
            if not right:
                continue
            # The most confident: a borderline scan can change its answer once shrunk to a sample's size.
            row = max(right, key=lambda r: r.probabilities[label])
            target = out_dir / sample_file_name(row.path, "copy" if leaked else "new")
            with Image.open(Path(data_dir) / row.path) as opened:
                image = opened.convert("RGB")
            image.thumbnail((SAMPLE_MAX_SIDE, SAMPLE_MAX_SIDE))
            image.save(target, quality=90)
            written.append(target)
    return written


def write_outlined_samples(
    data_dir: Path, evaluation: Path, saliency: Path, masks_dir: Path, out_dir: Path
) -> list[Path]:
    """One outlined scan per tumour class, from Testing when it has one, else from validation; no label conflict."""
    tested = {r.path: r for r in read(Evaluation, evaluation).images}
    disputed = {row.scan for row in label_conflicts(masks_dir)}
    checked = [r for r in read(SaliencyEvaluation, saliency).scans if r.scan not in disputed]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for label in sorted({row.label for row in checked}):
        rows = [r for r in checked if r.label == label and r.correct]
        in_testing = [r for r in rows if r.scan in tested]
        if not (in_testing or rows):
            continue
        scan = (in_testing or rows)[0].scan
        target = out_dir / sample_file_name(scan, "outlined")
        target.write_bytes((Path(data_dir) / scan).read_bytes())
        written.append(target)
    return written
