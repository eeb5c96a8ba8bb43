"""`python -m training precision`: may a low-precision forward pass serve in float32's place?

Two candidates, each built from the committed ONNX export: int8 static quantisation by ONNX Runtime's quantiser
(QDQ, per-channel int8 weights, uint8 activations, MinMax ranges calibrated on validation scans only), and OpenVINO
compiling the same file with bfloat16 inference precision (where the CPU has AVX512-BF16 or AMX). Each runs the
app's whole path (the guard and the scan-type recogniser read the same forward pass) on every validation scan of
the shipped run and every Testing scan, beside float32 ONNX Runtime, and is compared with it: the class, the
calibrated probabilities, the 95 % set and the referral (the committed trust layer), and Grad-CAM's map. A
candidate would serve only if every bound of `BOUNDS` holds; otherwise the app keeps float32, which is what the
evaluation figures describe.
"""

from __future__ import annotations

import copy
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import numpy as np
from tqdm import tqdm

from model.core.batch import batches, loaded_scans
from model.core.cam import grad_cam
from model.core.onnx_forward import FROZEN, INPUT_NAME, LAST_CONV, LOGITS, OnnxForward, available_cores
from model.core.predict import BATCH, Classifier
from model.core.trust import Trust, committed_trust
from model.schema.records import DifferingScan, PrecisionAgreement, PrecisionEvaluation, write
from training.data.listing import TEST_SPLIT, list_split, recorded_path
from training.data.split import split_of
from training.fitting.artifact import machine_info

FLOAT32, INT8, BF16 = "float32", "int8", "bf16"
BOUNDS = {  # the issue's: what "the same answers" means
    "min_class_agreement": 0.995,
    "max_probability_difference": 0.01,
    "min_set_agreement": 0.99,
    "min_referral_agreement": 0.99,
    "min_grad_cam_correlation": 0.99,
}
CALIBRATION_SCANS = 96  # validation scans (and their mirror images) that set int8's activation ranges
CALIBRATION_BATCH = 8
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
SHOWN_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


class Forward(Protocol):
    @property
    def has_last_conv(self) -> bool: ...

    def __call__(self, batch: np.ndarray, outputs: tuple[str, ...] = ...) -> dict[str, np.ndarray]: ...


def cpu_flags() -> list[str]:
    """The instruction-set extensions that decide which low precision the CPU runs fast."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return [flag for flag in SHOWN_FLAGS if flag in flags]


class OpenVinoForward:
    """The ONNX export compiled by OpenVINO at an inference precision, called like `OnnxForward` (evaluation and
    benchmark only: the app never serves it)."""

    has_last_conv = True

    def __init__(self, path: Path, precision: str, threads: int | None = None):
        import openvino as ov

        core = ov.Core()
        config = {
            "INFERENCE_PRECISION_HINT": precision,
            "INFERENCE_NUM_THREADS": threads or available_cores(),
            "PERFORMANCE_HINT": "LATENCY",
        }
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self.names = {output.get_any_name() for output in self.compiled.outputs}

    def __call__(self, batch: np.ndarray, outputs: tuple[str, ...] = (FROZEN, LOGITS)) -> dict[str, np.ndarray]:
        found = self.compiled({0: np.ascontiguousarray(batch, np.float32)})
        return {name: np.asarray(found[self.compiled.output(name)]) for name in outputs if name in self.names}


def quantised_int8(source: Path, calibration: np.ndarray, folder: Path) -> Path:
    """The export quantised to int8 (QDQ) with activation ranges from `calibration` and its mirror images (the app
    classifies both when it averages over the flip)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            chunks = [calibration[i : i + CALIBRATION_BATCH] for i in range(0, len(calibration), CALIBRATION_BATCH)]
            self.feeds = iter({INPUT_NAME: np.concatenate([c, c[:, :, ::-1]])} for c in chunks)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    prepared, target = folder / "prepared.onnx", folder / "int8.onnx"
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(target),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )
    return target


