"""The forward pass on ONNX Runtime, from the export that training writes.

Measured here (`python -m benchmarks`), ONNX Runtime runs the same float32 network faster than TensorFlow on a
CPU. The export's outputs are named (`OUTPUTS`): the frozen layers' activations (the OOD guard and the scan-type
recogniser read them), the last convolutional activations (Grad-CAM, Grad-CAM++ and Score-CAM, `model.core.cam`)
and the logits. An export written before the last convolutional output existed still classifies; its maps fall
back to TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

INPUT_NAME = "image"
FROZEN, LAST_CONV, LOGITS = "frozen", "last_conv", "logits"
OUTPUTS = (FROZEN, LAST_CONV, LOGITS)


def available_cores() -> int:
    """The cores this process may run on (its affinity), which is what the machine's report should say."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class OnnxForward:
    """Image batch -> named outputs, like the TensorFlow `features_model`; safe to call from several threads."""

    def __init__(self, path: Path, threads: int | None = None, spinning: bool = False):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_cores()
        options.inter_op_num_threads = 1
        # Without spinning, idle ONNX Runtime workers leave the cores to whatever follows a classification
        # (drawing the page, a TensorFlow SmoothGrad); the benchmark measures what spinning would gain.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        options.log_severity_level = 3
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        # The arena gives back what a large batch (Score-CAM's ten masked copies) took once the run ends: without
        # this a server keeps ~250 MB more after one Score-CAM, for no measurable speed (python -m benchmarks).
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        names = [output.name for output in self.session.get_outputs()]
        # Exports before the named outputs: (frozen, logits) in that order.
        self.output_names = names if set(names) == set(OUTPUTS) else [FROZEN, LOGITS]
        self._onnx_names = dict(zip(self.output_names, names))

    @property
    def has_last_conv(self) -> bool:
        return LAST_CONV in self._onnx_names

    def __call__(self, batch: np.ndarray, outputs: tuple[str, ...] = (FROZEN, LOGITS)) -> dict[str, np.ndarray]:
        """The named outputs this export has, of one batch."""
        wanted = [name for name in outputs if name in self._onnx_names]
        feeds = {INPUT_NAME: np.ascontiguousarray(batch, np.float32)}
        found = self.session.run([self._onnx_names[name] for name in wanted], feeds, self._run_options)
        return dict(zip(wanted, found))
