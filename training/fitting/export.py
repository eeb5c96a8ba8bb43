"""Export the trained classifier to ONNX for the app's classification and class-activation maps.

tf2onnx converts the float32 network with three named outputs (`model.core.onnx_forward.OUTPUTS`): the frozen
layers' activations (guard, scan type), the last conv activations (the maps, `model.core.cam`) and the logits.
Large weight arrays are stored as float16 and cast back to float32
when ONNX Runtime loads the graph (it folds the casts, so it still computes in
float32), which halves the file like the npz. The export's logits must match
TensorFlow's on probe images before it is written; its SHA-256 goes into the
model card, which the app checks at load.

Tried and not shipped: int8 static quantisation (ONNX Runtime, QDQ, ranges
calibrated on train images). It was much faster, but it changed a share of the
Testing predictions, nearly all on the leakage-clean scans, and a cheaper
number format must leave accuracy on Testing unchanged.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import onnx
import onnxruntime
import tensorflow as tf
import tf2onnx
from onnx import TensorProto, helper, numpy_helper

from model.core.architecture import BACKBONES, FLOAT16_MIN_SIZE, features_model
from model.core.onnx_forward import INPUT_NAME, LOGITS, OUTPUTS, OnnxForward
from model.core.predict import Classifier
from model.schema.card import ONNX_FILE, ModelCard, sha256_file, update_card

OPSET = 17
TOLERANCE = 1e-2  # max |logit difference| between TensorFlow and the export, on random probe images


class ExportError(RuntimeError):
    """The exported graph does not compute what the Keras model computes."""


def export_float32(classifier: Classifier, path: Path) -> None:
    """The Keras model as ONNX, with three outputs: the frozen activations, the last conv activations, logits."""
    size, model = classifier.card.image_size, classifier.model
    spec = BACKBONES[classifier.card.backbone]
    frozen_and_logits = features_model(model, spec)
    last_conv = model.get_layer(classifier.card.last_conv_layer or spec.last_conv_layer).output
    three = keras.Model(model.input, [frozen_and_logits.outputs[0], last_conv, frozen_and_logits.outputs[1]])
    signature = [tf.TensorSpec([None, size, size, 3], tf.float32, name=INPUT_NAME)]
    forward = tf.function(lambda x: three(x, training=False), input_signature=signature)
    tf2onnx.convert.from_function(forward, input_signature=signature, opset=OPSET, output_path=str(path))


def name_outputs(graph: onnx.GraphProto, names: tuple[str, ...]) -> None:
    """Renames the graph's outputs, in order, to `names` (tf2onnx calls them Identity:0, Identity_1:0, ...)."""
    renamed = {output.name: name for output, name in zip(graph.output, names, strict=True)}
    for node in graph.node:
        node.output[:] = [renamed.get(name, name) for name in node.output]
        node.input[:] = [renamed.get(name, name) for name in node.input]
    for output in graph.output:
        output.name = renamed[output.name]


def store_float16(source: Path, target: Path) -> int:
    """Rewrites large float32 initializers as float16 + Cast and names the outputs; returns how many were halved."""
    model = onnx.load(source)
    graph = model.graph
    casts, kept = [], []
    for initializer in graph.initializer:
        values = numpy_helper.to_array(initializer)
        if initializer.data_type != TensorProto.FLOAT or values.size < FLOAT16_MIN_SIZE:
            kept.append(initializer)
            continue
        stored = f"{initializer.name}__float16"
        kept.append(numpy_helper.from_array(values.astype(np.float16), stored))
        casts.append(helper.make_node("Cast", [stored], [initializer.name], to=TensorProto.FLOAT))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    name_outputs(graph, OUTPUTS)
    onnx.checker.check_model(model)
    onnx.save(model, target)
    return len(casts)


def export_onnx(classifier: Classifier, out_dir: Path) -> dict[str, Any]:
    """Writes `out_dir/classifier.onnx`; returns the card's `onnx` block."""
    size = classifier.card.image_size
    out_path = Path(out_dir) / ONNX_FILE
    with tempfile.TemporaryDirectory() as tmp:
        float_path = Path(tmp) / "float32.onnx"
        export_float32(classifier, float_path)
        halved = store_float16(float_path, out_path)
    probe = np.random.default_rng(0).uniform(-1, 1, (4, size, size, 3)).astype(np.float32)
    difference = float(
        np.abs(OnnxForward(out_path)(probe)[LOGITS] - classifier.model(probe, training=False).numpy()).max()
    )
    if difference > TOLERANCE:
        out_path.unlink()
        raise ExportError(f"ONNX logits differ from TensorFlow's by {difference:.2e} (tolerance {TOLERANCE})")
    return {
        "file": ONNX_FILE,
        "sha256": sha256_file(out_path),
        "bytes": out_path.stat().st_size,
        "precision": f"float32 compute; arrays with >= {FLOAT16_MIN_SIZE} values stored as float16",
        "float16_arrays": halved,
        "opset": OPSET,
        "max_logit_difference_vs_tensorflow": difference,
        "probe_images": len(probe),
        "versions": {"tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
    }


def export_artifact(artifact_dir: Path) -> ModelCard:
    """Adds the ONNX export to an artifact folder and records it in the model card; returns the card."""
    classifier = Classifier.from_artifact(artifact_dir, runtime="tensorflow", with_guard=False)
    return update_card(artifact_dir, onnx=export_onnx(classifier, artifact_dir))
