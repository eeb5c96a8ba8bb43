"""Do the saliency maps point at the tumour? Every method the app offers, against radiologists' outlines.

Held-out scans only: the tumour scans with an outline in the validation split of the model's own
training run (Training, never trained on), and, reported apart, the Testing scans with an outline.
Each method explains the true class; the scores (`model.core.localisation`) are summarised overall, per
class and by correct / wrong prediction, with bootstrap 95 % CIs, beside two baselines that know only
where the head is. The model-randomisation check (Adebayo et al., NeurIPS 2018) explains the same scans
with the head and exit flow re-initialised: a method whose maps barely change explains the image, not
the model. Score-CAM and SmoothGrad cost 10-60 forward passes a map, so they run on a seeded
subsample of at most `max_slow_scans` scans per subset.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import keras
import numpy as np
from scipy.stats import spearmanr
from tqdm import tqdm

from model.core.architecture import BACKBONES, build_classifier, split_model
from model.core.decode import decode_file
from model.core.explain import Explainer
from model.core.localisation import (
    POINTING_TOLERANCE_AT,
    POINTING_TOLERANCE_PX,
    area_share,
    centred_gaussian_map,
    scores,
    uniform_map,
)
from model.core.maps import GRAD_CAM, GRAD_CAM_PLUS_PLUS, METHODS
from model.core.predict import Classifier
from model.core.preprocess import prepare_outline, to_model_input
from model.report.saliency_report import SALIENCY_GALLERY_DIR, TESTING, VALIDATION
from model.schema.records import SaliencyEvaluation, read, write
from training.data.listing import TEST_SPLIT, list_split
from training.data.masks import load_mask, mask_path
from training.data.split import split_training
from training.fitting.metrics import bootstrap_mean_ci

UNIFORM, GAUSSIAN = "Uniform map (baseline)", "Centred Gaussian in the head (baseline)"
BASELINES = {UNIFORM: uniform_map, GAUSSIAN: centred_gaussian_map}
FAST_METHODS = (GRAD_CAM, GRAD_CAM_PLUS_PLUS)
METRICS = ("pointing_game", "energy_share", "auprc")


@dataclass(frozen=True)
class HeldOutScan:
    subset: str
    scan: str  # path inside the dataset folder
    label: int
    path: Path


def randomised_model(model: keras.Model, card_backbone: str, seed: int = 0) -> keras.Model:
    """The same network with the exit flow and head re-initialised (fresh Keras initialisers), the rest copied."""
    keras.utils.set_random_seed(seed)
    fresh = build_classifier(model.output.shape[-1], model.input.shape[1], card_backbone)
    _, top, _ = split_model(fresh, BACKBONES[card_backbone])
    reinitialised = {id(layer) for layer in top.layers}
    for trained, new in zip(model.layers, fresh.layers):  # same architecture, same order (auto names differ)
        if id(new) not in reinitialised:
            new.set_weights(trained.get_weights())
    return fresh


def held_out_scans(data_dir: Path, masks_dir: Path, seed: int) -> list[HeldOutScan]:
    """Validation scans of the run's split, then Testing scans (when the folder exists), each only with an outline."""
    split = split_training(data_dir, seed)
    chosen = [(VALIDATION, split.samples[i]) for i in split.val_idx]
    if (Path(data_dir) / TEST_SPLIT).is_dir():
        chosen += [(TESTING, s) for s in list_split(data_dir, TEST_SPLIT)]
    return [
        HeldOutScan(subset, s.relative(data_dir), s.label, s.path)
        for subset, s in chosen
        if mask_path(masks_dir, s.relative(data_dir)).exists()
    ]


def slow_subsample(scans: Sequence[HeldOutScan], max_scans: int, seed: int) -> set[str]:
    """A seeded subsample of at most `max_scans` scans per subset, for the slow methods."""
    chosen: set[str] = set()
    for subset in (VALIDATION, TESTING):
        members = [s.scan for s in scans if s.subset == subset]
        rng = np.random.default_rng(seed)
        picked = rng.choice(len(members), size=min(max_scans, len(members)), replace=False) if members else np.zeros(0)
        chosen.update(members[int(i)] for i in np.asarray(picked, dtype=int))
    return chosen


