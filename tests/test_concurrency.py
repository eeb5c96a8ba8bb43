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


LEAK_MIB = 224 * 224 * 3 * 4 / 2**20  # the smallest leak that matters: one model input (0.57 MiB) per request


def test_memory_does_not_grow_with_the_number_of_requests(real_classifier):
    """A leak grows with every request; the allocator's noise does not: the RSS after 50, 100 and 150 more requests
    rises by less than one model input per request (fitted slope), whatever the machine's allocator keeps."""
    explainer = Explainer(real_classifier)
    data, name = sample_scans()[0][0].read_bytes(), "scan.jpg"
    process = psutil.Process()
    for _ in range(20):
        session(real_classifier, explainer, data, name)
    requests, rss = [], []
    for round_ in range(4):
        for _ in range(50 if round_ else 0):
            session(real_classifier, explainer, data, name)
        requests.append(50 * round_)
        rss.append(process.memory_info().rss / 2**20)
    slope = np.polyfit(requests, rss, 1)[0]
    assert slope < LEAK_MIB, f"RSS grows by {slope:.2f} MiB per request"


def test_a_classification_finishes_while_another_session_computes_smoothgrad(real_classifier):
    """SmoothGrad runs in the TensorFlow worker; an ONNX Runtime classification must not wait for it. SmoothGrad is
    held mid-map (its progress callback waits) until the classification is done: no race on timing."""
    assert real_classifier.onnx is not None
    explainer = Explainer(real_classifier)
    classified = real_classifier.classify_upload(sample_scans()[0][0].read_bytes(), "scan.jpg")
    x = to_model_input(classified.prepared)
    inside_the_lock, classification_done = threading.Event(), threading.Event()

    def paused(_: float) -> None:
        inside_the_lock.set()
        classification_done.wait(60)

    worker = threading.Thread(target=lambda: explainer.explain(x, 0, SMOOTHGRAD, progress=paused))
    worker.start()
    assert inside_the_lock.wait(120)
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(real_classifier.classify_upload, sample_scans()[1][0].read_bytes(), "other.jpg")
        try:
            other.result(timeout=30)  # a TimeoutError: the classification waited for SmoothGrad's lock
        finally:
            classification_done.set()
    worker.join()
