"""Low precision beside float32, in one run: the forward pass, batch 32, one scan end to end and a folder, for
float32 ONNX Runtime (served), float32 OpenVINO (the engine alone), bf16 OpenVINO and int8 ONNX Runtime; and each
precision's matrix-product limit on this machine (float32 sgemm from NumPy, bf16 and int8 from a 2048-cube product
in the engine that runs the model). Whether a precision may serve is `python -m training precision`'s verdict
(model/artifacts/precision.json); this block only times. Its int8 model is calibrated on noise: timing does not
depend on the ranges, and no scan of any split is touched here.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.throughput import scan_folder
from model.core.batch import classify_paths
from model.core.onnx_forward import LOGITS, OnnxForward, available_cores
from model.core.predict import Classifier
from model.core.preprocess import to_model_input
from model.schema.records import PrecisionEvaluation, load
from training.evaluation.precision import (
    BF16,
    BF16_FLAGS,
    CALIBRATION_SCANS,
    FLOAT32,
    INT8,
    OpenVinoForward,
    cpu_flags,
    quantised_int8,
    with_forward,
)

GEMM_SIDE = 2048
FOLDER = 200  # scans per folder run: four forward passes to time, each over the same files
BATCH = 32


def _median_ms(function: Callable[[], Any], runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def forwards(classifier: Classifier, folder: Path) -> dict[str, Any]:
    """The forward passes to time, by name; bf16 only where the CPU has bfloat16 instructions."""
    assert classifier.onnx is not None
    source = classifier.onnx.path
    size = classifier.card.image_size
    noise = np.random.default_rng(0).uniform(-1, 1, (CALIBRATION_SCANS, size, size, 3)).astype(np.float32)
    found: dict[str, Any] = {FLOAT32: classifier.onnx, "float32 (OpenVINO)": OpenVinoForward(source, "f32")}
    if any(flag in cpu_flags() for flag in BF16_FLAGS):
        found[BF16] = OpenVinoForward(source, BF16)
    found[INT8] = OnnxForward(quantised_int8(source, noise, folder))
    return found


def gemm_limits() -> dict[str, float]:
    """GOP/s of a GEMM_SIDE-cube matrix product per precision, in the engine that runs that precision."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    side = GEMM_SIDE
    found: dict[str, float] = {}
    a8, b8 = (np.random.default_rng(i).integers(0, 100, (side, side)) for i in (1, 2))
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["c"])],
        "int8_gemm",
        [
            helper.make_tensor_value_info("a", TensorProto.UINT8, [side, side]),
            helper.make_tensor_value_info("b", TensorProto.INT8, [side, side]),
        ],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [side, side])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"a": a8.astype(np.uint8), "b": b8.astype(np.int8)}
    found[INT8] = 2 * side**3 / _median_ms(lambda: session.run(None, feeds), 5) / 1e6
    if any(flag in cpu_flags() for flag in BF16_FLAGS):
        found[BF16] = _openvino_gemm(side)
    return found


def _openvino_gemm(side: int) -> float:
    import openvino as ov
    import openvino.opset13 as ops

    a = ops.parameter([side, side], np.float32, name="a")
    b = ops.constant(np.random.default_rng(3).standard_normal((side, side)).astype(np.float32))
    model = ov.Model([ops.matmul(a, b, False, False)], [a])
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": BF16})
    x = np.random.default_rng(4).standard_normal((side, side)).astype(np.float32)
    return 2 * side**3 / _median_ms(lambda: compiled({0: x}), 5) / 1e6


def timings(classifier: Classifier, x: np.ndarray, forward: Any, paths: list[Path], runs: int) -> dict[str, float]:
    """One forward pass, batch 32, one scan end to end (decode to answer) and a folder, through `forward`."""
    served = with_forward(classifier, forward)
    data = paths[0].read_bytes()
    batch = np.repeat(x, BATCH, axis=0)
    started = time.perf_counter()
    list(classify_paths(served, paths, batch_size=BATCH))
    folder_s = time.perf_counter() - started
    return {
        "forward_one_ms": _median_ms(lambda: forward(x, (LOGITS,)), runs),
        "forward_batch32_images_per_s": BATCH / (_median_ms(lambda: forward(batch, (LOGITS,)), 3, 1) / 1000),
        "end_to_end_one_ms": _median_ms(lambda: served.classify_upload(data, "x"), runs),
        "folder_images_per_s": len(paths) / folder_s,
    }


def precision_block(artifact_dir: Path, sgemm_gflops: float, runs: int = 20) -> dict[str, Any]:
    """Every precision timed in this one run, with the CPU's flags, each precision's matrix-product limit (float32:
    `sgemm_gflops`, measured in the same run) and the agreement verdict on file."""
    classifier = Classifier.from_artifact(artifact_dir)
    verdict = load(PrecisionEvaluation, artifact_dir)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = scan_folder(folder, FOLDER, distinct=True)
        model_input = to_model_input(classifier.classify_upload(paths[0].read_bytes(), "x").prepared)[None]
        by_precision = {
            name: timings(classifier, model_input, forward, paths, runs)
            for name, forward in forwards(classifier, folder).items()
        }
    return {
        "cpu_flags": cpu_flags(),
        "threads": available_cores(),
        "forwards": by_precision,
        "gemm_gops": {FLOAT32: sgemm_gflops, **gemm_limits()},
        "served": FLOAT32 if verdict is None else verdict.served,
        "agreement_on_file": verdict is not None and classifier.card.describes(verdict.artifact_sha256),
    }
