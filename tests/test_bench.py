import numpy as np
import pytest

from benchmarks.bench import model_flops, timed
from model.architecture import build_classifier


def test_flop_count_of_xception_at_299_matches_the_published_figure():
    flops = model_flops(build_classifier(4, 299, "xception"))
    assert flops / 1e9 == pytest.approx(16.8, rel=0.03)


def test_timed_reports_percentiles():
    stats = timed(lambda: np.ones(10).sum(), runs=5, warmup=1)
    assert stats["runs"] == 5 and 0 <= stats["p50_ms"] <= stats["p95_ms"]
