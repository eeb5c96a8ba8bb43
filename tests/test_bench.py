import numpy as np
import pytest

from benchmarks.bench import model_flops, timed
from model.core.architecture import build_classifier


def test_flop_count_of_xception_at_299_matches_the_published_figure():
    flops = model_flops(build_classifier(4, 299, "xception"))
    assert flops / 1e9 == pytest.approx(16.8, rel=0.03)


def test_timed_reports_percentiles():
    stats = timed(lambda: np.ones(10).sum(), runs=5, warmup=1)
    assert stats["runs"] == 5 and 0 <= stats["p50_ms"] <= stats["p95_ms"]


def test_saliency_timings_and_compute_efficiency_report_every_method_against_the_forward(tiny_classifier):
    from benchmarks.bench import compute_efficiency, saliency_timings
    from model.core.explain import Explainer
    from model.core.maps import METHODS

    size = tiny_classifier.card.image_size
    x = np.random.default_rng(0).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    saliency = saliency_timings(Explainer(tiny_classifier), x, forward_ms=1.0)
    assert set(saliency) == set(METHODS)
    assert all(entry["times_forward"] == entry["p50_ms"] for entry in saliency.values())
    forward = timed(lambda: tiny_classifier.forward(x), runs=3)
    compute = compute_efficiency(tiny_classifier, forward, forward, {"forward_batch32_images_per_s": 100.0})
    assert compute["shipped_forward_fraction_of_sgemm"] == compute["tensorflow_forward_fraction_of_sgemm"] > 0
