"""Speed benchmark of the shipped model on this machine (a measurement, never a test): `python -m benchmarks`.

One run measures, side by side: our end-to-end classify path, the seed's
serving path (save upload, keras.utils.load_img, model.predict), the bare
forward pass of each runtime (the shipped ONNX export, TensorFlow, and
ideas not shipped), the machine's sgemm GFLOP/s (in a clean child process),
each saliency method, folder throughput by batch size, classification
latency during another visitor's SmoothGrad, app start-up, what the browser
shows (benchmarks/browser.py) and the training throughput in the model card.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import onnxruntime
import psutil
import tensorflow as tf

from benchmarks.browser import browser_timings
from benchmarks.memory import decode_peak_rss
from benchmarks.precision import precision_block
from benchmarks.scale import engine_timings
from benchmarks.throughput import folder_throughput, latency_under_smoothgrad
from benchmarks.worker import smoothgrad_block
from model.core.architecture import build_classifier, load_weights_npz
from model.core.cam import SCORE_CAM_MAX_N
from model.core.explain import Explainer
from model.core.gradients import SMOOTHGRAD_SAMPLES
from model.core.maps import METHODS
from model.core.onnx_forward import INPUT_NAME, LOGITS, OnnxForward, available_cores
from model.core.predict import Classifier
from model.core.preprocess import to_model_input
from model.schema.card import ARTIFACT_DIR
from training.fitting.artifact import machine_info

ROOT = Path(__file__).resolve().parents[1]


def _stats(seconds: list[float]) -> dict[str, float]:
    values = np.array(seconds) * 1000
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "mean_ms": float(values.mean()),
        "runs": len(values),
    }


def timed(function: Callable[[], Any], runs: int, warmup: int = 3) -> dict[str, float]:
    return timed_interleaved({"only": function}, runs, warmup)["only"]


def timed_interleaved(functions: dict[str, Callable[[], Any]], runs: int, warmup: int = 3) -> dict[str, dict]:
    """Calls the functions in turn, run after run, so that a slow spell of the machine hits all of them alike
    and the ratios between them stay fair."""
    for _ in range(warmup):
        for function in functions.values():
            function()
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            samples[name].append(time.perf_counter() - started)
    return {name: _stats(values) for name, values in samples.items()}


def model_flops(model: keras.Model) -> float:
    """Multiply-adds x 2 of every conv and dense layer, from the layers' own shapes."""
    flops = 0.0
    for layer in model.layers:
        if isinstance(
            layer, (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)
        ):
            out_shape = layer.output.shape
            in_channels = layer.input.shape[-1]
            positions = float(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1.0
            if isinstance(layer, keras.layers.SeparableConv2D):
                kernel = np.prod(layer.kernel_size)
                flops += 2 * positions * in_channels * kernel + 2 * positions * in_channels * out_shape[-1]
            elif isinstance(layer, keras.layers.DepthwiseConv2D):
                flops += 2 * positions * in_channels * np.prod(layer.kernel_size)
            elif isinstance(layer, keras.layers.Conv2D):
                flops += 2 * positions * in_channels * np.prod(layer.kernel_size) * out_shape[-1]
            else:
                flops += 2 * in_channels * out_shape[-1]
    return flops


SGEMM_SCRIPT = textwrap.dedent("""
    import json, time
    import numpy as np
    from threadpoolctl import threadpool_info
    size, runs = 2048, 10
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((size, size), dtype=np.float32)
    for _ in range(3):
        a @ b
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        a @ b
        seconds.append(time.perf_counter() - started)
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    print(json.dumps({"gflops": 2 * size**3 / float(np.median(seconds)) / 1e9, "blas": blas}))
""")
# Set on some processors of this workplace; they slow NumPy's OpenBLAS, so the "limit" would not be one.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def machine_sgemm() -> dict[str, Any]:
    """NumPy sgemm GFLOP/s in a child process without the OpenBLAS overrides, and which kernel ran."""
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_OVERRIDES}
    run = subprocess.run([sys.executable, "-c", SGEMM_SCRIPT], env=env, capture_output=True, text=True, check=True)
    result = json.loads(run.stdout)
    result["overrides_removed"] = {k: os.environ[k] for k in OPENBLAS_OVERRIDES if k in os.environ}
    return result


