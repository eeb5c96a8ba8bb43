"""Two-stage transfer learning on cached activations of the frozen Xception layers.

1. Split Training into train/validation (stratified, duplicate groups kept together).
2. Run the frozen bottom (entry + middle flow) once per image and view: clean,
   mirrored and augmented views, cached on disk.
3. Stage 1: a new head on the pooled features of the pretrained top.
4. Stage 2: fine-tune the exit flow (blocks 13-14) and the head at a low learning
   rate, one random view per image per epoch, early stopping on validation.
5. Average the weights of the last epochs (stochastic weight averaging, Izmailov
   et al. 2018) and keep, as the end of stage 2, whichever of the best checkpoint
   and the tail averages has the lowest validation loss.
6. Interpolate between the stage-1 weights and that end (WiSE-FT, Wortsman et al.
   2022) and keep the mix with the lowest validation loss; fit the temperature,
   decide flip test-time augmentation and fit the OOD guard, all on validation.

Validation is scored on every cached view of each validation image (clean,
mirrored and the augmented ones), not only the clean one: Training's
validation images share Training's source, so the intensity and framing
augmentations are the only stand-in it has for the other sources the model
will meet. Testing is never read here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from model.architecture import (
    BACKBONES,
    LOGITS_LAYER,
    assign_weights,
    backbone_weights,
    build_classifier,
    cam_top,
    split_model,
)
from model.backbone import cache_dir, imagenet_xception_weights
from model.card import ARTIFACT_DIR, CLASS_DIRS, CLASS_LABELS
from model.ood import OODDetector
from model.predict import calibrated_probabilities
from model.preprocess import __doc__ as PREPROCESSING_DOC
from training.artifact import machine_info, write_artifact
from training.attention import OutlineGuided, outline_rows
from training.augment import AugmentConfig
from training.calibrate import fit_temperature, nll
from training.data import TRAIN_SPLIT, fingerprint
from training.duplicates import NEAR_DUPLICATE_DISTANCE
from training.export import export_artifact
from training.features import CLEAN_VIEW, FLIPPED_VIEW, cached_bottom_activations
from training.metrics import classification_report
from training.split import TrainingSplit, split_training

log = logging.getLogger(__name__)

PREPROCESSING_VERSION = "headcrop-stretch-gray3-v1"
# Stage-2 weights averaged over the last k epochs run, for each k here that is not longer than the run.
AVERAGING_WINDOWS = (2, 4, 8, 16, 32)
DATASET_SOURCE = "Bhuvaji et al., Brain Tumor Classification (MRI), Kaggle 2020, doi:10.34740/KAGGLE/DSV/1183165"


@dataclass
class TrainConfig:
    data_dir: Path
    out_dir: Path = ARTIFACT_DIR
    run_dir: Path | None = None
    backbone: str = "xception"
    image_size: int = 299
    views: int = 5
    seed: int = 42
    batch_size: int = 32
    label_smoothing: float = 0.0  # mixup already softens the targets
    dropout: float = 0.3
    interpolation_steps: int = 10  # WiSE-FT mixes tried: alpha = 0, 1/steps, ..., 1
    head_epochs: int = 60
    head_learning_rate: float = 1e-3
    finetune_epochs: int = 30
    finetune_learning_rate: float = 1e-4
    patience: int = 3
    mixup: float = 0.4  # Beta parameter of stage-2 manifold mixup; 0 turns it off
    attention_weight: float = 0.0  # stage-2 outline-guided attention term (training/attention.py); 0 turns it off
    masks_dir: Path | None = None  # expert outlines (training/masks.py); needed when attention_weight > 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            data_dir=str(self.data_dir),
            out_dir=str(self.out_dir),
            run_dir=str(self.run_dir),
            masks_dir=None if self.masks_dir is None else str(self.masks_dir),
        )
        return data


class CachedRows(keras.utils.PyDataset):
    """Batches of cached activations.

    With a seed: per epoch, one randomly chosen view of each image (training), and with
    `mixup` > 0 each batch mixed with a shuffled copy of itself (manifold mixup, Verma et
    al. 2019: activations, targets and weights, mixing weights drawn from Beta(mixup, mixup)).
    Without: every view in `view_choices` of every image, in a fixed order (validation).
    With `outlines` (outline grids and has-outline flags per cached row), the inputs are
    (activations, outlines, flags) for `OutlineGuided`; a mixed pair keeps the union of the two outlines
    and an outline only when both partners have one.
    """

    def __init__(
        self,
        cache: np.ndarray,
        images: np.ndarray,
        labels: np.ndarray,
        views: int,
        batch_size: int,
        num_classes: int,
        class_weights: np.ndarray | None = None,
        seed: int | None = None,
        view_choices: tuple[int, ...] = (CLEAN_VIEW,),
        mixup: float = 0.0,
        outlines: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        super().__init__()
        self.cache, self.images, self.labels, self.views = cache, images, labels, views
        self.outlines = outlines
        self.batch_size, self.num_classes, self.class_weights = batch_size, num_classes, class_weights
        self.rng = np.random.default_rng(seed) if seed is not None else None
        self.seed, self.mixup, self.epoch = seed, mixup, 0
        self.view_choices = np.array(view_choices)
        self._draw()

    def _draw(self) -> None:
        if self.rng is None:
            self.rows = (self.images[:, None] * self.views + self.view_choices[None, :]).ravel()
            self.row_labels = np.repeat(self.labels, len(self.view_choices))
            return
        order = self.rng.permutation(len(self.images))
        views = self.rng.choice(self.view_choices, size=len(order))
        self.rows = self.images[order] * self.views + views
        self.row_labels = self.labels[order]

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / self.batch_size)

    def __getitem__(self, index: int):
        chunk = slice(index * self.batch_size, (index + 1) * self.batch_size)
        rows, labels = self.rows[chunk], self.row_labels[chunk]
        inputs = np.asarray(self.cache[np.sort(rows)], dtype=np.float32)[np.argsort(np.argsort(rows))]
        targets = keras.utils.to_categorical(labels, self.num_classes)
        weights = None if self.class_weights is None else self.class_weights[labels]
        outlines = None if self.outlines is None else (self.outlines[0][rows], self.outlines[1][rows])
        if self.rng is not None and self.mixup > 0:
            inputs, targets, weights, outlines = self._mix(index, inputs, targets, weights, outlines)
        if outlines is not None:
            inputs = (inputs, *outlines)
        return (inputs, targets) if weights is None else (inputs, targets, weights)

    def _mix(
        self,
        index: int,
        inputs: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray | None,
        outlines: tuple[np.ndarray, np.ndarray] | None,
    ):
        # A generator per batch and epoch: the same mix whatever order Keras fetches batches in.
        rng = np.random.default_rng([self.seed, self.epoch, index])
        lam = rng.beta(self.mixup, self.mixup, size=len(inputs)).astype(np.float32)
        partner = rng.permutation(len(inputs))

        def mix(values: np.ndarray) -> np.ndarray:
            shape = (-1,) + (1,) * (values.ndim - 1)
            return lam.reshape(shape) * values + (1 - lam.reshape(shape)) * values[partner]

        if outlines is not None:
            grids, flags = outlines
            outlines = (np.maximum(grids, grids[partner]), flags & flags[partner])
        return mix(inputs), mix(targets), None if weights is None else mix(weights), outlines

    def on_epoch_end(self) -> None:
        if self.rng is not None:
            self.epoch += 1
            self._draw()


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    return (len(labels) / (num_classes * np.maximum(counts, 1))).astype(np.float32)


def predict_rows(model: keras.Model, cache: np.ndarray, rows: np.ndarray, batch_size: int) -> np.ndarray:
    outputs = []
    for start in range(0, len(rows), batch_size * 4):
        chunk = rows[start : start + batch_size * 4]
        outputs.append(np.asarray(model(np.asarray(cache[chunk], dtype=np.float32), training=False)))
    return np.concatenate(outputs)


def all_view_rows(images: np.ndarray, views: int) -> np.ndarray:
    return (images[:, None] * views + np.arange(views)[None, :]).ravel()


def validation_scores(logits: np.ndarray, labels: np.ndarray, views: int) -> dict[str, float]:
    """Scores of the logits of every cached view (rows image-major, as `all_view_rows` orders them)."""
    logits64 = np.asarray(logits, dtype=np.float64)
    labels_all = np.repeat(labels, views)
    clean = logits64.reshape(len(labels), views, -1)[:, CLEAN_VIEW]
    # Recorded, not used to choose: the loss after a temperature fitted to these same logits, which does not
    # charge a candidate for a miscalibration that the temperature fitted later removes anyway.
    return {
        "nll_all_views": nll(logits64, labels_all, 1.0),
        "nll_all_views_at_fitted_temperature": nll(logits64, labels_all, fit_temperature(logits64, labels_all)),
        "accuracy_all_views": float((logits64.argmax(1) == labels_all).mean()),
        "accuracy_clean": float((clean.argmax(1) == labels).mean()),
    }


def interpolate(start: list[np.ndarray], end: list[np.ndarray], alpha: float) -> list[np.ndarray]:
    """WiSE-FT: (1 - alpha) * start + alpha * end, weight by weight."""
    return [(1 - alpha) * a + alpha * b for a, b in zip(start, end)]


def average(weights: list[list[np.ndarray]]) -> list[np.ndarray]:
    return [np.mean(np.stack(arrays), axis=0) for arrays in zip(*weights)]


class EpochWeights(keras.callbacks.Callback):
    """Keeps a copy of `model`'s weights after every epoch, for weight averaging."""

    def __init__(self, model: keras.Model):
        super().__init__()
        self.watched = model
        self.epochs: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epochs.append([np.array(w) for w in self.watched.get_weights()])


