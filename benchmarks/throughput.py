"""Throughput and contention: a folder of scans through `python -m model classify`'s path, by batch size and
one scan at a time, and classification latency while another visitor's SmoothGrad runs."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from model.core.batch import classify_paths
from model.core.explain import Explainer
from model.core.maps import SMOOTHGRAD
from model.core.predict import Classifier
from model.schema.card import SAMPLES_DIR

FOLDER_SCANS = 1000
BATCH_SIZES = (1, 4, 8, 16, 32)


def scan_folder(target: Path, count: int = FOLDER_SCANS, distinct: bool = False) -> list[Path]:
    """`count` files from the bundled samples, round-robin: byte copies, or with `distinct` each re-encoded at
    its own JPEG quality, so that no two files share content (the app caches results by content)."""
    samples = sorted(SAMPLES_DIR.glob("*.jpg"))
    paths = []
    for index in range(count):
        path = target / f"scan_{index:04d}.jpg"
        sample = samples[index % len(samples)]
        if distinct:
            Image.open(sample).convert("RGB").save(path, quality=95 - index // len(samples))
        else:
            shutil.copyfile(sample, path)
        paths.append(path)
    return paths


def _images_per_s(function, count: int) -> float:
    started = time.perf_counter()
    function()
    return count / (time.perf_counter() - started)


def folder_throughput(classifier: Classifier, count: int = FOLDER_SCANS) -> dict[str, Any]:
    """Images/s over the folder: decode-overlapped batches of each size, and one `classify_upload` at a time."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = scan_folder(Path(tmp), count)
        classifier.classify_upload(paths[0].read_bytes(), "warm-up")
        single = _images_per_s(lambda: [classifier.classify_upload(p.read_bytes(), p.name) for p in paths], count)
        batched = {
            size: _images_per_s(lambda s=size: list(classify_paths(classifier, paths, batch_size=s)), count)
            for size in BATCH_SIZES
        }
    best = max(batched, key=batched.__getitem__)
    return {
        "scans": count,
        "one_at_a_time_images_per_s": single,
        "batched_images_per_s": {str(size): value for size, value in batched.items()},
        "fastest_batch_size": best,
    }


def latency_under_smoothgrad(classifier: Classifier, explainer: Explainer, x: np.ndarray, runs: int) -> dict[str, Any]:
    """Classification p50/p95 alone and while SmoothGrad maps run back to back in another thread."""

    def latencies() -> list[float]:
        values = []
        for _ in range(runs):
            started = time.perf_counter()
            classifier.predict_inputs(x)
            values.append(time.perf_counter() - started)
        return values

    latencies()  # warm-up
    alone = latencies()
    stop = threading.Event()
    maps = []

    def smoothgrad_loop() -> None:
        while not stop.is_set():
            maps.append(explainer.explain(x[0], 0, SMOOTHGRAD))

    worker = threading.Thread(target=smoothgrad_loop, daemon=True)
    worker.start()
    time.sleep(0.5)  # SmoothGrad under way
    during = latencies()
    stop.set()
    worker.join()
    return {"alone": _percentiles(alone), "during_smoothgrad": _percentiles(during), "smoothgrad_maps": len(maps)}


def _percentiles(seconds: list[float]) -> dict[str, float]:
    values = np.array(seconds) * 1000
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95)), "runs": len(values)}