STARTUP_SCRIPT = textwrap.dedent("""
    import time, sys
    from streamlit.testing.v1 import AppTest
    app = AppTest.from_file("pages/1_Classify.py", default_timeout=300)
    app.run()
    path = sys.argv[1]
    app.get("file_uploader")[0].set_value([(path, open(path, "rb").read(), "image/jpeg")])
    app.run()
    assert not app.exception and app.subheader, "no classification shown"
    print("SHOWN", app.subheader[0].value)
""")


def app_startup(sample: Path) -> dict[str, Any]:
    """Fresh Python process: import, load the model, render Classify with one upload."""
    started = time.perf_counter()
    process = psutil.Popen(
        [sys.executable, "-c", STARTUP_SCRIPT, str(sample)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    output = process.stdout.read().decode(errors="replace")
    return {
        "seconds_to_first_classification": time.perf_counter() - started,
        "peak_rss_mib": peak / 2**20,
        "ok": process.returncode == 0 and "SHOWN" in output,
    }


def bfloat16_forward(classifier: Classifier, x: np.ndarray, runs: int, artifact_dir: Path) -> dict[str, float]:
    """An idea measured, not shipped: the same weights computing in bfloat16 (AVX512-BF16 where present)."""
    card = classifier.card
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_classifier(card.num_classes, card.image_size, card.backbone)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    load_weights_npz(model, artifact_dir / card.weights_file)
    forward = tf.function(lambda batch: model(batch, training=False))
    stats = timed(lambda: forward(x), runs)
    reference = classifier.model(x, training=False).numpy()
    stats["max_logit_difference"] = float(np.abs(np.asarray(forward(x), np.float32) - reference).max())
    return stats


def onnx_spinning_forward(classifier: Classifier, explainer: Explainer, x: np.ndarray, runs: int) -> dict[str, Any]:
    """An idea measured, not shipped: ONNX Runtime workers spin between calls instead of sleeping.

    Also times the Grad-CAM that follows a classification in the app, with and without spinning: the
    spinning workers compete with TensorFlow for the cores.
    """
    if classifier.onnx is None:
        return {"p50_ms": float("nan"), "p95_ms": float("nan")}
    spinning = OnnxForward(classifier.onnx.path, spinning=True)
    stats: dict[str, Any] = timed(lambda: spinning(x), runs)
    forwards = {"spinning": spinning, "shipped": classifier.onnx}
    after: dict[str, list[float]] = {name: [] for name in forwards}
    try:
        for run in range(12):
            for name, forward in forwards.items():
                classifier.onnx = forward
                classifier.predict_inputs(x)
                started = time.perf_counter()
                explainer.explain(x[0], 0, METHODS[0])
                if run >= 2:  # warm-up
                    after[name].append(time.perf_counter() - started)
    finally:
        classifier.onnx = forwards["shipped"]
    stats["saliency_after_ms"] = {name: _stats(values)["p50_ms"] for name, values in after.items()}
    return stats


def compute_efficiency(
    classifier: Classifier, shipped: dict[str, float], compiled: dict[str, float], classify: dict[str, Any]
) -> dict[str, Any]:
    """How close each forward pass comes to the machine's own single-precision matrix multiply."""
    flops, sgemm = model_flops(classifier.model), machine_sgemm()
    gemm, views = sgemm["gflops"], 2 if classifier.card.tta_flip else 1

    def fraction(stats: dict[str, float]) -> float:
        return flops * views / (stats["p50_ms"] / 1000) / 1e9 / gemm

    return {
        "model_gflop_per_image": flops / 1e9,
        "numpy_sgemm_gflops": gemm,
        "sgemm_kernel": [
            {k: blas.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for blas in sgemm["blas"]
        ],
        "openblas_overrides_removed": sgemm["overrides_removed"],
        "shipped_forward_fraction_of_sgemm": fraction(shipped),
        "tensorflow_forward_fraction_of_sgemm": fraction(compiled),
        "batch32_fraction_of_sgemm": flops * classify["forward_batch32_images_per_s"] / 1e9 / gemm,
    }


def saliency_timings(explainer: Explainer, x: np.ndarray, forward_ms: float) -> dict[str, Any]:
    """Each saliency method's time, also in TensorFlow forward passes (the slow two on fewer runs)."""
    saliency: dict[str, dict[str, Any]] = {}
    for method in METHODS:

        def explained(m: str = method) -> Any:
            return explainer.explain(x[0], 0, m)

        stats = timed(explained, runs=3 if method in METHODS[2:] else 10, warmup=1)
        runtime = "TensorFlow" if explainer.needs_tensorflow(method) else "ONNX Runtime"
        saliency[method] = {**stats, "times_forward": stats["p50_ms"] / forward_ms, "runtime": runtime}
    saliency["SmoothGrad"]["samples"] = SMOOTHGRAD_SAMPLES
    saliency["SmoothGrad"]["times_forward_per_sample"] = saliency["SmoothGrad"]["times_forward"] / SMOOTHGRAD_SAMPLES
    saliency["Score-CAM"]["max_N"] = SCORE_CAM_MAX_N
    return saliency


def against_the_seed_path(classifier: Classifier, sample: Path, x: np.ndarray, runs: int) -> dict[str, dict]:
    """Ours end to end, the seed project's serving path (save the upload, keras load_img, predict) and our bare
    forward pass, timed in turn run after run."""
    data, size = sample.read_bytes(), classifier.card.image_size
    with tempfile.TemporaryDirectory() as tmp:

        def seed_path():
            target = Path(tmp) / sample.name
            target.write_bytes(data)
            image = keras.utils.img_to_array(keras.utils.load_img(target, target_size=(size, size)))
            return classifier.model.predict(keras.applications.xception.preprocess_input(image[None]), verbose=0)

        return timed_interleaved(
            {
                "ours": lambda: classifier.classify_upload(data, sample.name),
                "seed": seed_path,
                "shipped": lambda: classifier.forward(x),
            },
            runs,
        )


# ONNX Runtime settings tried against the shipped session (ideas measured, not shipped unless faster).
SESSION_OPTIONS: dict[str, dict[str, Any]] = {
    "graph optimisation extended (not all)": {"level": "ORT_ENABLE_EXTENDED"},
    "graph optimisation basic": {"level": "ORT_ENABLE_BASIC"},
    "denormals as zero": {"entries": {"session.set_denormal_as_zero": "1"}},
    "one intra-op thread": {"threads": 1},
}


def onnx_session_options(classifier: Classifier, x: np.ndarray, runs: int) -> dict[str, dict]:
    """The forward pass of one image with each of SESSION_OPTIONS beside the shipped session, timed in turn."""
    shipped = classifier.onnx
    if shipped is None:
        return {}
    functions: dict[str, Callable[[], Any]] = {"shipped": lambda: shipped(x, (LOGITS,))}
    for name, option in SESSION_OPTIONS.items():
        settings = onnxruntime.SessionOptions()
        settings.intra_op_num_threads = option.get("threads", available_cores())
        settings.log_severity_level = 3
        if "level" in option:
            settings.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, option["level"])
        for key, value in option.get("entries", {}).items():
            settings.add_session_config_entry(key, value)
        session = onnxruntime.InferenceSession(str(shipped.path), settings, providers=["CPUExecutionProvider"])

        def forward(s: onnxruntime.InferenceSession = session) -> Any:
            return s.run([LOGITS], {INPUT_NAME: x})

        functions[name] = forward
    return timed_interleaved(functions, max(5, runs // 3))


def run_benchmark(sample: Path, runs: int = 30, artifact_dir: Path = ARTIFACT_DIR) -> dict[str, Any]:
    classifier = Classifier.from_artifact(artifact_dir)
    classifier.warm_up()
    tensorflow = Classifier.from_artifact(artifact_dir, runtime="tensorflow")
    tensorflow.warm_up()
    data = sample.read_bytes()
    results: dict[str, Any] = {
        "machine": machine_info(),
        "runs": runs,
        "image": sample.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    x = to_model_input(classifier.classify_upload(data, "x").prepared)[None]
    paired = against_the_seed_path(classifier, sample, x, runs)
    ours, seed, shipped = paired["ours"], paired["seed"], paired["shipped"]
    eager = timed(lambda: classifier.model(x, training=False), runs)
    compiled = timed(lambda: tensorflow.forward(x), runs)
    explainer = Explainer(classifier)  # class activation maps on ONNX Runtime, SmoothGrad on TensorFlow
    ideas = {
        "onnx_spinning_threads": onnx_spinning_forward(classifier, explainer, x, runs),
        "bfloat16_forward": bfloat16_forward(classifier, x, runs, artifact_dir),
        "onnx_session_options": onnx_session_options(classifier, x, runs),
    }
    batch = np.repeat(x, 32, axis=0)
    batch_stats = timed(lambda: classifier.forward(batch), max(3, runs // 10), warmup=1)
    results["classify"] = {
        "runtime": classifier.runtime,
        "ours_end_to_end": ours,
        "seed_serving_path": seed,
        "eager_model_call": eager,
        "shipped_forward_one_image": shipped,
        "tensorflow_compiled_forward_one_image": compiled,
        "ideas_not_shipped": ideas,
        "forward_batch32_images_per_s": 32 / (batch_stats["p50_ms"] / 1000),
        "speedup_vs_seed": seed["p50_ms"] / ours["p50_ms"],
        "end_to_end_over_forward": ours["p50_ms"] / shipped["p50_ms"],
        "tta_flip": classifier.card.tta_flip,
    }

    results["compute"] = compute_efficiency(classifier, shipped, compiled, results["classify"])
    results["saliency"] = saliency_timings(explainer, x, compiled["p50_ms"])
    results["startup"] = app_startup(sample)
    results["contention"] = latency_under_smoothgrad(classifier, explainer, x, runs)
    results["throughput"] = folder_throughput(classifier)
    results["browser"] = browser_timings()
    results["memory"] = decode_peak_rss()
    results["scale"] = engine_timings()
    results["precision"] = precision_block(artifact_dir, results["compute"]["numpy_sgemm_gflops"])
    results["smoothgrad"] = smoothgrad_block()
    card = classifier.card
    timings = {} if card.timings is None else dataclasses.asdict(card.timings)
    results["training"] = {**timings, "machine": None if card.machine is None else card.machine.cpu}
    return results


def markdown(results: dict[str, Any]) -> str:
    """The benchmark table of the README, from `results.json`."""
    m = results["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cpu_count']} cores, {platform.system()}, TensorFlow {m['tensorflow']}, "
        f"ONNX Runtime {onnxruntime.__version__} ({results['created']}, {results['runs']} runs, p50 / p95).",
        "",
        "| what | p50 | p95 | note |",
        "|---|---|---|---|",
        *_forward_rows(results["classify"], results["compute"]),
        *_throughput_rows(results),
        *_saliency_rows(results["saliency"]),
        *_start_and_training_rows(results["startup"], results["training"]),
        *_smoothgrad_rows(results.get("smoothgrad")),
        *_precision_rows(results.get("precision")),
    ]
    return "\n".join(lines) + "\n"


def _smoothgrad_rows(block: dict[str, Any] | None) -> list[str]:
    """SmoothGrad in its worker process: time, the server's memory during and after, and the samples' agreement."""
    if not block:
        return []
    w, a = block["worker"], block["agreement"]
    back = "stopped" if not w["worker_running_after_idle"] else "still running"
    return [
        f"| SmoothGrad in the TensorFlow worker ({a['served_samples']} samples) | {w['map_s']:.1f} s | | "
        f"first map, worker starting: {w['first_map_s']:.1f} s; {a['seed_samples']} samples: {a['seed_map_s']:.1f} s |",
        f"| server RSS with the worker running · after it went idle | {w['server_rss_with_worker_mib']:.0f} MiB | | "
        f"before: {w['server_rss_before_mib']:.0f} MiB; the worker itself {w['worker_rss_mib']:.0f} MiB; after idle: "
        f"{w['server_rss_after_idle_mib']:.0f} MiB, worker {back} ({w['idle_s']:.0f} s idle here); "
        f"TensorFlow in the server: {w['tensorflow_in_server']} |",
        f"| SmoothGrad agreement, {a['served_samples']} vs {a['seed_samples']} samples (mean r, {a['scans']} scans) | "
        f"{a['served_vs_seed_r']:.3f} | | two {a['seed_samples']}-sample maps agree at {a['seed_vs_seed_r']:.3f} |",
    ]


def _precision_rows(block: dict[str, Any] | None) -> list[str]:
    """Each precision beside float32 from one run, and its matrix-product limit; which one serves."""
    if not block:
        return []
    flags = ", ".join(block["cpu_flags"]) or "none of note"
    rows = [
        f"| **low precision** (CPU flags: {flags}) | | | serving: {block['served']} (`python -m training precision`) |"
    ]
    reference = block["forwards"]["float32"]
    for name, times in block["forwards"].items():
        speedup = reference["end_to_end_one_ms"] / times["end_to_end_one_ms"]
        rows.append(
            f"| {name}: one scan end to end | {times['end_to_end_one_ms']:.0f} ms | | forward "
            f"{times['forward_one_ms']:.0f} ms, batch 32 {times['forward_batch32_images_per_s']:.0f} img/s, folder "
            f"{times['folder_images_per_s']:.1f} scans/s; {speedup:.2f}x float32 end to end (medians) |"
        )
    shown = ", ".join(f"{name} {value:.0f}" for name, value in block["gemm_gops"].items())
    rows.append(f"| matrix-product limit, GOP/s ({GEMM_SIDE_NOTE}) | | | {shown} |")
    return rows


GEMM_SIDE_NOTE = "float32: NumPy sgemm; int8: ONNX Runtime MatMulInteger; bf16: OpenVINO MatMul; 2048-cube"


def _row(what: str, stats: dict[str, float], note: str = "") -> str:
    return f"| {what} | {stats['p50_ms']:.0f} ms | {stats['p95_ms']:.0f} ms | {note} |"


def _forward_rows(c: dict[str, Any], k: dict[str, Any]) -> list[str]:
    """Classification end to end, the forward pass on each runtime, the ideas measured and not shipped."""
    ideas = c["ideas_not_shipped"]
    after = ideas["onnx_spinning_threads"].get("saliency_after_ms")
    return [
        _row(
            f"classify one image end to end (ours: {c['runtime']})",
            c["ours_end_to_end"],
            f"{c['speedup_vs_seed']:.2f}x faster than the seed path; {c['end_to_end_over_forward']:.2f}x our forward "
            "(these three timed in turn, run after run)",
        ),
        _row("seed serving path (save, load_img, predict)", c["seed_serving_path"]),
        _row(
            f"forward, shipped: {c['runtime']}",
            c["shipped_forward_one_image"],
            f"{k['shipped_forward_fraction_of_sgemm']:.2f}x NumPy sgemm; flip TTA: {c['tta_flip']}",
        ),
        _row(
            "forward, TensorFlow float32 (tf.function, fixed signature)",
            c["tensorflow_compiled_forward_one_image"],
            f"{k['tensorflow_forward_fraction_of_sgemm']:.2f}x NumPy sgemm; "
            "serves SmoothGrad and the tf-keras-vis references",
        ),
        _row("eager `model(x)`", c["eager_model_call"]),
        _row(
            "idea, not shipped: ONNX Runtime workers spinning between calls",
            ideas["onnx_spinning_threads"],
            "idle workers busy-wait between calls"
            + (
                f"; the {METHODS[0]} that follows a classification takes {after['spinning']:.0f} ms instead of "
                f"{after['shipped']:.0f} ms"
                if after
                else ""
            ),
        ),
        *_session_option_rows(ideas.get("onnx_session_options", {})),
        _row(
            "idea, not shipped: TensorFlow in bfloat16",
            ideas["bfloat16_forward"],
            f"max logit difference {ideas['bfloat16_forward']['max_logit_difference']:.3f}",
        ),
        f"| forward, batch of 32 ({c['runtime']}) | {c['forward_batch32_images_per_s']:.1f} images/s | | "
        f"{k['batch32_fraction_of_sgemm']:.2f}x NumPy sgemm |",
        f"| machine limit: NumPy sgemm, clean child process | {k['numpy_sgemm_gflops']:.0f} GFLOP/s | | "
        f"{_kernel(k)}; model: {k['model_gflop_per_image']:.1f} GFLOP/image |",
    ]


def _session_option_rows(options: dict[str, dict]) -> list[str]:
    if not options:
        return []
    shipped = options["shipped"]["p50_ms"]
    tried = "; ".join(f"{name}: {stats['p50_ms']:.0f} ms" for name, stats in options.items() if name != "shipped")
    return [
        _row(
            "ideas, not shipped: ONNX Runtime session options", options["shipped"], f"shipped {shipped:.0f} ms; {tried}"
        )
    ]


def _saliency_rows(saliency: dict[str, Any]) -> list[str]:
    lines = []
    for method, stats in saliency.items():
        note = f"{stats.get('runtime', 'TensorFlow')}; {stats['times_forward']:.1f}x TensorFlow forward"
        if method == "SmoothGrad":
            note += f" ({stats['samples']} samples: {stats['times_forward_per_sample']:.2f}x forward per sample)"
        if method == "Score-CAM":
            note += f" (max_N={stats['max_N']})"
        lines.append(f"| {method} | {stats['p50_ms'] / 1000:.2f} s | {stats['p95_ms'] / 1000:.2f} s | {note} |")
    return lines


def _start_and_training_rows(startup: dict[str, Any], training: dict[str, Any] | None) -> list[str]:
    lines = [
        f"| app start to first classification (fresh process, AppTest) | "
        f"{startup['seconds_to_first_classification']:.1f} s | | peak RSS {startup['peak_rss_mib']:.0f} MiB |"
    ]
    if training:
        cache = (
            f"frozen-layer cache {training.get('cache_frozen_layers_s', 0) / 60:.1f} min |"
            if training.get("cache_images_computed")
            else "frozen-layer cache reused from an earlier run |"
        )
        lines.append(
            f"| training, end to end (model card) | {training.get('total_wall_s', 0) / 60:.1f} min | | "
            f"stage 1 {training.get('stage1_images_per_s', 0):.0f} img/s, stage 2 "
            f"{training.get('stage2_images_per_s', 0):.0f} img/s, " + cache
        )
    return lines


def _kernel(compute: dict[str, Any]) -> str:
    kernels = ", ".join(
        f"{b['internal_api']} {b['version']} {b['architecture']} kernel, {b['num_threads']} threads"
        for b in compute["sgemm_kernel"]
    )
    removed = ", ".join(f"{k}={v}" for k, v in compute["openblas_overrides_removed"].items())
    return kernels + (f" (without this process's {removed})" if removed else "")


def _throughput_rows(results: dict[str, Any]) -> list[str]:
    """Folder throughput, latency during a SmoothGrad and the browser's timings."""
    folder, busy, browser = results["throughput"], results["contention"], results["browser"]
    batched = folder["batched_images_per_s"]
    best = folder["fastest_batch_size"]
    single_ms = results["classify"]["ours_end_to_end"]["p50_ms"]
    budget = 1.5 * 20 * single_ms / 1000 + 1
    return [
        f"| `python -m model classify`, folder of {folder['scans']} scans | {batched[str(best)]:.1f} images/s | | "
        f"batch {best} (batches of " + ", ".join(f"{n}: {v:.1f}" for n, v in batched.items()) + " images/s; "
        f"one `classify_upload` at a time: {folder['one_at_a_time_images_per_s']:.1f} images/s) |",
        f"| classify one image, another visitor's SmoothGrad running | {busy['during_smoothgrad']['p50_ms']:.0f} ms | "
        f"{busy['during_smoothgrad']['p95_ms']:.0f} ms | alone: {busy['alone']['p50_ms']:.0f} / "
        f"{busy['alone']['p95_ms']:.0f} ms; SmoothGrad maps finished meanwhile: {busy['smoothgrad_maps']} |",
        f"| browser: server start to first result (fresh `streamlit run`, headless Chromium) | "
        f"{browser['server_start_to_first_result_s']:.1f} s | | first upload alone: {browser['first_scan_s']:.1f} s; "
        f"server RSS after classifying {browser['server_rss_after_classifying_mib']:.0f}"
        " MiB (TensorFlow not loaded) |",
        f"| browser: upload 1 scan -> result visible | {browser['one_scan_s']:.1f} s | | |",
        f"| browser: upload 20 scans -> every result and the table visible | {browser['twenty_scans_s']:.1f} s | | "
        f"target 1.5 x 20 x end to end + 1 s = {budget:.1f} s; server log: {browser['server_log_lines']} lines, "
        f"{browser['server_log_warnings']} warnings |",
        *_explain_rows(browser, results["memory"]),
        *_scale_rows(results.get("scale")),
    ]


def _scale_rows(scale: dict[str, Any] | None) -> list[str]:
    """The archive CLI on each engine, end to end on one folder (model.core.archive)."""
    if not scale:
        return []
    local = scale["local_images_per_s"]
    return [
        f"| `classify --engine {engine}`{actors}, folder of {scale['scans']} scans | {value:.1f} images/s | | "
        f"{value / local:.2f}x the local engine{note} |"
        for engine, actors, value, note in (
            ("local", "", local, ""),
            ("ray", ", 1 actor", scale["ray_1_actor_images_per_s"], f"; Ray start-up {scale['ray_init_s']:.1f} s"),
            ("ray", ", 2 actors", scale["ray_2_actor_images_per_s"], f"; {scale['cores']} cores in all"),
        )
    ]


def _explain_rows(browser: dict[str, Any], memory: dict[str, Any]) -> list[str]:
    """The browser's Explain tour and the server's memory after it; a 40-megapixel upload's peak memory."""
    loaded = "TensorFlow loaded" if browser["tensorflow_loaded"] else "TensorFlow never loaded"
    reduced, unreduced = memory["reduced"], memory["unreduced"]
    return [
        f'| browser: "Explain this scan" -> first Grad-CAM visible | {browser["first_map_s"]:.1f} s | | '
        f"then adding Grad-CAM++: {browser['adding_grad_campp_s']:.1f} s, Score-CAM: "
        f"{browser['adding_score_cam_s']:.1f} s (ONNX Runtime) |",
        f"| browser: server RSS after every page and three maps | {browser['server_rss_after_tour_mib']:.0f} MiB | | "
        f"{loaded}; after classifying only: {browser['server_rss_after_classifying_mib']:.0f} MiB |",
        f"| peak RSS classifying one {memory['megapixels']}-megapixel PNG (fresh process) | "
        f"{reduced['peak_mib']:.0f} MiB | | reduced while decoding; without that: {unreduced['peak_mib']:.0f} MiB; "
        f"before the upload: {reduced['before_mib']:.0f} MiB |",
        *_volume_rows(memory.get("volume")),
    ]


def _volume_rows(volume: dict[str, Any] | None) -> list[str]:
    """A small NIfTI volume's peak, at the app's slices per call beside the batch CLI's."""
    if not volume:
        return []
    served, by_batch = str(volume["served_batch"]), volume["by_batch"]
    shown = by_batch[served]
    others = "; ".join(
        f"{b} per call: +{r['peak_mib'] - r['before_mib']:.0f} MiB" for b, r in by_batch.items() if b != served
    )
    return [
        f"| peak RSS rise classifying a {shown['file_kib']:.0f} KiB NIfTI, {shown['slices']} slices (fresh process) | "
        f"+{shown['peak_mib'] - shown['before_mib']:.0f} MiB | | {served} slices per call, as the app; {others} |"
    ]


BLOCKS: dict[str, Callable[[], dict[str, Any]]] = {
    "memory": decode_peak_rss,
    "scale": engine_timings,
    "precision": lambda: precision_block(ARTIFACT_DIR, machine_sgemm()["gflops"]),
    "smoothgrad": smoothgrad_block,
}


def rerun_block(name: str, out_json: Path, out_md: Path) -> dict[str, Any]:
    """Measures one block again and rewrites the results with it (the block records when it ran)."""
    results = json.loads(out_json.read_text())
    if name != "table":  # "table": only the markdown again, from the JSON as it is
        results[name] = {**BLOCKS[name](), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out_json.write_text(json.dumps(results, indent=2))
    out_md.write_text(markdown(results))
    return results


def main(out_json: Path, out_md: Path, sample: Path, runs: int) -> dict[str, Any]:
    results = run_benchmark(sample, runs)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(results, indent=2))
    out_md.write_text(markdown(results))
    return results
