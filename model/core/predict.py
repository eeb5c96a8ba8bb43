"""Load the shipped artifact once and classify images with calibrated probabilities.

One `Classifier` serves every Streamlit session: Keras models are not safe to
call from several threads at once, so every use of the Keras model (the
TensorFlow forward pass, the saliency maps) holds `lock`; the ONNX Runtime
forward pass does not, so one visitor's SmoothGrad never stalls another's
classification.
Classification runs the ONNX export on ONNX Runtime when the card lists one
(measured fastest here, see `python -m benchmarks`), else the Keras
model as a `tf.function` with a fixed input signature (faster than eager calls
or `model.predict` for one image). With an ONNX export, TensorFlow is not even
imported until something needs the Keras model (SmoothGrad needs its gradients;
the class activation maps come from the export): the app starts, classifies and
draws Grad-CAM in a fraction of the time and memory.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

import numpy as np
from scipy.special import softmax
from threadpoolctl import ThreadpoolController

from model.core.cam import DenseHead
from model.core.decode import Container, DecodedImage, ScanInfo, decode_frames, decode_image
from model.core.onnx_forward import FROZEN, LOGITS, OnnxForward
from model.core.ood import GUARD_FEATURES, OODDetector, pooled_frozen_features
from model.core.preprocess import prepare, to_model_input
from model.core.scan_type import ScanType, ScanTypeModel
from model.core.series import Upload
from model.core.volume import Plane
from model.errors import ArtifactError, ChecksumMismatchError
from model.schema.card import ARTIFACT_DIR, ModelCard, load_card, sha256_file

if TYPE_CHECKING:
    import keras

# After a NumPy matmul, OpenBLAS worker threads spin-wait and take the two cores from the TensorFlow
# forward pass that follows: measured here, one classification went from 55 ms to 91 ms. The guard's
# matrices are tiny, so NumPy runs single-threaded while we classify.
_BLAS = ThreadpoolController()
BATCH = 16  # images per classification call, here, in the batch CLI and in the evaluations
FRAMES_BATCH = 4  # slices per call for a volume or series in the app: the forward pass's activations are most of
# the server's peak memory, and 4 keeps it near one scan's (python -m benchmarks, "memory")


def calibrated_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling (Guo et al., 2017): softmax(logits / T), in float64, over the last axis."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=-1)


@dataclass(frozen=True)
class Prediction:
    class_index: int
    class_name: str
    probabilities: np.ndarray  # calibrated, sums to 1
    logits: np.ndarray
    ood_score: float | None
    out_of_distribution: bool
    scan_type: ScanType | None = None  # None when the artifact has no scan-type recogniser

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.class_index])

    @property
    def margin(self) -> float:
        """Top probability minus the runner-up's: small means the model hesitates between two classes."""
        top_two = np.sort(self.probabilities)[-2:]
        return float(top_two[1] - top_two[0])

    def in_plane(self, plane: Plane | None) -> "Prediction":
        """This answer with the plane the file says (a volume's cut, a DICOM's orientation) in its scan type."""
        if plane is None or self.scan_type is None:
            return self
        return replace(self, scan_type=self.scan_type.in_plane(plane))


NO_IMAGE = np.zeros((0, 0, 3), np.uint8)


@dataclass(frozen=True)
class Classified:
    """One classified image, frame or slice: the answer, the image the model saw, and which frame of how many.
    Plain data from the library to the page (the app's cache keeps it as it is)."""

    prediction: Prediction
    prepared: np.ndarray  # the uint8 image the model saw; NO_IMAGE where only the answer is kept
    info: ScanInfo = ScanInfo(Container.IMAGE)  # what kind of file it came from, safe to show
    frame: int = 0

    @property
    def frames(self) -> int:
        return self.info.frames

    @classmethod
    def of(cls, decoded: DecodedImage, prepared: np.ndarray, prediction: Prediction) -> "Classified":
        return cls(prediction.in_plane(decoded.info.plane), prepared, decoded.info, decoded.frame)


