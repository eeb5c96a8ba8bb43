"""The classification forward pass on ONNX Runtime, from the export that training writes.

Measured here (`python -m training bench`), ONNX Runtime runs the same float32
network faster than TensorFlow on a CPU. TensorFlow still serves the saliency
maps, which need gradients; the export keeps the two outputs of
`architecture.features_model` (the frozen layers' activations for the OOD guard, logits).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

INPUT_NAME = "image"


def available_cores() -> int:
    """The cores this process may run on (its affinity), which is what the machine's report should say."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class OnnxForward:
    """Image batch -> (frozen activations, logits), like the TensorFlow `features_model`."""

    def __init__(self, path: Path, threads: int | None = None, spinning: bool = False):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_cores()
        options.inter_op_num_threads = 1
        # Without spinning, idle ONNX Runtime workers leave the cores to the TensorFlow saliency pass
        # that usually follows a classification; the benchmark measures what spinning would gain.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        options.log_severity_level = 3
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.output_names = [output.name for output in self.session.get_outputs()]

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        activations, logits = self.session.run(self.output_names, {INPUT_NAME: np.ascontiguousarray(batch, np.float32)})
        return activations, logits