def training_outlines(config: TrainConfig, split: TrainingSplit, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Outline grids and flags of every cached row of the training images (validation rows stay empty)."""
    if config.masks_dir is None:
        raise ValueError("--attention-weight needs --masks-dir, the expert outlines folder")
    paths = [s.path for s in split.samples]
    scans = [s.relative(config.data_dir) for s in split.samples]
    return outline_rows(
        paths, scans, split.train_idx, config.masks_dir, config.views, grid, config.seed, config.augment
    )


def _cache_key(config: TrainConfig, dataset_fingerprint: str) -> str:
    parts = [
        dataset_fingerprint,
        config.backbone,
        str(config.image_size),
        str(config.views),
        str(config.seed),
        PREPROCESSING_VERSION,
        json.dumps(config.augment.as_dict(), sort_keys=True),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def frozen_cache_path(config: TrainConfig, dataset_fingerprint: str) -> Path:
    return cache_dir() / "features" / f"{_cache_key(config, dataset_fingerprint)}.npy"


def initial_model(config: TrainConfig) -> keras.Model:
    model = build_classifier(len(CLASS_DIRS), config.image_size, config.backbone, config.dropout)
    if config.backbone == "xception":
        assign_weights(backbone_weights(model), imagenet_xception_weights())
    return model


def distribution_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over all GPUs when there are several, else the default one-device strategy."""
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _loss(config: TrainConfig) -> keras.losses.Loss:
    return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing)


