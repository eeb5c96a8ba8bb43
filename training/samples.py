"""Picks the small sample scans bundled with the app (and used as test fixtures).

Per class: the first Testing scan with no copy in Training and the first one
with a copy, each classified correctly by the committed model (so the tests
can assert their labels), shrunk to at most 256 px.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

SAMPLE_MAX_SIDE = 256


def write_samples(data_dir: Path, evaluation: Path, out_dir: Path) -> list[Path]:
    report = json.loads(Path(evaluation).read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for label in range(len(report["class_names"])):
        for leaked in (False, True):
            row = next(
                (
                    r
                    for r in report["images"]
                    if r["label"] == label and r["leaked"] == leaked and r["predicted"] == label
                ),
                None,
            )
            if row is None:
                continue
            class_dir, name = row["path"].split("/")[-2:]
            stem = Path(name).stem.replace("(", "").replace(")", "").replace(" ", "_")
            target = out_dir / f"{class_dir}__{'copy' if leaked else 'new'}_{stem}.jpg"
            with Image.open(Path(data_dir) / row["path"]) as image:
                image = image.convert("RGB")
                image.thumbnail((SAMPLE_MAX_SIDE, SAMPLE_MAX_SIDE))
                image.save(target, quality=90)
            written.append(target)
    return written
