"""Saliency maps through TensorFlow: SmoothGrad, tf-keras-vis' reference implementations, and every map of a
classifier without an ONNX export of its last conv activations (`model.core.cam` serves the others).

Grad-CAM and Grad-CAM++ are computed here in one compiled function: the
gradient of the class logit with respect to the last conv activations only
flows through the head (pooling + dense), so a map costs about one forward
pass. Faster Score-CAM (the max_N channels of largest variance) and
SmoothGrad (|gradient| averaged over noisy copies, noise 20 % of the input
range, max over channels) follow tf-keras-vis' recipes, compiled into one
graph instead of eager loops and `model.predict` calls. The tf-keras-vis
implementations stay available (`reference=True`, a switch on the Explain
page), and tests/test_explain.py asserts that both agree on real scans.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf
from tf_keras_vis.gradcam import Gradcam, GradcamPlusPlus
from tf_keras_vis.saliency import Saliency
from tf_keras_vis.scorecam import Scorecam
from tf_keras_vis.utils.scores import CategoricalScore

from model.core.cam import SCORE_CAM_MAX_N
from model.core.maps import (
    GRAD_CAM,
    GRAD_CAM_PLUS_PLUS,
    SCORE_CAM,
    SMOOTHGRAD,
    Progress,
    upsample,
)
from model.core.predict import Classifier
from model.core.registry import BACKBONES

# 15 noisy copies: a map in about 2 s on two cores, agreeing with a 20-sample map about as well as two 20-sample
# maps agree with each other (`python -m benchmarks --only smoothgrad`)
SMOOTHGRAD_SAMPLES = 15
SMOOTHGRAD_NOISE = 0.2
SMOOTHGRAD_CHUNK = 5


class TensorFlowMaps:
    """The maps through the Keras model: built once per classifier; every call holds the classifier's lock."""

    def __init__(self, classifier: Classifier):
        self.classifier = classifier
        self.model = model = classifier.model  # builds the Keras model if this is its first use
        layer_name = classifier.card.last_conv_layer or BACKBONES[classifier.card.backbone].last_conv_layer
        self.layer_name = layer_name
        conv_output = model.get_layer(layer_name).output
        self._conv = keras.Model(model.input, conv_output)
        self._head = keras.Model(conv_output, model.output)
        size = classifier.card.image_size
        self._cams = tf.function(
            self._cam_maps,
            input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32), tf.TensorSpec([], tf.int32)],
        )
        self._smoothgrad_chunk = tf.function(
            self._noisy_gradients,
            input_signature=[
                tf.TensorSpec([1, size, size, 3], tf.float32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.float32),
            ],
        )
        self._score_cam = tf.function(
            self._score_cam_map,
            input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32), tf.TensorSpec([], tf.int32)],
        )

    def warm_up(self) -> None:
        """Traces the compiled Grad-CAM once, so that a visitor's first map does not pay for it."""
        size = self.classifier.card.image_size
        self.heatmap(np.zeros((1, size, size, 3), np.float32), 0, GRAD_CAM, None, reference=False)

    def _cam_maps(self, image: tf.Tensor, class_index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        activations = self._conv(image, training=False)
        with tf.GradientTape() as tape:
            tape.watch(activations)
            score = self._head(activations, training=False)[:, class_index]
        grads = tape.gradient(score, activations)
        # Grad-CAM (Selvaraju et al. 2017)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        grad_cam = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))
        # Grad-CAM++ (Chattopadhyay et al. 2018), closed form with the exponential score
        second, third = grads**2, grads**3
        total = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
        denominator = 2.0 * second + total * third
        alphas = second / tf.where(denominator != 0.0, denominator, tf.ones_like(denominator))
        plus_weights = tf.reduce_sum(alphas * tf.nn.relu(grads), axis=(1, 2), keepdims=True)
        grad_cam_pp = tf.nn.relu(tf.reduce_sum(plus_weights * activations, axis=-1))
        return grad_cam[0], grad_cam_pp[0]

    def _score_cam_map(self, image: tf.Tensor, class_index: tf.Tensor) -> tf.Tensor:
        """Faster Score-CAM (Wang et al. 2020): channel weights = class probability of the image masked by each map."""
        activations = self._conv(image, training=False)
        spread = tf.math.reduce_std(activations, axis=(1, 2))[0]
        _, channels = tf.math.top_k(spread, SCORE_CAM_MAX_N)
        selected = tf.gather(activations, channels, axis=-1)
        upsampled = tf.raw_ops.ResizeBilinear(images=selected, size=tf.shape(image)[1:3], align_corners=True)
        low = tf.reduce_min(upsampled, axis=(1, 2), keepdims=True)
        high = tf.reduce_max(upsampled, axis=(1, 2), keepdims=True)
        masks = tf.transpose((upsampled - low) / (high - low + 1e-7), [3, 1, 2, 0])
        probabilities = tf.nn.softmax(self.model(image * masks, training=False))[:, class_index]
        return tf.nn.relu(tf.reduce_sum(selected[0] * probabilities, axis=-1))

    def _noisy_gradients(self, image: tf.Tensor, class_index: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
        """Sum over SMOOTHGRAD_CHUNK noisy copies of |d logit / d input|."""
        noisy = image + tf.random.normal(tf.concat([[SMOOTHGRAD_CHUNK], tf.shape(image)[1:]], axis=0)) * sigma
        with tf.GradientTape() as tape:
            tape.watch(noisy)
            score = self.model(noisy, training=False)[:, class_index]
        return tf.reduce_sum(tf.abs(tape.gradient(score, noisy)), axis=0)

    def _grad_cams(self, batch: np.ndarray, class_index: int) -> tuple[np.ndarray, np.ndarray]:
        """The caller holds the classifier's lock."""
        grad_cam, grad_cam_pp = self._cams(tf.constant(batch), tf.constant(class_index, tf.int32))
        return grad_cam.numpy(), grad_cam_pp.numpy()

    @functools.cached_property
    def _reference_tools(self) -> dict:
        model = self.model
        return {
            GRAD_CAM: Gradcam(model, clone=False),
            GRAD_CAM_PLUS_PLUS: GradcamPlusPlus(model, clone=False),
            SCORE_CAM: Scorecam(model, clone=False),
            SMOOTHGRAD: Saliency(model, clone=False),
        }

    def _reference(self, batch: np.ndarray, class_index: int, method: str) -> np.ndarray:
        """tf-keras-vis itself, on the same layer (seek_penultimate_conv_layer=False: not the pre-BN conv)."""
        score, tool = CategoricalScore([class_index]), self._reference_tools[method]
        if method == SMOOTHGRAD:
            return tool(score, batch, smooth_samples=SMOOTHGRAD_SAMPLES, smooth_noise=SMOOTHGRAD_NOISE)[0]
        options = {"penultimate_layer": self.layer_name, "seek_penultimate_conv_layer": False}
        if method == SCORE_CAM:
            options["max_N"] = SCORE_CAM_MAX_N
        return np.asarray(tool(score, batch, **options)[0])

    def heatmap(
        self, batch: np.ndarray, class_index: int, method: str, progress: Progress | None, reference: bool
    ) -> np.ndarray:
        """The raw map of one image (a batch of one), at the input's size; takes the classifier's lock."""
        with self.classifier.lock:
            if reference:
                return self._reference(batch, class_index, method)
            if method in (GRAD_CAM, GRAD_CAM_PLUS_PLUS):
                grad_cam, grad_cam_pp = self._grad_cams(batch, class_index)
                return upsample(grad_cam if method == GRAD_CAM else grad_cam_pp, batch.shape[1:3])
            if method == SCORE_CAM:
                cam = self._score_cam(tf.constant(batch), tf.constant(class_index, tf.int32)).numpy()
                return upsample(cam, batch.shape[1:3])
            return self._smoothgrad(batch, class_index, progress)

    def _smoothgrad(self, batch: np.ndarray, class_index: int, progress: Progress | None) -> np.ndarray:
        sigma = tf.constant(SMOOTHGRAD_NOISE * float(batch.max() - batch.min()), tf.float32)
        image, index = tf.constant(batch), tf.constant(class_index, tf.int32)
        total = np.zeros(batch.shape[1:], dtype=np.float32)
        chunks = SMOOTHGRAD_SAMPLES // SMOOTHGRAD_CHUNK
        for done in range(chunks):
            total += self._smoothgrad_chunk(image, index, sigma).numpy()
            if progress is not None:
                progress((done + 1) / chunks)
        return (total / SMOOTHGRAD_SAMPLES).max(axis=-1)
