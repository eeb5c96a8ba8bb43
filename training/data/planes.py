"""Which plane each training image was cut in, where it is known: the plane recogniser's labels.

No source records the plane. lgg-dev's README says its slices are axial, so all of them are. For the other sources,
`planes.csv` holds planes read by eye from numbered contact sheets of the images (`scan` as `listing.scan_name`
names it, `plane` one of `model.core.volume.PLANES`): a random sample of Sartaj's figshare tumour slices (which come
in all three planes), every Sartaj no-tumour scan (mixed web images), and feltrin-dev scans (a random sample and the
ones a first recogniser found least axial-looking: all axial). Later sheets were sorted by that first recogniser's
guess; every image on them was still looked at and its plane corrected where the guess was wrong.
"""

from __future__ import annotations

import csv
from pathlib import Path

from model.core.volume import Plane
from training.data.listing import scan_name
from training.data.split import TrainingSplit

PLANES_FILE = Path(__file__).with_name("planes.csv")
AXIAL_SOURCES = ("lgg-dev",)  # sources whose README says every slice is axial


def read_planes(path: Path = PLANES_FILE) -> dict[str, Plane]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["scan"]: Plane(row["plane"]) for row in csv.DictReader(handle)}


def known_planes(split: TrainingSplit, data_dir: Path, path: Path = PLANES_FILE) -> dict[int, Plane]:
    """The plane of every image of `split` (by index) that has one: its source's, or its row in `path`."""
    read = read_planes(path)
    known = {}
    for index, sample in enumerate(split.samples):
        plane = Plane.AXIAL if sample.source in AXIAL_SOURCES else read.get(scan_name(sample, data_dir))
        if plane is not None:
            known[index] = plane
    return known