def verify_file(path: Path, expected_sha256: str) -> None:
    if not path.exists():
        raise ArtifactError(f"{path} is missing; retrain with `python -m training train` or restore it from git.")
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise ChecksumMismatchError(f"{path.name} has SHA-256 {actual}, but the model card says {expected_sha256}.")


Runtime = Literal["auto", "onnx", "tensorflow"]


@dataclass(frozen=True)
class KerasWeights:
    """Where the Keras model's weights are and what they must hash to: loaded on first use, checked before."""

    path: Path
    sha256: str

    def load(self, card: ModelCard) -> keras.Model:
        from model.core.architecture import build_classifier, load_weights_npz

        verify_file(self.path, self.sha256)
        model = build_classifier(card.num_classes, card.image_size, card.backbone)
        load_weights_npz(model, self.path)
        return model


class Classifier:
    """Classifies with ONNX Runtime when it can; the Keras model (`model`) is built the first time it is used."""

    def __init__(
        self,
        model: keras.Model | KerasWeights,
        card: ModelCard,
        ood: OODDetector | None = None,
        onnx: OnnxForward | None = None,
        scan_type: ScanTypeModel | None = None,
    ):
        self._model, self.card, self.ood, self.onnx, self.scan_type = model, card, ood, onnx, scan_type
        self.artifact_dir: Path | None = None  # set by `from_artifact`: where a child process can load it again
        self._forward: Callable[[Any], Any] | None = None  # the compiled Keras pass, traced on first use
        self.lock = threading.RLock()  # guards the Keras model only (re-entrant: `model` takes it too)

    @property
    def model(self) -> keras.Model:
        with self.lock:
            if isinstance(self._model, KerasWeights):
                self._model = self._model.load(self.card)
            return self._model

    def dense_head(self) -> DenseHead:
        """The logits layer's weights for the class activation maps, without building the Keras model if unbuilt."""
        with self.lock:
            if isinstance(self._model, KerasWeights):
                verify_file(self._model.path, self._model.sha256)
                return DenseHead.from_weights_file(self._model.path)
            from model.core.registry import LOGITS_LAYER

            kernel, bias = self._model.get_layer(LOGITS_LAYER).get_weights()
            return DenseHead(np.asarray(kernel, np.float32), np.asarray(bias, np.float32))

    @property
    def keras_loaded(self) -> bool:
        return not isinstance(self._model, KerasWeights)

    @property
    def runtime(self) -> str:
        return "ONNX Runtime" if self.onnx is not None else "TensorFlow"

    @classmethod
    def from_artifact(
        cls, artifact_dir: Path = ARTIFACT_DIR, runtime: Runtime = "auto", with_guard: bool = True
    ) -> "Classifier":
        """Checks every file's SHA-256 against the card before loading it; the Keras weights load on first use.

        `auto` classifies with the ONNX export when the card lists one; `onnx` insists on it. Without
        `with_guard` (exporting, fitting a new guard or scan-type recogniser), neither is loaded.
        """
        artifact_dir = Path(artifact_dir)
        card = load_card(artifact_dir)
        model = KerasWeights(artifact_dir / card.weights_file, card.weights_sha256)
        ood = None
        if card.ood and with_guard:
            if card.ood.features != GUARD_FEATURES:
                raise ArtifactError(
                    "this artifact's guard predates the frozen-layer guard: run `python -m training guard`."
                )
            ood_path = artifact_dir / card.ood.file
            verify_file(ood_path, card.ood.sha256)
            ood = OODDetector.load(ood_path)
        scan_type = None
        if card.scan_type and with_guard:
            scan_type_path = artifact_dir / card.scan_type.file
            verify_file(scan_type_path, card.scan_type.sha256)
            scan_type = ScanTypeModel.load(scan_type_path)
        onnx = None
        if runtime == "onnx" and not card.onnx:
            raise ArtifactError("the model card lists no ONNX export; run `python -m training export`.")
        if runtime != "tensorflow" and card.onnx:
            onnx_path = artifact_dir / card.onnx.file
            verify_file(onnx_path, card.onnx.sha256)
            onnx = OnnxForward(onnx_path)
        else:
            model = model.load(card)
        classifier = cls(model, card, ood, onnx, scan_type)
        classifier.artifact_dir = artifact_dir
        return classifier

    def warm_up(self) -> None:
        self.predict_inputs(np.zeros((1, self.card.image_size, self.card.image_size, 3), np.float32))

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the guard's pooled frozen features, logits), with flip test-time augmentation when the card asks."""
        batch = np.asarray(inputs, dtype=np.float32)
        if self.card.tta_flip:
            batch = np.concatenate([batch, batch[:, :, ::-1]])
        activations, logits = self.frozen_and_logits(batch)
        features = pooled_frozen_features(activations)
        if self.card.tta_flip:
            n = len(inputs)
            features, logits = (features[:n] + features[n:]) / 2, (logits[:n] + logits[n:]) / 2
        return features, logits

    def frozen_and_logits(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(activations where the frozen layers end, logits) of one batch, without test-time augmentation."""
        if self.onnx is not None:  # ONNX Runtime sessions may run from several threads at once
            found = self.onnx(batch)
            return found[FROZEN], found[LOGITS]
        return self._keras_forward(batch)

    def _keras_forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(frozen activations, logits) from the Keras model as one `tf.function` with a fixed input signature."""
        import tensorflow as tf

        from model.core.architecture import features_model
        from model.core.registry import BACKBONES

        model = self.model
        with self.lock:
            if self._forward is None:
                size, frozen_and_logits = self.card.image_size, features_model(model, BACKBONES[self.card.backbone])
                self._forward = tf.function(
                    lambda x: frozen_and_logits(x, training=False),
                    input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
                )
            frozen, logits = self._forward(tf.constant(batch))
            return frozen.numpy(), logits.numpy()

    def predict_inputs(self, inputs: np.ndarray) -> list[Prediction]:
        with _BLAS.limit(limits=1, user_api="blas"):
            features, logits = self.forward(inputs)
            scores = self.ood.score(features) if self.ood is not None else [None] * len(logits)
            kinds = self.scan_type.recognise(features) if self.scan_type is not None else [None] * len(logits)
        probabilities = calibrated_probabilities(logits, self.card.temperature)
        predictions = []
        for row, probs, score, kind in zip(logits, probabilities, scores, kinds):
            index = int(np.argmax(probs))
            flagged = bool(score is not None and self.ood is not None and score > self.ood.threshold)
            ood_score = None if score is None else float(score)
            predictions.append(Prediction(index, self.card.class_names[index], probs, row, ood_score, flagged, kind))
        return predictions

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        return prepare(rgb, self.card.image_size)

    def classify_images(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, Prediction]]:
        prepared = [self.prepare(rgb) for rgb in images]
        predictions = self.predict_inputs(np.stack([to_model_input(p) for p in prepared]))
        return list(zip(prepared, predictions))

    def predict_images(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        """Predictions of many RGB images, `BATCH` at a time: the evaluations' loop."""
        predictions = []
        for start in range(0, len(images), BATCH):
            predictions += [p for _, p in self.classify_images(images[start : start + BATCH])]
        return predictions

    def classify_frames(
        self, data: Upload, name: str, plane: Plane = Plane.AXIAL, keep_images: bool = True
    ) -> list[Classified]:
        """Every frame of a multi-frame DICOM, slice of a series or of a volume along `plane`, FRAMES_BATCH at a time;
        without `keep_images` only the answers are kept (a volume's slices as the model saw them weigh tens of MB)."""
        decoded = decode_frames(data, name, plane)
        classified = []
        for start in range(0, len(decoded), FRAMES_BATCH):
            chunk = decoded[start : start + FRAMES_BATCH]
            for item, (prepared, prediction) in zip(chunk, self.classify_images([d.rgb for d in chunk])):
                classified.append(Classified.of(item, prepared if keep_images else NO_IMAGE, prediction))
        return classified

    def classify_upload(
        self, data: Upload, name: str, frame: int | None = None, plane: Plane = Plane.AXIAL
    ) -> Classified:
        """Decode, preprocess and classify one upload; raises a typed `InputError` for bad files."""
        decoded = decode_image(data, name, frame, plane)
        prepared, prediction = self.classify_images([decoded.rgb])[0]
        return Classified.of(decoded, prepared, prediction)