def _method_rows(
    explainers: tuple[Explainer, Explainer | None],
    x: np.ndarray,
    label: int,
    outline: np.ndarray,
    methods: Iterable[str],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    explainer, randomised = explainers
    rows, maps = {}, {}
    for method in methods:
        explanation = explainer.explain(x, label, method)
        heatmap = maps[method] = explanation.heatmap
        rows[method] = {**scores(heatmap, outline), "scale": explanation.scale}
        if randomised is not None:
            shuffled = randomised.explain(x, label, method).heatmap
            rows[method]["spearman_vs_randomised"] = _spearman(heatmap, shuffled)
    return rows, maps


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a.ravel(), b.ravel()).statistic)


def score_scan(
    scan: HeldOutScan,
    classifier: Classifier,
    explainers: tuple[Explainer, Explainer | None],
    masks_dir: Path,
    methods: Sequence[str],
) -> tuple[dict[str, Any], np.ndarray, np.ndarray, dict[str, np.ndarray]] | None:
    """(row of scores, prepared scan, prepared outline, maps) for one held-out scan; None if the outline vanishes."""
    rgb, mask = decode_file(scan.path).rgb, load_mask(masks_dir, scan.scan)
    if mask is None:  # held-out scans are chosen for having an outline; a file removed since has none
        return None
    outline = prepare_outline(mask, rgb, classifier.card.image_size)
    if not outline.any():  # smaller than a pixel once the scan is resized to the model's input
        return None
    prepared, prediction = classifier.classify_images([rgb])[0]
    method_rows, maps = _method_rows(explainers, to_model_input(prepared), scan.label, outline, methods)
    for name, baseline in BASELINES.items():
        method_rows[name] = scores(baseline(prepared), outline)
    row = {
        "subset": scan.subset,
        "scan": scan.scan,
        "label": scan.label,
        "predicted": prediction.class_index,
        "correct": prediction.class_index == scan.label,
        "area_share": area_share(outline),
        "methods": method_rows,
    }
    return row, prepared, outline, maps


def summarise(rows: Sequence[dict[str, Any]], method: str, seed: int = 0) -> dict[str, Any]:
    """Mean and bootstrap 95 % CI of each score of `method` over the rows that have it."""
    scored = [r for r in rows if method in r["methods"]]
    summary: dict[str, Any] = {"n": len(scored)}
    if not scored:
        return summary
    for metric in (*METRICS, "spearman_vs_randomised"):
        values = np.array([r["methods"][method][metric] for r in scored if metric in r["methods"][method]])
        if len(values):
            summary[metric] = float(values.mean())
            summary[f"{metric}_ci95"] = list(bootstrap_mean_ci(values, seed=seed))
    summary["area_share"] = float(np.mean([r["area_share"] for r in scored]))
    return summary


ABSOLUTE_SCALE_PERCENTILE = 95


def absolute_scales(rows: Sequence[dict[str, Any]], methods: Sequence[str]) -> dict[str, float]:
    """Per method, the 95th percentile of the maps' own ranges on validation: the Explain page's common scale."""
    scales = {}
    for method in methods:
        values = [r["methods"][method]["scale"] for r in rows if r["subset"] == VALIDATION and method in r["methods"]]
        if values:
            scales[method] = float(np.percentile(values, ABSOLUTE_SCALE_PERCENTILE))
    return scales


