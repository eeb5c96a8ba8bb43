"""Saliency maps: why the model said what it said, from the session that classified when it can.

Grad-CAM, Grad-CAM++ and Score-CAM come from the ONNX export's last conv activations (`model.core.cam`, NumPy
and ONNX Runtime: no TensorFlow). SmoothGrad needs input gradients, and tf-keras-vis' reference implementations
need the Keras model: for a classifier served by ONNX Runtime from an artifact they run in a child process that
exits when idle (`model.core.tensorflow_worker`), so the server never keeps TensorFlow; a classifier without such
an export (or built in memory) loads TensorFlow here (`model.core.gradients`) the first time a map is asked for.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from model.core.cam import grad_cam, grad_cam_plus_plus, score_cam
from model.core.maps import GRAD_CAM, GRAD_CAM_PLUS_PLUS, METHODS, SCORE_CAM, Explanation, Progress, normalise, upsample
from model.core.onnx_forward import LAST_CONV, LOGITS
from model.core.predict import Classifier

if TYPE_CHECKING:
    from model.core.gradients import TensorFlowMaps
    from model.core.tensorflow_worker import TensorFlowWorker

ONNX_METHODS = (GRAD_CAM, GRAD_CAM_PLUS_PLUS, SCORE_CAM)


class Explainer:
    """Built once per classifier; safe to share between threads (TensorFlow maps take the classifier's lock)."""

    def __init__(self, classifier: Classifier):
        self.classifier = classifier
        onnx = classifier.onnx
        self._onnx = onnx if onnx is not None and onnx.has_last_conv else None
        self._head = classifier.dense_head() if self._onnx is not None else None
        self._in_child = onnx is not None and classifier.artifact_dir is not None  # else TensorFlow is here anyway
        self._tensorflow: TensorFlowMaps | TensorFlowWorker | None = None
        self._building = threading.Lock()

    def needs_tensorflow(self, method: str, reference: bool = False) -> bool:
        """Whether this map loads TensorFlow (the page says so while it does)."""
        return reference or method not in ONNX_METHODS or self._onnx is None

    @property
    def tensorflow_ready(self) -> bool:
        """Whether a TensorFlow map starts at once (no import, or no child process to start, first)."""
        tensorflow = self._tensorflow
        return tensorflow is not None and getattr(tensorflow, "running", True)

    def tensorflow_maps(self) -> TensorFlowMaps | TensorFlowWorker:
        """The Keras-model maps: a child process started (or this process's TensorFlow imported) the first time."""
        with self._building:
            if self._tensorflow is None:
                self._tensorflow = self._new_tensorflow_maps()
                self._tensorflow.warm_up()
            elif not self.tensorflow_ready:
                self._tensorflow.warm_up()  # a worker that stopped for idleness starts again
            return self._tensorflow

    def _new_tensorflow_maps(self) -> TensorFlowMaps | TensorFlowWorker:
        if self._in_child:
            from model.core.tensorflow_worker import shared_worker

            assert self.classifier.artifact_dir is not None
            return shared_worker(self.classifier.artifact_dir)
        from model.core.gradients import TensorFlowMaps

        return TensorFlowMaps(self.classifier)

    def warm_up(self) -> None:
        """A first Grad-CAM on a blank image, so that a visitor's first map pays no one-off cost."""
        size = self.classifier.card.image_size
        self.explain(np.zeros((size, size, 3), np.float32), 0, GRAD_CAM)

    def explain(
        self,
        model_input: np.ndarray,
        class_index: int,
        method: str = GRAD_CAM,
        progress: Progress | None = None,
        reference: bool = False,
    ) -> Explanation:
        """`model_input`: one preprocessed image (size x size x 3, float32 in [-1, 1]).

        `reference=True` runs tf-keras-vis' own implementation instead (slower; loads TensorFlow).
        """
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
        image = np.asarray(model_input, dtype=np.float32)
        started = time.perf_counter()
        if self.needs_tensorflow(method, reference):
            heatmap = self.tensorflow_maps().heatmap(image[None], class_index, method, progress, reference)
        else:
            heatmap = self._onnx_heatmap(image, class_index, method)
        if progress is not None:
            progress(1.0)
        scaled, scale = normalise(heatmap)
        return Explanation(method, class_index, scaled, time.perf_counter() - started, scale)

    def _onnx_heatmap(self, image: np.ndarray, class_index: int, method: str) -> np.ndarray:
        onnx, head = self._onnx, self._head
        assert onnx is not None and head is not None  # needs_tensorflow() is False
        activations = onnx(image[None], (LAST_CONV,))[LAST_CONV][0]
        if method == GRAD_CAM:
            cam = grad_cam(activations, head, class_index)
        elif method == GRAD_CAM_PLUS_PLUS:
            cam = grad_cam_plus_plus(activations, head, class_index)
        else:
            cam = score_cam(activations, image, class_index, lambda batch: onnx(batch, (LOGITS,))[LOGITS])
        return upsample(cam, image.shape[:2])
