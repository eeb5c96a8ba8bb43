"""SmoothGrad in the TensorFlow worker: the server's memory before, during and after (the child exits when idle),
the time of a map when the child has to start and when it is running, and what fewer noisy copies cost in
agreement: maps of `SMOOTHGRAD_SAMPLES` copies against 20-copy maps, beside two 20-copy maps of the same scans."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import numpy as np

from model.core import gradients
from model.core.maps import SMOOTHGRAD
from model.core.predict import Classifier
from model.core.preprocess import to_model_input
from model.schema.card import ARTIFACT_DIR, SAMPLES_DIR

SEED_SAMPLES = 20  # the seed's and the earlier rounds' SmoothGrad
AGREEMENT_SCANS = 6


SERVER = """
import json, sys, time
import psutil
from model.core.maps import SMOOTHGRAD
from model.core.predict import Classifier
from model.core.preprocess import to_model_input
from model.core.tensorflow_worker import TensorFlowWorker
from model.schema.card import ARTIFACT_DIR, SAMPLES_DIR

idle_s = float(sys.argv[1])
rss = lambda pid=None: psutil.Process(pid).memory_info().rss / 2**20
classifier = Classifier.from_artifact(ARTIFACT_DIR)
worker = TensorFlowWorker(ARTIFACT_DIR, idle_s=idle_s)
scan = sorted(SAMPLES_DIR.glob("*.jpg"))[0]
batch = to_model_input(classifier.classify_upload(scan.read_bytes(), "x").prepared)[None]
before = rss()
started = time.perf_counter()
worker.heatmap(batch, 0, SMOOTHGRAD, None, False)
first_s = time.perf_counter() - started
started = time.perf_counter()
worker.heatmap(batch, 0, SMOOTHGRAD, None, False)
map_s = time.perf_counter() - started
child, during = rss(worker.pid), rss()
time.sleep(idle_s + 3)
print(json.dumps({
    "server_rss_before_mib": before, "server_rss_with_worker_mib": during, "worker_rss_mib": child,
    "server_rss_after_idle_mib": rss(), "worker_running_after_idle": worker.running, "idle_s": idle_s,
    "first_map_s": first_s, "map_s": map_s, "tensorflow_in_server": "tensorflow" in sys.modules,
}))
"""


def worker_memory(idle_s: float = 5.0) -> dict[str, Any]:
    """A fresh process stands for the server (this one has TensorFlow loaded): its RSS, the worker's, and its own
    once the worker has gone idle (after `idle_s` here; the app waits IDLE_S)."""
    done = subprocess.run([sys.executable, "-c", SERVER, str(idle_s)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def sample_agreement() -> dict[str, Any]:
    """Mean Pearson r over scans: the served number of copies against 20, and 20 against another 20."""
    classifier = Classifier.from_artifact(ARTIFACT_DIR, runtime="tensorflow")
    maps = gradients.TensorFlowMaps(classifier)
    maps.warm_up()
    scans = sorted(SAMPLES_DIR.glob("*.jpg"))[:AGREEMENT_SCANS]
    inputs = [to_model_input(classifier.classify_upload(p.read_bytes(), "x").prepared)[None] for p in scans]
    served = gradients.SMOOTHGRAD_SAMPLES

    def maps_of(samples: int) -> tuple[list[np.ndarray], float]:
        gradients.SMOOTHGRAD_SAMPLES = samples
        started = time.perf_counter()
        drawn = [maps.heatmap(x, 0, SMOOTHGRAD, None, False) for x in inputs]
        return drawn, (time.perf_counter() - started) / len(inputs)

    try:
        reference, seed_s = maps_of(SEED_SAMPLES)
        again, _ = maps_of(SEED_SAMPLES)
        ours, served_s = maps_of(served)
    finally:
        gradients.SMOOTHGRAD_SAMPLES = served

    def r(a: list[np.ndarray], b: list[np.ndarray]) -> float:
        return float(np.mean([np.corrcoef(x.ravel(), y.ravel())[0, 1] for x, y in zip(a, b)]))

    return {
        "scans": len(inputs),
        "served_samples": served,
        "served_map_s": served_s,
        "seed_samples": SEED_SAMPLES,
        "seed_map_s": seed_s,
        "served_vs_seed_r": r(ours, reference),
        "seed_vs_seed_r": r(again, reference),
    }


def smoothgrad_block() -> dict[str, Any]:
    return {"worker": worker_memory(), "agreement": sample_agreement()}