def groups(rows: Sequence[dict[str, Any]], class_names: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """all, each tumour class, correct and wrong predictions."""
    out = {"all": list(rows)}
    for index, name in enumerate(class_names):
        members = [r for r in rows if r["label"] == index]
        if members:
            out[name] = members
    out["correct predictions"] = [r for r in rows if r["correct"]]
    out["wrong predictions"] = [r for r in rows if not r["correct"]]
    return out


def subset_tables(rows: Sequence[dict[str, Any]], methods: Sequence[str], class_names: Sequence[str]) -> dict:
    tables = {}
    for subset in (VALIDATION, TESTING):
        members = [r for r in rows if r["subset"] == subset]
        tables[subset] = {
            "scans": len(members),
            "groups": {
                group: {method: summarise(group_rows, method) for method in (*methods, *BASELINES)}
                for group, group_rows in groups(members, class_names).items()
            },
        }
    return tables


GALLERY_PER_KIND = 3


def _gallery(
    rows: Sequence[dict[str, Any]],
    scans: dict[str, HeldOutScan],
    classifier: Classifier,
    explainer: Explainer,
    masks_dir: Path,
    out_dir: Path,
) -> list[dict[str, Any]]:
    """Best and worst validation scans by Grad-CAM's energy share, among those every method explained."""
    from model.report.figures import saliency_strip

    complete = [r for r in rows if r["subset"] == VALIDATION and all(m in r["methods"] for m in METHODS)]
    ranked = sorted(complete, key=lambda r: r["methods"][GRAD_CAM]["energy_share"])
    chosen = [("best", r) for r in ranked[::-1][:GALLERY_PER_KIND]] + [("worst", r) for r in ranked[:GALLERY_PER_KIND]]
    (out_dir / SALIENCY_GALLERY_DIR).mkdir(parents=True, exist_ok=True)
    gallery = []
    for rank, (kind, row) in enumerate(chosen):
        scored = score_scan(scans[row["scan"]], classifier, (explainer, None), masks_dir, METHODS)
        if scored is None:
            continue
        _, prepared, outline, maps = scored
        file = f"{SALIENCY_GALLERY_DIR}/{kind}_{rank % GALLERY_PER_KIND + 1}.png"
        saliency_strip(prepared, outline, maps).savefig(out_dir / file, dpi=80)
        shares = {m: row["methods"][m]["energy_share"] for m in METHODS}
        gallery.append({"kind": kind, "scan": row["scan"], "label": row["label"], "file": file, "shares": shares})
    return gallery


def redraw_gallery(data_dir: Path, masks_dir: Path, artifact_dir: Path, out: Path) -> SaliencyEvaluation:
    """Draws the best and worst cases of a committed saliency evaluation again (its scores are kept as they are)."""
    record = read(SaliencyEvaluation, out)
    classifier = Classifier.from_artifact(artifact_dir)
    scans = {s.scan: s for s in held_out_scans(data_dir, masks_dir, classifier.card.settings().seed)}
    rows = [dataclasses.asdict(row) for row in record.scans]  # as a fresh run holds them
    gallery = _gallery(rows, scans, classifier, Explainer(classifier), masks_dir, out.parent)
    kept = {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name != "schema_version"}
    return write(SaliencyEvaluation, out, {**kept, "gallery": gallery}, indent=1)


def evaluate_saliency(
    data_dir: Path,
    masks_dir: Path,
    artifact_dir: Path,
    out: Path,
    methods: Sequence[str] = METHODS,
    max_slow_scans: int = 60,
    sanity: bool = True,
    seed: int = 0,
) -> SaliencyEvaluation:
    """Scores every method on every held-out outlined scan and writes `out` (+ a gallery beside it)."""
    started = time.time()
    classifier = Classifier.from_artifact(artifact_dir)
    card = classifier.card
    explainer = Explainer(classifier)
    randomised = None
    if sanity:
        randomised = Explainer(Classifier(randomised_model(classifier.model, card.backbone, seed), card))
    scans = held_out_scans(data_dir, masks_dir, card.settings().seed)
    slow = slow_subsample(scans, max_slow_scans, seed)
    rows, too_small = [], []
    for scan in tqdm(scans, desc="saliency vs outlines", unit="scan"):
        chosen = [m for m in methods if m in FAST_METHODS or scan.scan in slow]
        scored = score_scan(scan, classifier, (explainer, randomised), masks_dir, chosen)
        if scored is None:
            too_small.append(scan.scan)
        else:
            rows.append(scored[0])
    report: dict[str, Any] = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "artifact_sha256": card.weights_sha256,
        "candidate": card.candidate,
        "class_names": card.class_names,
        "methods": list(methods),
        "baselines": list(BASELINES),
        "target": "the true class",
        "pointing_tolerance": f"{POINTING_TOLERANCE_PX} px at {POINTING_TOLERANCE_AT} px",
        "slow_methods_subsample": {"max_scans_per_subset": max_slow_scans, "seed": seed},
        "sanity_check": "exit flow and head re-initialised" if sanity else None,
        "skipped_outline_too_small": too_small,
        "tables": subset_tables(rows, methods, card.class_names),
        "absolute_scales": absolute_scales(rows, methods),
        "scans": rows,
    }
    if set(METHODS) <= set(methods):
        by_name = {s.scan: s for s in scans}
        report["gallery"] = _gallery(rows, by_name, classifier, explainer, masks_dir, out.parent)
    report["wall_s"] = time.time() - started
    return write(SaliencyEvaluation, out, report, indent=1)
