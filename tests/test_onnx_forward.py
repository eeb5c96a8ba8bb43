"""The ONNX Runtime forward pass: named outputs, only what is asked, and exports from before the conv output."""

import numpy as np
import onnx

from model.core.onnx_forward import FROZEN, LAST_CONV, LOGITS, OnnxForward
from tests.helpers import TINY_SIZE


def test_the_export_names_its_three_outputs_and_runs_only_those_asked(tiny_onnx_artifact):
    forward = OnnxForward(tiny_onnx_artifact[0] / "classifier.onnx")
    x = np.zeros((2, TINY_SIZE, TINY_SIZE, 3), np.float32)
    assert forward.has_last_conv and sorted(forward(x, (FROZEN, LAST_CONV, LOGITS))) == [FROZEN, LAST_CONV, LOGITS]
    assert list(forward(x, (LOGITS,))) == [LOGITS] and forward(x)[LOGITS].shape == (2, 4)


def test_an_export_without_the_conv_output_still_classifies(tiny_onnx_artifact, tmp_path):
    """Exports written before the named outputs: (frozen, logits) in that order, unnamed."""
    model = onnx.load(tiny_onnx_artifact[0] / "classifier.onnx")
    kept = [o for o in model.graph.output if o.name != LAST_CONV]
    del model.graph.output[:]
    model.graph.output.extend(kept)
    for output, old in zip(model.graph.output, ("Identity:0", "Identity_1:0")):
        for node in model.graph.node:
            node.output[:] = [old if name == output.name else name for name in node.output]
        output.name = old
    onnx.save(model, tmp_path / "old.onnx")
    forward = OnnxForward(tmp_path / "old.onnx")
    found = forward(np.zeros((1, TINY_SIZE, TINY_SIZE, 3), np.float32), (FROZEN, LAST_CONV, LOGITS))
    assert not forward.has_last_conv and sorted(found) == [FROZEN, LOGITS] and found[LOGITS].shape == (1, 4)
