"""The classifier, built in code: a flat Functional Xception with a 4-way head.

Flat (the head is applied to the backbone's output tensor, no nested sub-model)
because tf-keras-vis and our Grad-CAM need `block14_sepconv2_act` reachable
from the outer model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from model.core.backbone import imagenet_xception_weights, weights_sha256
from model.core.registry import BACKBONES, FEATURES_LAYER, LOGITS_LAYER, BackboneSpec, BaseSource


def build_classifier(
    num_classes: int,
    image_size: int,
    backbone: str = "xception",
    dropout: float = 0.3,
) -> keras.Model:
    """Random-initialised classifier; weights come from `load_weights_npz` or the backbone loader."""
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {sorted(BACKBONES)}")
    inputs = keras.Input((image_size, image_size, 3), name="image")
    features = BACKBONES[backbone].build(inputs)
    x = keras.layers.GlobalAveragePooling2D(name=FEATURES_LAYER)(features)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    logits = keras.layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    return keras.Model(inputs, logits, name=f"{backbone}_mri_classifier")


def backbone_weights(model: keras.Model) -> list[keras.Variable]:
    """The backbone's variables in Keras' own order (the order the checksum is defined on)."""
    head = {FEATURES_LAYER, "head_dropout", LOGITS_LAYER}
    return [w for layer in model.layers if layer.name not in head for w in layer.weights]


def split_model(model: keras.Model, spec: BackboneSpec) -> tuple[keras.Model, keras.Model, keras.Model]:
    """(frozen bottom, trainable top, top up to the pooled features), sharing the model's layers.

    The bottom's output is cached once; the top is trained on it.
    """
    cut = model.get_layer(spec.split_layer).input
    bottom = keras.Model(model.input, cut, name="bottom")
    top = keras.Model(cut, model.output, name="top")
    pooled = keras.Model(cut, model.get_layer(FEATURES_LAYER).output, name="top_features")
    return bottom, top, pooled


def cam_top(model: keras.Model, spec: BackboneSpec) -> keras.Model:
    """The trainable top returning (last conv activations, logits): what a class activation map needs."""
    cut = model.get_layer(spec.split_layer).input
    return keras.Model(cut, [model.get_layer(spec.last_conv_layer).output, model.output], name="top_with_cam")


def features_model(model: keras.Model, spec: BackboneSpec) -> keras.Model:
    """Image -> (the frozen activations at the split, logits): the OOD guard and the head share one pass.

    The guard reads the frozen layers (ImageNet weights, never fine-tuned), so it does not move when
    the top is trained again.
    """
    return keras.Model(model.input, [model.get_layer(spec.split_layer).input, model.output])


# float16 halves the artifact; small arrays (BatchNorm statistics, biases) stay float32.
FLOAT16_MIN_SIZE = 4096
# Names the base the weights file leaves arrays out of: the SHA-256 of the verified ImageNet backbone.
BASE_KEY = "base_sha256"


def as_stored(value: np.ndarray) -> np.ndarray:
    """An array as the weights file holds it: float16 when large, so what is left out matches bit for bit."""
    return value.astype(np.float16) if value.size >= FLOAT16_MIN_SIZE else value


def _base_indices(model: keras.Model) -> dict[int, int]:
    """Index in `model.weights` -> index in the backbone's weights (Keras' order, as the checksum has it)."""
    position = {id(variable): i for i, variable in enumerate(backbone_weights(model))}
    return {index: position[id(v)] for index, v in enumerate(model.weights) if id(v) in position}


def save_weights_npz(model: keras.Model, path: Path, base: Sequence[np.ndarray] | None = None) -> int:
    """Arrays in `model.weights` order, keyed `<index>:<variable path>` (the path is for people).

    With `base` (the verified ImageNet backbone), the arrays training never changed are left out and
    the file records the base's SHA-256: the file (and a checkout) holds only what fine-tuning changed.
    Returns how many arrays were left out.
    """
    base_of = _base_indices(model) if base is not None else {}
    arrays, left_out = {}, 0
    for index, variable in enumerate(model.weights):
        stored = as_stored(np.asarray(variable.numpy()))
        if (
            base is not None
            and index in base_of
            and np.array_equal(stored, as_stored(np.asarray(base[base_of[index]])))
        ):
            left_out += 1
            continue
        arrays[f"{index:04d}:{variable.path}"] = stored
    if base is not None:
        arrays[BASE_KEY] = np.array(weights_sha256(base))
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
    return left_out


def _variable_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _stored_arrays(
    path: Path, base_source: BaseSource
) -> tuple[dict[int, tuple[str, np.ndarray]], list[np.ndarray] | None]:
    """The file's arrays by index, and the base it names (verified against its SHA-256), if any."""
    with np.load(path, allow_pickle=False) as stored:
        arrays = {int(key.split(":", 1)[0]): (key, stored[key]) for key in stored.files if key != BASE_KEY}
        base_sha256 = str(stored[BASE_KEY]) if BASE_KEY in stored.files else None
    return arrays, (list(base_source(expected=base_sha256)) if base_sha256 else None)


def load_weights_npz(model: keras.Model, path: Path, base_source: BaseSource = imagenet_xception_weights) -> None:
    """Assigns in order, checking count, shapes and variable names; left-out arrays come from the base.

    Order rather than full paths, because Keras numbers unnamed layers
    (`batch_normalization_4`) per process, so paths differ between builds.
    """
    arrays, base = _stored_arrays(path, base_source)
    base_of = _base_indices(model) if base is not None else {}
    if max(arrays, default=-1) >= len(model.weights):
        raise ValueError(f"weights file holds more arrays than the architecture's {len(model.weights)}")
    for index, variable in enumerate(model.weights):
        if index in arrays:
            key, value = arrays[index]
        elif base is not None and index in base_of:
            key, value = variable.path, as_stored(np.asarray(base[base_of[index]]))
        else:
            raise ValueError(f"weights file has no array for {variable.path} and names no base that has it")
        stored_path = key.split(":", 1)[-1]
        if tuple(value.shape) != tuple(variable.shape) or _variable_name(stored_path) != _variable_name(variable.path):
            raise ValueError(
                f"weights file does not match the architecture at {variable.path}: "
                f"stored {stored_path} {value.shape}, expected {tuple(variable.shape)}"
            )
        variable.assign(value.astype(np.float32))


def assign_weights(variables: Sequence[keras.Variable], values: Sequence[np.ndarray]) -> None:
    if len(variables) != len(values):
        raise ValueError(f"expected {len(variables)} arrays, got {len(values)}")
    for variable, value in zip(variables, values):
        variable.assign(value)
