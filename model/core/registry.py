"""The backbones a classifier can be built on, one entry each: the layers the code relies on, the builder, the weights.

Keras-free until a builder is called, so that the ONNX serving path can name layers without importing TensorFlow.
Adding a backbone is adding an entry here; `python -m training train --backbone` offers every entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from model.core.backbone import imagenet_xception_weights

if TYPE_CHECKING:
    import keras

LOGITS_LAYER = "logits"
FEATURES_LAYER = "avg_pool"
BaseSource = Callable[..., Sequence[np.ndarray]]


@dataclass(frozen=True)
class BackboneSpec:
    """Names the two layers the rest of the code relies on, builds the backbone and says where its weights are."""

    name: str
    split_layer: str  # its input is the last frozen activation, cached during training
    last_conv_layer: str  # Grad-CAM target
    build: Callable[[keras.KerasTensor], keras.KerasTensor]  # image input -> last conv activations
    base_weights: BaseSource | None  # verified pretrained weights of `backbone_weights(model)`, in order


def _xception(inputs: keras.KerasTensor) -> keras.KerasTensor:
    import keras

    return keras.applications.Xception(include_top=False, weights=None, input_tensor=inputs).output


def _tiny(inputs: keras.KerasTensor) -> keras.KerasTensor:
    """A few-kilobyte stand-in with Xception's layer names, for fast tests of the whole pipeline."""
    import keras

    x = keras.layers.Conv2D(8, 3, strides=4, padding="same", activation="relu", name="tiny_conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="tiny_conv2")(x)
    x = keras.layers.Activation("relu", name="block13_sepconv1_act")(x)
    x = keras.layers.SeparableConv2D(16, 3, padding="same", use_bias=False, name="block14_sepconv2")(x)
    x = keras.layers.BatchNormalization(name="block14_sepconv2_bn")(x)
    return keras.layers.Activation("relu", name="block14_sepconv2_act")(x)


BACKBONES: dict[str, BackboneSpec] = {
    "xception": BackboneSpec(
        "xception", "block13_sepconv1_act", "block14_sepconv2_act", _xception, imagenet_xception_weights
    ),
    "tiny": BackboneSpec("tiny", "block13_sepconv1_act", "block14_sepconv2_act", _tiny, None),
}