def _history(fit: keras.callbacks.History) -> dict[str, list[float]]:
    return {key: [float(v) for v in values] for key, values in fit.history.items()}


def train(config: TrainConfig) -> dict[str, Any]:
    started = time.time()
    timings: dict[str, float] = {}
    keras.utils.set_random_seed(config.seed)
    run_dir = config.run_dir or Path("runs") / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = BACKBONES[config.backbone]
    num_classes = len(CLASS_DIRS)

    tick = time.time()
    split = split_training(config.data_dir, config.seed)
    samples, labels, groups = split.samples, split.labels, split.groups
    train_idx, val_idx = split.train_idx, split.val_idx
    paths = [s.path for s in samples]
    dataset_fingerprint = fingerprint(samples, config.data_dir)
    timings["hash_and_split_s"] = time.time() - tick
    log.info("train %d / validation %d images, %d duplicate groups", len(train_idx), len(val_idx), groups.max() + 1)

    strategy = distribution_strategy()
    with strategy.scope():
        model = initial_model(config)
    bottom, top, pooled = split_model(model, spec)
    tick = time.time()
    cache_path = frozen_cache_path(config, dataset_fingerprint)
    cache, computed = cached_bottom_activations(
        bottom, paths, config.views, config.image_size, config.seed, cache_path, config.augment
    )
    timings["cache_frozen_layers_s"] = time.time() - tick
    timings["cache_images_computed"] = computed
    y_val = labels[val_idx]
    val_clean_rows = val_idx * config.views + CLEAN_VIEW
    val_flip_rows = val_idx * config.views + FLIPPED_VIEW
    class_weights = balanced_class_weights(labels[train_idx], num_classes)

    # Stage 1: the head alone, on pooled features of every cached view.
    tick = time.time()
    train_rows = all_view_rows(train_idx, config.views)
    train_features = predict_rows(pooled, cache, train_rows, config.batch_size)
    val_features = predict_rows(pooled, cache, val_clean_rows, config.batch_size)
    with strategy.scope():
        feature_input = keras.Input(train_features.shape[1:])
        head = keras.Model(feature_input, model.get_layer(LOGITS_LAYER)(model.get_layer("head_dropout")(feature_input)))
        head.compile(keras.optimizers.Adam(config.head_learning_rate), loss=_loss(config), metrics=["accuracy"])
    stage1_fit = head.fit(
        train_features,
        keras.utils.to_categorical(np.repeat(labels[train_idx], config.views), num_classes),
        sample_weight=class_weights[np.repeat(labels[train_idx], config.views)],
        validation_data=(val_features, keras.utils.to_categorical(y_val, num_classes)),
        epochs=config.head_epochs,
        batch_size=config.batch_size * 2,
        callbacks=[keras.callbacks.EarlyStopping("val_loss", patience=config.patience * 2, restore_best_weights=True)],
        verbose=2,
    )
    timings["stage1_head_s"] = time.time() - tick
    timings["stage1_images_per_s"] = len(train_rows) / max(timings["stage1_head_s"], 1e-9)
    stage1_weights = [np.array(w) for w in top.get_weights()]

    # Stage 2: fine-tune the exit flow with BatchNorm statistics frozen, with the attention term when asked.
    outlines = None
    if config.attention_weight > 0:
        tick = time.time()
        outlines = training_outlines(config, split, top.get_layer(spec.last_conv_layer).output.shape[1])
        timings["outline_views_s"] = time.time() - tick
    tick = time.time()
    for layer in top.layers:
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    with strategy.scope():
        trainer = top if outlines is None else OutlineGuided(top, cam_top(model, spec), config.attention_weight)
        trainer.compile(keras.optimizers.Adam(config.finetune_learning_rate), loss=_loss(config), metrics=["accuracy"])
    checkpoint = run_dir / "finetune_best.weights.h5"
    epoch_weights = EpochWeights(top)
    train_data = CachedRows(
        cache,
        train_idx,
        labels[train_idx],
        config.views,
        config.batch_size,
        num_classes,
        class_weights,
        seed=config.seed,
        view_choices=tuple(range(config.views)),
        mixup=config.mixup,
        outlines=outlines,
    )
    val_data = CachedRows(
        cache, val_idx, y_val, config.views, config.batch_size, num_classes, view_choices=tuple(range(config.views))
    )
    stage2_fit = trainer.fit(
        train_data,
        validation_data=val_data,
        epochs=config.finetune_epochs,
        callbacks=[
            keras.callbacks.ModelCheckpoint(
                checkpoint, monitor="val_loss", save_best_only=True, save_weights_only=True
            ),
            keras.callbacks.EarlyStopping("val_loss", patience=config.patience),
            keras.callbacks.CSVLogger(run_dir / "finetune_log.csv"),
            epoch_weights,
        ],
        verbose=2,
    )
    trainer.load_weights(checkpoint)
    timings["stage2_finetune_s"] = time.time() - tick
    timings["stage2_images_per_s"] = len(stage2_fit.epoch) * len(train_idx) / max(timings["stage2_finetune_s"], 1e-9)
    stage2_weights = [np.array(w) for w in top.get_weights()]

    # The end of stage 2: the best checkpoint or a tail average of the epochs, then the weight interpolation
    # between the two stages, all scored on every validation view.
    tick = time.time()
    val_all_rows = all_view_rows(val_idx, config.views)

    def score(weights: list[np.ndarray]) -> dict[str, float]:
        top.set_weights(weights)
        return validation_scores(predict_rows(top, cache, val_all_rows, config.batch_size), y_val, config.views)

    epochs_run = len(epoch_weights.epochs)
    ends = {"best checkpoint": stage2_weights}
    for window in (w for w in AVERAGING_WINDOWS if w <= epochs_run):
        ends[f"average of the last {window} epochs"] = average(epoch_weights.epochs[-window:])
    averaging = [{"weights": name, **score(weights)} for name, weights in ends.items()]
    for row in averaging:
        log.info("stage-2 end %s", row)
    end_row = min(averaging, key=lambda row: row["nll_all_views"])
    end_weights = ends[end_row["weights"]]
    epoch_weights.epochs.clear()
    averaged = end_row["weights"] != "best checkpoint"
    interpolation = []
    for step in range(config.interpolation_steps + 1):
        alpha = step / config.interpolation_steps
        interpolation.append({"alpha": alpha, **score(interpolate(stage1_weights, end_weights, alpha))})
        log.info("alpha %.2f: %s", alpha, interpolation[-1])
    timings["interpolation_s"] = time.time() - tick
    best = min(interpolation, key=lambda row: (row["nll_all_views"], -row["alpha"]))
    end_name = "epoch_averaged" if averaged else "finetuned_exit_flow"
    selected = {0.0: "frozen_backbone_head", 1.0: end_name}.get(best["alpha"], "weight_interpolated")
    # Validation loss and accuracy of every candidate saved under run_dir/candidates.
    candidate_scores = {"frozen_backbone_head": interpolation[0], "finetuned_exit_flow": averaging[0]}
    if averaged:
        candidate_scores["epoch_averaged"] = end_row
    candidate_scores[selected] = best
    candidates = {name: row["accuracy_clean"] for name, row in candidate_scores.items()}
    log.info("selected %s (%s, alpha %.2f)", selected, end_row["weights"], best["alpha"])
    selected_weights = interpolate(stage1_weights, end_weights, best["alpha"])

    def finish(weights: list[np.ndarray], name: str, out_dir: Path, with_ood: bool) -> dict[str, Any]:
        top.set_weights(weights)
        clean = predict_rows(top, cache, val_clean_rows, config.batch_size)
        flipped = predict_rows(top, cache, val_flip_rows, config.batch_size)
        averaged = (clean + flipped) / 2
        tta = float((averaged.argmax(1) == y_val).mean()) > float((clean.argmax(1) == y_val).mean()) + 0.005
        logits = averaged if tta else clean
        temperature = fit_temperature(logits, y_val)
        probabilities = calibrated_probabilities(logits, temperature)
        ood = None
        if with_ood:
            train_clean_rows = train_idx * config.views + CLEAN_VIEW
            ood = OODDetector.fit(
                predict_rows(pooled, cache, train_clean_rows, config.batch_size),
                labels[train_idx],
                predict_rows(pooled, cache, val_clean_rows, config.batch_size),
            )
        class_names = [CLASS_LABELS[c] for c in CLASS_DIRS]
        card = {
            "name": "Brain-MRI tumour classifier (Xception transfer learning)",
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "candidate": name,
            "notice": "Research and teaching demo. Not a medical device.",
            "class_dirs": list(CLASS_DIRS),
            "class_names": class_names,
            "image_size": config.image_size,
            "backbone": config.backbone,
            "backbone_weights": "ImageNet Xception (include_top=False), SHA-256 verified",
            "fine_tuned_from_layer": spec.split_layer,
            "last_conv_layer": spec.last_conv_layer,
            "preprocessing": {"version": PREPROCESSING_VERSION, "description": " ".join(PREPROCESSING_DOC.split())},
            "training_config": config.as_dict(),
            "dataset": {
                "source": DATASET_SOURCE,
                "split_used": TRAIN_SPLIT,
                "fingerprint_sha256": dataset_fingerprint,
                "images": len(samples),
                "train_images": int(len(train_idx)),
                "validation_images": int(len(val_idx)),
                "duplicate_groups": int(groups.max() + 1),
                "near_duplicate_phash_distance": NEAR_DUPLICATE_DISTANCE,
                "class_counts": {c: int((labels == i).sum()) for i, c in enumerate(CLASS_DIRS)},
            },
            "validation": {
                "candidates_accuracy": candidates,
                "selected": selected,
                "selection": {
                    "criterion": "lowest NLL over all cached views of the validation images",
                    "stage2_end": end_row["weights"],
                    "averaging": averaging,
                    "alpha": best["alpha"],
                    "interpolation": interpolation,
                    "candidates_nll_all_views": {n: row["nll_all_views"] for n, row in candidate_scores.items()},
                },
                "tta_flip_accuracy": float((averaged.argmax(1) == y_val).mean()),
                "no_tta_accuracy": float((clean.argmax(1) == y_val).mean()),
                "nll_before_calibration": nll(logits, y_val, 1.0),
                "nll_after_calibration": nll(logits, y_val, temperature),
                "report": classification_report(y_val, probabilities, class_names, seed=config.seed),
            },
            "history": {"stage1_head": _history(stage1_fit), "stage2_finetune": _history(stage2_fit)},
            "timings": {**timings, "total_wall_s": time.time() - started},
            "machine": machine_info(),
            "distribution_strategy": type(strategy).__name__,
        }
        return write_artifact(model, out_dir, card, temperature, tta, ood)

    run_candidates = {"frozen_backbone_head": stage1_weights, "finetuned_exit_flow": stage2_weights}
    if averaged:
        run_candidates["epoch_averaged"] = end_weights
    for name, weights in {**run_candidates, selected: selected_weights}.items():
        finish(weights, name, run_dir / "candidates" / name, with_ood=False)
    card = finish(selected_weights, selected, config.out_dir, with_ood=True)
    card["onnx"] = export_artifact(config.out_dir)
    log.info(
        "wrote %s (validation accuracy %.4f) in %.0f s", config.out_dir, candidates[selected], time.time() - started
    )
    return card