def low_precision_forwards(
    classifier: Classifier, calibration: np.ndarray, folder: Path
) -> dict[str, tuple[str, Forward | str]]:
    """precision -> (engine, its forward pass, or why it cannot run on this machine)."""
    assert classifier.onnx is not None, "the artifact has no ONNX export (python -m training export)"
    source = classifier.onnx.path
    found: dict[str, tuple[str, Forward | str]] = {
        INT8: ("ONNX Runtime static quantisation", OnnxForward(quantised_int8(source, calibration, folder)))
    }
    try:
        import openvino  # noqa: F401 - a dev dependency, measured where installed
    except ImportError:
        found[BF16] = ("OpenVINO", "openvino is not installed")
    else:
        ready = any(flag in cpu_flags() for flag in BF16_FLAGS)
        found[BF16] = ("OpenVINO", OpenVinoForward(source, BF16) if ready else "the CPU has no bfloat16 instructions")
    return found


def with_forward(classifier: Classifier, forward: Forward) -> Classifier:
    """The same classifier (weights, guard, scan-type recogniser, temperature) on another forward pass."""
    other = copy.copy(classifier)
    other.onnx = forward  # type: ignore[assignment]
    return other


@dataclass
class Agreement:
    """Scan by scan, how one low-precision forward pass compares with float32."""

    same_class: list[bool] = field(default_factory=list)
    probability_difference: list[float] = field(default_factory=list)
    same_set: list[bool] = field(default_factory=list)
    same_referral: list[bool] = field(default_factory=list)
    cam_correlation: list[float] = field(default_factory=list)
    differing: list[DifferingScan] = field(default_factory=list)

    def summary(self, precision: str, engine: str) -> PrecisionAgreement:
        """The figures over every scan, and whether they allow this precision to serve."""
        correlations = np.array(self.cam_correlation)
        figures = {
            "min_class_agreement": float(np.mean(self.same_class)),
            "max_probability_difference": float(np.max(self.probability_difference)),
            "min_set_agreement": float(np.mean(self.same_set)),
            "min_referral_agreement": float(np.mean(self.same_referral)),
            "min_grad_cam_correlation": float(correlations.min()),
        }
        return PrecisionAgreement(
            precision=precision,
            engine=engine,
            available=True,
            why_not="",
            scans=len(self.same_class),
            class_agreement=figures["min_class_agreement"],
            max_probability_difference=figures["max_probability_difference"],
            set_agreement=figures["min_set_agreement"],
            referral_agreement=figures["min_referral_agreement"],
            min_grad_cam_correlation=figures["min_grad_cam_correlation"],
            share_grad_cam_correlation_over_bound=float((correlations >= BOUNDS["min_grad_cam_correlation"]).mean()),
            serves=meets_bounds(figures),
            differing=self.differing,
        )


def meets_bounds(figures: dict[str, float]) -> bool:
    """Every bound of `BOUNDS`: the agreements at least their minimum, the probability difference at most its
    maximum (over every scan and class), Grad-CAM's least correlated map at least its minimum."""
    return all(
        figures[name] <= bound if name.startswith("max_") else figures[name] >= bound for name, bound in BOUNDS.items()
    )


