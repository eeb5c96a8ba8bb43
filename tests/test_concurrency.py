"""One shared model under concurrent sessions: no errors, same answers, no memory growth."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psutil
import pytest

from model.explain import GRAD_CAM, Explainer
from model.preprocess import to_model_input
from tests.helpers import sample_scans

pytestmark = pytest.mark.artifact
SESSIONS = 8


def session(classifier, explainer, data: bytes, name: str):
    classified = classifier.classify_bytes(data, name)
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
