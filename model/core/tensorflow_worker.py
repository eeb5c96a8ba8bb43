"""TensorFlow's maps (SmoothGrad, tf-keras-vis' references) in a child process of their own.

Importing TensorFlow and building the Keras model takes a server from about 0.6 to 1.7 GB, for good: Python never
gives an imported library back. So the maps that need input gradients run in a child process (`python -m
model.core.tensorflow_worker ARTIFACT_DIR`: a fresh interpreter, nothing of the server's state), started on the
first such map and ended once `IDLE_S` seconds pass without one: the server's memory comes back. The child loads
the same artifact, checked by SHA-256 as always. Jobs and answers are pickled over the child's stdin and stdout
(its own prints go to stderr); progress comes back the same way, so the page's bar moves while the child computes.
"""

from __future__ import annotations

import functools
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import numpy as np

from model.core.maps import Progress
from model.errors import SaliencyUnavailableError
from model.i18n import N_

IDLE_S = 120.0  # without a map for this long, the child exits and the server's memory comes back
START_TIMEOUT_S = 300.0  # importing TensorFlow and tracing the Keras model, on a slow machine
_READY, _PROGRESS, _DONE, _FAILED = "ready", "progress", "done", "failed"
UNAVAILABLE = N_("{method} is unavailable: {why}")  # `why` comes from the worker, in English
STOPPED = "the TensorFlow worker stopped while drawing the map"


class TensorFlowWorker:
    """The Keras-model maps of one artifact, computed in a child process; one map at a time, from any thread."""

    def __init__(self, artifact_dir: Path, idle_s: float = IDLE_S):
        self.artifact_dir, self.idle_s = Path(artifact_dir), idle_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._last_used = 0.0

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    def warm_up(self) -> None:
        """Starts the child (TensorFlow imported, the Keras model traced) without drawing a map."""
        with self._lock:
            self._started()
            self._idle_from_now()

    def heatmap(
        self, batch: np.ndarray, class_index: int, method: str, progress: Progress | None, reference: bool
    ) -> np.ndarray:
        """The raw map of one image (a batch of one), as `TensorFlowMaps.heatmap` draws it in the child."""
        with self._lock:
            process = self._started()
            try:
                _send(process.stdin, (np.ascontiguousarray(batch, np.float32), int(class_index), method, reference))
                while True:
                    kind, value = _receive(process.stdout)
                    if kind == _PROGRESS and progress is not None:
                        progress(value)
                    elif kind == _FAILED:
                        raise SaliencyUnavailableError(UNAVAILABLE, method=method, why=value)
                    elif kind == _DONE:
                        return np.asarray(value)
            except (EOFError, OSError, pickle.UnpicklingError) as error:
                self._stop()
                raise SaliencyUnavailableError(UNAVAILABLE, method=method, why=STOPPED) from error
            finally:
                self._idle_from_now()

    def stop(self) -> None:
        """Ends the child now (the next map starts another)."""
        with self._lock:
            self._stop()

    def _started(self) -> subprocess.Popen[bytes]:
        if self.running and self._process is not None:
            return self._process
        environment = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
        process = subprocess.Popen(
            [sys.executable, "-m", "model.core.tensorflow_worker", str(self.artifact_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        try:
            kind, value = (
                _receive(process.stdout) if ready else (_FAILED, "the TensorFlow worker did not start in time")
            )
        except (EOFError, pickle.UnpicklingError):
            kind, value = _FAILED, "the TensorFlow worker exited while starting"
        if kind != _READY:
            process.kill()
            process.wait()
            raise SaliencyUnavailableError(UNAVAILABLE, method="TensorFlow", why=value)
        self._process = process
        return process

    def _idle_from_now(self) -> None:
        """Arms the idle stop: a timer that ends the child unless another map came in meanwhile."""
        self._last_used = time.monotonic()
        timer = threading.Timer(self.idle_s, self._stop_if_idle)
        timer.daemon = True
        timer.start()

    def _stop_if_idle(self) -> None:
        with self._lock:
            if time.monotonic() - self._last_used >= self.idle_s * 0.99:
                self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            _send(process.stdin, None)
            process.wait(10)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()


@functools.lru_cache(maxsize=None)
def _shared(artifact_dir: Path) -> TensorFlowWorker:
    return TensorFlowWorker(artifact_dir)


def shared_worker(artifact_dir: Path) -> TensorFlowWorker:
    """One worker per artifact in a process: every explainer of it shares the child (one map at a time)."""
    return _shared(Path(artifact_dir).resolve())


def _send(stream: IO[bytes] | None, message: Any) -> None:
    assert stream is not None
    pickle.dump(message, stream)
    stream.flush()


def _receive(stream: IO[bytes] | None) -> Any:
    assert stream is not None
    return pickle.load(stream)


def serve(jobs: IO[bytes], answers: IO[bytes], artifact_dir: Path) -> None:
    """The child: loads the artifact's Keras model and draws maps until told to stop (None) or stdin closes."""
    try:
        from model.core.gradients import TensorFlowMaps
        from model.core.predict import Classifier

        maps = TensorFlowMaps(Classifier.from_artifact(artifact_dir, runtime="tensorflow", with_guard=False))
        maps.warm_up()
    except Exception as error:  # noqa: BLE001 - said to the parent, which raises it as a typed error
        _send(answers, (_FAILED, f"the TensorFlow worker could not load the model: {error}"))
        return
    _send(answers, (_READY, None))
    while True:
        try:
            job = _receive(jobs)
        except EOFError:
            return
        if job is None:
            return
        batch, class_index, method, reference = job
        try:
            heatmap = maps.heatmap(
                batch, class_index, method, lambda done: _send(answers, (_PROGRESS, done)), reference
            )
        except Exception as error:  # noqa: BLE001 - one bad map must not end the worker
            _send(answers, (_FAILED, f"{method} failed: {error}"))
        else:
            _send(answers, (_DONE, heatmap))


if __name__ == "__main__":
    answers = os.fdopen(os.dup(1), "wb")  # the parent reads pickles here...
    os.dup2(2, 1)  # ...so anything else printed goes to stderr
    serve(sys.stdin.buffer, answers, Path(sys.argv[1]))
