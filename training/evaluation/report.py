"""`python -m training report`: every figure of the Evaluation page and the README's results, in one command.

Runs, in order and each with its own progress bar: the scan-type recogniser
(fitted on the run's split; the evaluation and the sets use it), the Testing evaluation
(per class, one-vs-rest curves, leakage-clean subset, misclassified gallery),
the prediction sets and referral threshold (fitted on validation), the
robustness check, the not-an-MRI guard's measurement, then regenerates the
README. The saliency check (`python -m training saliency`) and the audit are
left out: they change only when the outlines or the dataset do.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from model.schema.card import (
    EVALUATION_FILE,
    GALLERY_DIR,
    OOD_EVALUATION_FILE,
    ROBUSTNESS_FILE,
    SCAN_TYPE_EVALUATION_FILE,
    TRUST_FILE,
)

log = logging.getLogger(__name__)


def _steps(data_dir: Path, masks_dir: Path | None, artifact_dir: Path) -> dict[str, Callable[[], object]]:
    from training.evaluation.evaluate import evaluate
    from training.evaluation.ood_eval import evaluate_guard
    from training.evaluation.readme import update
    from training.evaluation.robustness import evaluate_robustness
    from training.fitting.scan_type import fit_scan_type
    from training.fitting.trust import evaluate_trust

    evaluation = artifact_dir / EVALUATION_FILE
    return {
        "scan-type": lambda: fit_scan_type(artifact_dir, data_dir, artifact_dir / SCAN_TYPE_EVALUATION_FILE),
        "evaluate": lambda: evaluate(
            data_dir, "Testing", artifact_dir, evaluation, artifact_dir / GALLERY_DIR, masks_dir=masks_dir
        ),
        "trust": lambda: evaluate_trust(data_dir, artifact_dir, artifact_dir / TRUST_FILE),
        "robustness": lambda: evaluate_robustness(data_dir, artifact_dir, artifact_dir / ROBUSTNESS_FILE),
        "ood": lambda: evaluate_guard(data_dir, "Testing", artifact_dir, artifact_dir / OOD_EVALUATION_FILE),
        "readme": update,
    }


def report(data_dir: Path, masks_dir: Path | None, artifact_dir: Path) -> dict[str, float]:
    """Runs every step; returns each step's wall time in seconds (and the total)."""
    timings: dict[str, float] = {}
    started = time.time()
    for name, step in _steps(data_dir, masks_dir, artifact_dir).items():
        tick = time.time()
        log.info("%s…", name)
        step()
        timings[name] = time.time() - tick
        log.info("%s done in %.0f s", name, timings[name])
    timings["total"] = time.time() - started
    return timings
