"""One shared model under concurrent sessions: no errors, same answers, no memory growth."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psutil
import pytest

from model.core.explain import Explainer
from model.core.maps import GRAD_CAM, SMOOTHGRAD
from model.core.preprocess import to_model_input
from tests.helpers import sample_scans

pytestmark = pytest.mark.artifact
SESSIONS = 8


def session(classifier, explainer, data: bytes, name: str):
    classified = classifier.classify_upload(data, name)
    heatmap = explainer.explain(
        to_model_input(classified.prepared), classified.prediction.class_index, GRAD_CAM
    ).heatmap
    return classified.prediction.probabilities, heatmap


def test_eight_concurrent_sessions_match_sequential_answers(real_classifier):
    explainer = Explainer(real_classifier)
    scans = [(p.read_bytes(), p.name) for p, _ in sample_scans()]
    jobs = [scans[i % len(scans)] for i in range(SESSIONS * 2)]
    sequential = [session(real_classifier, explainer, d, n) for d, n in jobs]
    with ThreadPoolExecutor(SESSIONS) as pool:
        concurrent = list(pool.map(lambda job: session(real_classifier, explainer, *job), jobs))
    for (p1, h1), (p2, h2) in zip(sequential, concurrent):
        np.testing.assert_allclose(p1, p2, atol=1e-5)
        np.testing.assert_allclose(h1, h2, atol=1e-4)


def test_memory_does_not_grow_over_a_hundred_requests(real_classifier):
    explainer = Explainer(real_classifier)
    data, name = sample_scans()[0][0].read_bytes(), "scan.jpg"
    process = psutil.Process()
    for _ in range(20):
        session(real_classifier, explainer, data, name)
    before = process.memory_info().rss
    for _ in range(100):
        session(real_classifier, explainer, data, name)
    growth_mib = (process.memory_info().rss - before) / 2**20
    assert growth_mib < 64, f"RSS grew by {growth_mib:.0f} MiB over 100 requests"


def test_a_classification_finishes_while_another_session_computes_smoothgrad(real_classifier):
    """SmoothGrad holds the Keras model's lock for seconds; the ONNX Runtime classification must not wait for it."""
    assert real_classifier.onnx is not None
    explainer = Explainer(real_classifier)
    classified = real_classifier.classify_upload(sample_scans()[0][0].read_bytes(), "scan.jpg")
    x = to_model_input(classified.prepared)
    explainer.explain(x, 0, SMOOTHGRAD)  # traced once, so the next one is a plain long computation
    first_chunk_done = threading.Event()
    worker = threading.Thread(
        target=lambda: explainer.explain(x, 0, SMOOTHGRAD, progress=lambda _: first_chunk_done.set())
    )
    worker.start()
    assert first_chunk_done.wait(60)
    real_classifier.classify_upload(sample_scans()[1][0].read_bytes(), "other.jpg")
    smoothgrad_still_running = worker.is_alive()
    worker.join()
    assert smoothgrad_still_running, "the classification waited for the whole SmoothGrad"
