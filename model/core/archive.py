"""Classify an archive into one results file, in this process or on Ray Data, and pick up where a run stopped.

`python -m model classify SOURCES --out results.csv|.parquet [--engine local|ray]`. Both engines list the same
files (`find_scans`), classify each with the same function (`classify_paths`: decode, preprocess, one ONNX Runtime
session, the committed trust fit) and write the same columns (`output_fields`), so they give the same answers;
errors are rows. Every row carries the SHA-256 of its file's bytes: a rerun with the same `--out` skips every file
already in it, so an interrupted job continues (a CSV is appended as results arrive; a Parquet file is written when
the run ends, keeping the rows it held).

Ray (optional: `pip install -r requirements-scale.txt`) reads the listing as a dataset and classifies it with
`map_batches` on a callable class whose actors each load the artifact once (`actors`, `cpus_per_actor`); `address`
(or RAY_ADDRESS) joins an existing cluster instead of starting one in this process.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any, Iterable, Iterator

from tqdm import tqdm

from model.core.batch import BATCH, classify_paths, csv_fields, find_scans
from model.core.onnx_forward import available_cores
from model.core.predict import Classifier
from model.core.trust import Trust, committed_trust
from model.schema.card import load_card

CONTENT_HASH = "content_sha256"
Row = dict[str, Any]


def output_fields(class_names: list[str]) -> list[str]:
    """The CSV columns of the app's download, then the file's content hash (what a rerun skips by)."""
    return [*csv_fields(class_names), CONTENT_HASH]


def content_hash(path: Path) -> str | None:
    """SHA-256 of the file's bytes; None when it cannot be read (a rerun tries it again)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


Pending = dict[str, str | None]  # file -> its content hash (None: unreadable), in listing order


def hashed_rows(classifier: Classifier, pending: Pending, trust: Trust | None) -> Iterator[Row]:
    """`classify_paths` with each row's content hash: the one function both engines run. A file that was read
    but is not a scan keeps its hash too: its error is its answer, and a rerun does not ask again."""
    for row in classify_paths(classifier, [Path(p) for p in pending], trust):
        yield {**row, CONTENT_HASH: pending[str(row["file"])]}


class ResultsFile:
    """The output: a CSV appended as rows arrive, or a Parquet file written (with the rows it held) at the end."""

    def __init__(self, path: Path, fields: list[str]):
        self.path, self.fields = Path(path), fields
        self.parquet = self.path.suffix.lower() == ".parquet"
        self.kept = self._read() if self.path.exists() else []
        self.new: list[Row] = []
        if self.kept and list(self.kept[0]) != fields:  # appending would misalign every column
            raise ValueError(f"{self.path} has other columns than this version writes; choose another --out")

    def _read(self) -> list[Row]:
        if self.parquet:
            import pyarrow.parquet as pq

            return pq.read_table(self.path).to_pylist()
        with open(self.path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def done(self) -> set[str]:
        """Content hashes of the files this output already holds a result for (or the reason it could not have)."""
        return {str(row[CONTENT_HASH]) for row in self.kept if row.get(CONTENT_HASH)}

    def write(self, rows: Iterable[Row]) -> int:
        count = 0
        if self.parquet:
            for row in rows:
                self.new.append(row)
                count += 1
            self._write_parquet()
            return count
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields)
            if not self.kept:
                writer.writeheader()
            for row in rows:
                writer.writerow({field: row.get(field) for field in self.fields})
                handle.flush()  # an interrupted job keeps every row written so far
                count += 1
        return count

    def _write_parquet(self) -> None:
        import pandas as pd

        self.path.parent.mkdir(parents=True, exist_ok=True)
        table = pd.DataFrame([*self.kept, *self.new], columns=self.fields)
        table["frame"] = table["frame"].astype("Int64")
        table.to_parquet(self.path, index=False)


def classify_archive(
    inputs: Iterable[Path],
    out: Path,
    artifact_dir: Path,
    engine: str = "local",
    actors: int = 1,
    cpus_per_actor: float | None = None,
    address: str | None = None,
) -> int:
    """Classifies every scan under `inputs` not already in `out` into `out`; returns how many rows it added."""
    if engine == "local":
        classifier = Classifier.from_artifact(artifact_dir)
        return classify_locally(classifier, inputs, out, committed_trust(artifact_dir, classifier.card))
    results, pending = _pending(load_card(artifact_dir).class_names, inputs, out)  # the actors load the model
    return results.write(tqdm(ray_rows(pending, artifact_dir, actors, cpus_per_actor, address), unit="image"))


def classify_locally(classifier: Classifier, inputs: Iterable[Path], out: Path, trust: Trust | None = None) -> int:
    """The local engine: this process, decoding ahead on a thread pool, batches through one ONNX session."""
    results, pending = _pending(classifier.card.class_names, inputs, out)
    return results.write(tqdm(hashed_rows(classifier, pending, trust), desc="classifying", unit="image"))


def _pending(class_names: list[str], inputs: Iterable[Path], out: Path) -> tuple[ResultsFile, Pending]:
    """The output file, and the scans under `inputs` whose content it does not hold yet, each hashed once."""
    results = ResultsFile(out, output_fields(class_names))
    done = results.done()
    hashes = {str(path): content_hash(path) for path in find_scans(inputs)}
    return results, {path: digest for path, digest in hashes.items() if digest not in done}


class RayClassify:
    """One Ray actor: the artifact loaded once, then `hashed_rows` on each batch of the listing."""

    def __init__(self, artifact_dir: str):
        self.classifier = Classifier.from_artifact(Path(artifact_dir))
        self.trust = committed_trust(Path(artifact_dir), self.classifier.card)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        pending = {str(p): (h or None) for p, h in zip(batch["path"], batch["hash"])}
        rows = list(hashed_rows(self.classifier, pending, self.trust))
        fields = output_fields(self.classifier.card.class_names)
        return {field: [str(row[field]) if row[field] is not None else "" for row in rows] for field in fields}


def ray_rows(
    pending: Pending, artifact_dir: Path, actors: int, cpus_per_actor: float | None, address: str | None
) -> Iterator[Row]:
    """The rows of the `pending` files classified on Ray Data, as they arrive; starts Ray here unless it runs."""
    import ray

    if not pending:
        return
    if not ray.is_initialized():
        cpus = None if address else available_cores()  # a cluster knows its own CPUs
        ray.init(address=address, num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().execution_options.preserve_order = True  # rows in listing order, as locally
    listing = ray.data.from_items([{"path": path, "hash": digest or ""} for path, digest in pending.items()])
    classified = listing.map_batches(
        RayClassify,
        fn_constructor_kwargs={"artifact_dir": str(artifact_dir)},
        batch_size=BATCH,
        concurrency=actors,
        num_cpus=cpus_per_actor or max(1, available_cores() // max(actors, 1)),
    )
    for batch in classified.iter_rows():
        yield _typed(dict(batch))


def _typed(row: dict[str, str]) -> Row:
    """A row back from Ray (every value as text, one schema for every batch) as the local engine writes it."""
    typed: Row = {}
    for field, value in row.items():
        if value == "":
            typed[field] = None
        elif value in ("True", "False"):
            typed[field] = value == "True"
        elif field == "frame":
            typed[field] = int(value)
        elif field in ("confidence", "margin") or field.startswith("p("):
            typed[field] = float(value)
        else:
            typed[field] = value
    return typed