def scan_batches(paths: Sequence[Path], size: int) -> Iterator[tuple[list[Path], np.ndarray]]:
    """The readable scans in batches: their files and their model inputs."""
    readable = (item for item in loaded_scans(paths, size) if item.model_input is not None)
    for chunk in batches(readable, BATCH):
        yield [item.file for item in chunk], np.stack([np.asarray(item.model_input) for item in chunk])


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r of two maps; two flat maps that are equal agree fully."""
    if a.std() == 0 or b.std() == 0:
        return 1.0 if np.allclose(a, b) else 0.0
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def compare_batch(
    reference: Classifier, forward: Forward, x: np.ndarray, trust: Trust | None, files: list[Path], split: str
) -> Agreement:
    """One batch through float32 and through `forward`, scan by scan."""
    assert reference.onnx is not None
    ours, theirs = reference.predict_inputs(x), with_forward(reference, forward).predict_inputs(x)
    conv_ours, conv_theirs = reference.onnx(x, (LAST_CONV,))[LAST_CONV], forward(x, (LAST_CONV,))[LAST_CONV]
    head, found = reference.dense_head(), Agreement()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        decided = [trust.decide(p.probabilities, p.scan_type, p.out_of_distribution) for p in (a, b)] if trust else []
        same_set = not decided or decided[0].members == decided[1].members
        same_referral = not decided or decided[0].referred == decided[1].referred
        difference = float(np.abs(a.probabilities - b.probabilities).max())
        found.same_class.append(a.class_index == b.class_index)
        found.probability_difference.append(difference)
        found.same_set.append(same_set)
        found.same_referral.append(same_referral)
        cams = [grad_cam(conv[i], head, a.class_index) for conv in (conv_ours, conv_theirs)]
        found.cam_correlation.append(correlation(*cams))
        if a.class_index != b.class_index or difference > BOUNDS["max_probability_difference"] or not same_set:
            found.differing.append(
                DifferingScan(
                    recorded_path(files[i]), split, a.class_name, b.class_name, difference, same_set, same_referral
                )
            )
    return found


def merged(found: Agreement, more: Agreement) -> None:
    for name in ("same_class", "probability_difference", "same_set", "same_referral", "cam_correlation", "differing"):
        getattr(found, name).extend(getattr(more, name))


def agreements(
    reference: Classifier, forwards: dict[str, Forward], splits: dict[str, list[Path]], trust: Trust | None
) -> tuple[dict[str, Agreement], dict[str, int]]:
    """Every low-precision forward pass against float32 on every readable scan of every split."""
    found = {name: Agreement() for name in forwards}
    counted = dict.fromkeys(splits, 0)
    for split, paths in splits.items():
        total = -(-len(paths) // BATCH)
        for files, x in tqdm(scan_batches(paths, reference.card.image_size), total=total, desc=split, unit="batch"):
            counted[split] += len(files)
            for name, forward in forwards.items():
                merged(found[name], compare_batch(reference, forward, x, trust, files, split))
    return found, counted


def calibration_inputs(paths: Sequence[Path], size: int, seed: int) -> np.ndarray:
    """CALIBRATION_SCANS validation scans, drawn with the run's seed."""
    picked = np.random.default_rng(seed).choice(len(paths), min(CALIBRATION_SCANS, len(paths)), replace=False)
    return np.concatenate([x for _, x in scan_batches([paths[i] for i in sorted(picked)], size)])


def evaluate_precision(
    data_dir: Path, artifact_dir: Path, out: Path, extra_data_dirs: Sequence[Path] = ()
) -> PrecisionEvaluation:
    """int8 and bf16 against float32 on every validation and Testing scan; writes `out`."""
    started = time.time()
    reference = Classifier.from_artifact(artifact_dir)
    card = reference.card
    split = split_of(card, data_dir, extra_data_dirs)
    splits = {
        "validation": [split.samples[i].path for i in split.val_idx],
        TEST_SPLIT: [s.path for s in list_split(data_dir, TEST_SPLIT, card.class_dirs)],
    }
    calibration = calibration_inputs(splits["validation"], card.image_size, card.settings().seed)
    with tempfile.TemporaryDirectory() as folder:
        candidates = low_precision_forwards(reference, calibration, Path(folder))
        ready = {name: f for name, (_, f) in candidates.items() if not isinstance(f, str)}
        found, counted = agreements(reference, ready, splits, committed_trust(artifact_dir, card))
    results = {
        name: found[name].summary(name, engine) if name in found else unavailable(name, engine, str(why))
        for name, (engine, why) in candidates.items()
    }
    return write(
        PrecisionEvaluation,
        out,
        {
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "artifact_sha256": card.weights_sha256,
            "cpu": machine_info()["cpu"],
            "cpu_flags": cpu_flags(),
            "bounds": BOUNDS,
            "scans": counted,
            "calibration_scans": len(calibration),
            "results": results,
            "served": FLOAT32,  # the app has one forward pass: a precision within every bound would still wait for one
            "wall_s": time.time() - started,
        },
    )


def unavailable(precision: str, engine: str, why: str) -> PrecisionAgreement:
    return PrecisionAgreement(precision, engine, False, why, 0, None, None, None, None, None, None, False, [])
