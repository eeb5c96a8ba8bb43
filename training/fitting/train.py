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

Training reads Sartaj's Training folder and, with `extra_data_dirs`, other
sources in the manifest layout (training.data.listing). Every choice of the run (the
stage-2 checkpoint and early stopping, the stage-2 end, the WiSE-FT mix) is
made by the rule of training.fitting.selection: the loss after a fitted temperature on
the clean validation views, per group (source x sequence), worst group.
Testing is never read here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from model.core.architecture import (
    BACKBONES,
    LOGITS_LAYER,
    assign_weights,
    backbone_weights,
    build_classifier,
    cam_top,
    load_weights_npz,
    split_model,
)
from model.core.backbone import cache_dir
from model.core.ood import OODDetector, pooled_frozen_features
from model.core.predict import calibrated_probabilities, verify_file
from model.core.preprocess import __doc__ as PREPROCESSING_DOC
from model.schema.card import (
    CARD_FILE,
    CLASS_DIRS,
    CLASS_LABELS,
    DatasetSummary,
    History,
    Machine,
    ModelCard,
    Timings,
    TrainingSettings,
    ValidationSummary,
    load_card,
)
from model.schema.tables import typed
from training.data.duplicates import NEAR_DUPLICATE_DISTANCE
from training.data.features import CLEAN_VIEW, FLIPPED_VIEW, cached_bottom_activations
from training.data.listing import SARTAJ, TRAIN_SPLIT, Sample, fingerprint
from training.data.split import TrainingSplit, split_training
from training.fitting.artifact import RunRecord, machine_info, write_artifact
from training.fitting.attention import OutlineGuided, outline_rows
from training.fitting.calibrate import fit_temperature, nll
from training.fitting.config import TrainConfig
from training.fitting.export import export_artifact
from training.fitting.guard import design_non_mri_features
from training.fitting.metrics import classification_report
from training.fitting.selection import WORST_GROUP, validation_scores

log = logging.getLogger(__name__)

PREPROCESSING_VERSION = "headcrop-stretch-gray3-v1"
# Stage-2 weights averaged over the last k epochs run, for each k here that is not longer than the run.
AVERAGING_WINDOWS = (2, 4, 8, 16, 32)
BEST_CHECKPOINT = "best checkpoint"
STARTING_MODEL = "starting_model"  # the candidate name of `init_from`'s weights
# Flip test-time augmentation is kept only when it adds more than half a point of clean validation accuracy.
TTA_MIN_GAIN = 0.005
# Each other source's citation, by its folder's name (the data README says more).
SOURCE_CITATIONS = {
    "feltrin-dev": "F. Feltrin, Brain Tumor MRI Images 44 Classes, Kaggle 2022 (feltrin-dev selection, see its README)",
    "lgg-dev": "TCGA-LGG (The Cancer Imaging Archive) as released by Buda, Saha, Mazurowski, Comput. Biol. Med. 109 "
    "(2019), Kaggle LGG Segmentation Dataset (lgg-dev selection, see its README)",
}
DATASET_SOURCE = "Bhuvaji et al., Brain Tumor Classification (MRI), Kaggle 2020, doi:10.34740/KAGGLE/DSV/1183165"


class CachedRows(keras.utils.PyDataset):
    """Batches of cached activations.

    With a seed: per epoch, one randomly chosen view of each image (training), and with
    `mixup` > 0 each batch mixed with a shuffled copy of itself (manifold mixup, Verma et
    al. 2019: activations, targets and weights, mixing weights drawn from Beta(mixup, mixup)).
    With `draw` (a probability per image), the epoch's images are drawn with replacement by it instead of once each
    (`source_balanced_draw`).
    Without a seed: every view in `view_choices` of every image, in a fixed order (validation).
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
        draw: np.ndarray | None = None,
    ):
        super().__init__()
        self.draw = draw
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
        if self.draw is None:
            order = self.rng.permutation(len(self.images))
        else:
            order = self.rng.choice(len(self.images), size=len(self.images), p=self.draw)
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
        model_inputs = inputs if outlines is None else (inputs, *outlines)
        return (model_inputs, targets) if weights is None else (model_inputs, targets, weights)

    def _mix(
        self,
        index: int,
        inputs: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray | None,
        outlines: tuple[np.ndarray, np.ndarray] | None,
    ):
        # A generator per batch and epoch: the same mix whatever order Keras fetches batches in.
        rng = np.random.default_rng([self.seed or 0, self.epoch, index])
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


def balanced_class_weights(labels: np.ndarray, num_classes: int, draw: np.ndarray | None = None) -> np.ndarray:
    """Weights that give every class the same total weight, under `draw` (a probability per image) when given."""
    mass = np.bincount(labels, weights=draw, minlength=num_classes).astype(np.float64)
    mass /= mass.sum()
    return (1.0 / (num_classes * np.maximum(mass, 1e-12))).astype(np.float32)


def source_balanced_draw(samples: list[Sample], images: np.ndarray) -> np.ndarray:
    """A probability per image under which every source weighs alike and, inside a source, every sequence: so
    that Sartaj's many scans do not decide the gradient, nor one sequence a source's."""
    sources = np.array([samples[i].source for i in images])
    groups = np.array([samples[i].group for i in images])
    draw = np.zeros(len(images))
    for source in np.unique(sources):
        in_source = np.unique(groups[sources == source])
        for group in in_source:
            members = groups == group
            draw[members] = 1.0 / (len(np.unique(sources)) * len(in_source) * members.sum())
    return draw / draw.sum()


def predict_rows(model: keras.Model, cache: np.ndarray, rows: np.ndarray, batch_size: int) -> np.ndarray:
    outputs = []
    for start in range(0, len(rows), batch_size * 4):
        chunk = rows[start : start + batch_size * 4]
        outputs.append(np.asarray(model(np.asarray(cache[chunk], dtype=np.float32), training=False)))
    return np.concatenate(outputs)


def all_view_rows(images: np.ndarray, views: int) -> np.ndarray:
    return (images[:, None] * views + np.arange(views)[None, :]).ravel()


def interpolate(start: list[np.ndarray], end: list[np.ndarray], alpha: float) -> list[np.ndarray]:
    """WiSE-FT: (1 - alpha) * start + alpha * end, weight by weight."""
    return [(1 - alpha) * a + alpha * b for a, b in zip(start, end)]


def average(weights: list[list[np.ndarray]]) -> list[np.ndarray]:
    return [np.mean(np.stack(arrays), axis=0) for arrays in zip(*weights)]


class WorstGroupMonitor(keras.callbacks.Callback):
    """Adds the selection criterion (`WORST_GROUP`) to each epoch's logs, for the checkpoint and early stopping
    that follow it in the callback list (Keras hands every callback the same logs, in order)."""

    def __init__(self, data: "RunData"):
        super().__init__()
        self.data = data

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        scores = self.data.validation_scores(self.data.top.get_weights())
        log.info("epoch %d: worst group %s %.4f", epoch + 1, scores["worst_group"], scores[WORST_GROUP])
        if logs is not None:
            logs[f"val_{WORST_GROUP}"] = scores[WORST_GROUP]
            logs["val_accuracy"] = scores["accuracy_clean"]  # the training curves' validation accuracy


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
    scans = [s.relative(config.data_dir) if s.source == SARTAJ else None for s in split.samples]
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
    base_weights = BACKBONES[config.backbone].base_weights
    if base_weights is not None:
        assign_weights(backbone_weights(model), base_weights())
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


@dataclass
class RunData:
    """What every stage reads: the split, the frozen-layer cache and the model cut where fine-tuning starts."""

    config: TrainConfig
    split: TrainingSplit
    dataset_fingerprint: str
    cache: np.ndarray
    model: keras.Model
    bottom: keras.Model  # the frozen layers, whose activations are cached (the OOD guard reads them)
    top: keras.Model  # the fine-tuned part, on cached activations
    pooled: keras.Model  # the top's pooled features, for stage 1
    strategy: tf.distribute.Strategy
    class_weights: np.ndarray
    draw: np.ndarray | None  # stage 2's probability per training image (`source_balanced_draw`), or each once

    @property
    def image_weights(self) -> np.ndarray:
        """Stage 1's weight per training image: its class weight, times its draw share when stage 2 draws."""
        labels = self.split.labels[self.split.train_idx]
        share = np.ones(len(labels)) if self.draw is None else self.draw * len(labels)
        return (self.class_weights[labels] * share).astype(np.float32)

    @property
    def y_val(self) -> np.ndarray:
        return self.split.labels[self.split.val_idx]

    def view_rows(self, images: np.ndarray, view: int) -> np.ndarray:
        return images * self.config.views + view

    def top_logits(self, weights: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
        self.top.set_weights(weights)
        return predict_rows(self.top, self.cache, rows, self.config.batch_size)

    def validation_scores(self, weights: list[np.ndarray]) -> dict[str, Any]:
        """`training.selection.validation_scores` of `weights` on the clean views of the validation images."""
        logits = self.top_logits(weights, self.view_rows(self.split.val_idx, CLEAN_VIEW))
        return validation_scores(logits, self.y_val, self.split.validation_groups)


@dataclass
class Stage1:
    """Where WiSE-FT starts from (alpha = 0): a new head on the frozen backbone, or the model `init_from` names."""

    weights: list[np.ndarray]
    history: dict[str, list[float]]
    name: str = "frozen_backbone_head"


@dataclass
class Stage2:
    best_checkpoint: list[np.ndarray]
    epochs: list[list[np.ndarray]]  # the weights after each epoch run, for averaging
    history: dict[str, list[float]]


@dataclass
class Stage2End:
    """The end of stage 2 kept: the best checkpoint or a tail average, with the scores of every option."""

    name: str
    weights: list[np.ndarray]
    options: list[dict[str, Any]]

    @property
    def averaged(self) -> bool:
        return self.name != BEST_CHECKPOINT

    @property
    def candidate(self) -> str:
        return "epoch_averaged" if self.averaged else "finetuned_exit_flow"


@dataclass
class Choice:
    """The WiSE-FT mix kept and the validation scores of every candidate the run saves."""

    alpha: float
    weights: list[np.ndarray]
    selected: str
    interpolation: list[dict[str, Any]]
    candidate_scores: dict[str, dict[str, Any]]

    @property
    def candidates_accuracy(self) -> dict[str, float]:
        return {name: row["accuracy_clean"] for name, row in self.candidate_scores.items()}


@dataclass
class Calibration:
    """Flip TTA decided and the temperature fitted, both on the clean validation views."""

    tta_flip: bool
    temperature: float
    logits: np.ndarray
    tta_flip_accuracy: float
    no_tta_accuracy: float


@dataclass
class Run:
    """What the stages produced, as the model card records it."""

    stage1: Stage1
    stage2: Stage2
    end: Stage2End
    choice: Choice
    timings: dict[str, float]
    started: float  # time.time() when the run began


@contextmanager
def timed(timings: dict[str, float], key: str) -> Iterator[None]:
    tick = time.time()
    yield
    timings[key] = time.time() - tick


def prepare(config: TrainConfig, timings: dict[str, float], cache_must_exist: bool = False) -> RunData:
    """Splits Training, builds the model and caches the frozen layers' activations of every view.

    With `cache_must_exist` (scoring a finished run again), a missing cache raises FileNotFoundError
    instead of being computed.
    """
    keras.utils.set_random_seed(config.seed)
    spec = BACKBONES[config.backbone]
    with timed(timings, "hash_and_split_s"):
        split = split_training(config.data_dir, config.seed, config.extra_data_dirs)
        dataset_fingerprint = fingerprint(split.samples, config.data_dir)
    cache_path = frozen_cache_path(config, dataset_fingerprint)
    if cache_must_exist and not cache_path.exists():
        raise FileNotFoundError(f"no frozen-layer cache at {cache_path}: run training once on this machine")
    log.info(
        "train %d / validation %d images, %d duplicate groups",
        len(split.train_idx),
        len(split.val_idx),
        split.groups.max() + 1,
    )
    strategy = distribution_strategy()
    with strategy.scope():
        model = initial_model(config)
    bottom, top, pooled = split_model(model, spec)
    with timed(timings, "cache_frozen_layers_s"):
        cache, computed = cached_bottom_activations(
            bottom,
            [s.path for s in split.samples],
            config.views,
            config.image_size,
            config.seed,
            cache_path,
            config.augment,
        )
    timings["cache_images_computed"] = computed
    draw = source_balanced_draw(split.samples, split.train_idx) if config.balance_sources else None
    class_weights = balanced_class_weights(split.labels[split.train_idx], len(CLASS_DIRS), draw)
    return RunData(config, split, dataset_fingerprint, cache, model, bottom, top, pooled, strategy, class_weights, draw)


def fit_head(data: RunData, timings: dict[str, float]) -> Stage1:
    """Stage 1: the head alone, on pooled features of every cached view of the training images."""
    config, split, num_classes = data.config, data.split, len(CLASS_DIRS)
    train_labels = np.repeat(split.labels[split.train_idx], config.views)
    with timed(timings, "stage1_head_s"):
        train_features = predict_rows(
            data.pooled, data.cache, all_view_rows(split.train_idx, config.views), config.batch_size
        )
        val_features = predict_rows(
            data.pooled, data.cache, data.view_rows(split.val_idx, CLEAN_VIEW), config.batch_size
        )
        with data.strategy.scope():
            features = keras.Input(train_features.shape[1:])
            logits = data.model.get_layer(LOGITS_LAYER)(data.model.get_layer("head_dropout")(features))
            head = keras.Model(features, logits)
            head.compile(keras.optimizers.Adam(config.head_learning_rate), loss=_loss(config), metrics=["accuracy"])
        fit = head.fit(
            train_features,
            keras.utils.to_categorical(train_labels, num_classes),
            sample_weight=np.repeat(data.image_weights, config.views),
            validation_data=(val_features, keras.utils.to_categorical(data.y_val, num_classes)),
            epochs=config.head_epochs,
            batch_size=config.batch_size * 2,
            callbacks=[
                keras.callbacks.EarlyStopping("val_loss", patience=config.patience * 2, restore_best_weights=True)
            ],
            verbose=2,
        )
    timings["stage1_images_per_s"] = len(train_labels) / max(timings["stage1_head_s"], 1e-9)
    return Stage1([np.array(w) for w in data.top.get_weights()], _history(fit))


def starting_model(data: RunData, artifact_dir: Path) -> Stage1:
    """Instead of stage 1: a finished artifact's weights (SHA-checked), from which stage 2 goes on fine-tuning; its
    top is where WiSE-FT starts (alpha = 0), so the run can also keep the model it started from."""
    card = load_card(artifact_dir)
    verify_file(artifact_dir / card.weights_file, card.weights_sha256)
    load_weights_npz(data.model, artifact_dir / card.weights_file)
    return Stage1([np.array(w) for w in data.top.get_weights()], {}, STARTING_MODEL)


def fine_tune(data: RunData, run_dir: Path, timings: dict[str, float]) -> Stage2:
    """Stage 2: the exit flow and head, BatchNorm statistics frozen, with the attention term when asked."""
    config, split = data.config, data.split
    outlines = None
    if config.attention_weight > 0:
        with timed(timings, "outline_views_s"):
            spec = BACKBONES[config.backbone]
            outlines = training_outlines(config, split, data.top.get_layer(spec.last_conv_layer).output.shape[1])
    with timed(timings, "stage2_finetune_s"):
        for layer in data.top.layers:
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
        with data.strategy.scope():
            trainer = data.top
            if outlines is not None:
                cams = cam_top(data.model, BACKBONES[config.backbone])
                trainer = OutlineGuided(data.top, cams, config.attention_weight)
                trainer(np.asarray(data.cache[:1], dtype=np.float32))  # built, so the checkpoint can save it
            trainer.compile(
                keras.optimizers.Adam(config.finetune_learning_rate), loss=_loss(config), metrics=["accuracy"]
            )
        all_views = tuple(range(config.views))
        num_classes = len(CLASS_DIRS)
        train_data = CachedRows(
            data.cache,
            split.train_idx,
            split.labels[split.train_idx],
            config.views,
            config.batch_size,
            num_classes,
            data.class_weights,
            seed=config.seed,
            view_choices=all_views,
            mixup=config.mixup,
            outlines=outlines,
            draw=data.draw,
        )
        checkpoint = run_dir / "finetune_best.weights.h5"
        epoch_weights = EpochWeights(data.top)
        monitored = f"val_{WORST_GROUP}"
        fit = trainer.fit(
            train_data,
            epochs=config.finetune_epochs,
            callbacks=[
                WorstGroupMonitor(data),
                keras.callbacks.ModelCheckpoint(
                    checkpoint, monitor=monitored, mode="min", save_best_only=True, save_weights_only=True
                ),
                keras.callbacks.EarlyStopping(monitored, mode="min", patience=config.patience),
                keras.callbacks.CSVLogger(run_dir / "finetune_log.csv"),
                epoch_weights,
            ],
            verbose=2,
        )
        trainer.load_weights(checkpoint)
    timings["stage2_images_per_s"] = len(fit.epoch) * len(split.train_idx) / max(timings["stage2_finetune_s"], 1e-9)
    return Stage2([np.array(w) for w in data.top.get_weights()], epoch_weights.epochs, _history(fit))


def choose_stage2_end(data: RunData, stage2: Stage2) -> Stage2End:
    """The best checkpoint or the average of the last k epochs, whichever has the lowest worst-group loss."""
    ends = {BEST_CHECKPOINT: stage2.best_checkpoint}
    for window in (w for w in AVERAGING_WINDOWS if w <= len(stage2.epochs)):
        ends[f"average of the last {window} epochs"] = average(stage2.epochs[-window:])
    options = [{"weights": name, **data.validation_scores(weights)} for name, weights in ends.items()]
    for row in options:
        log.info("stage-2 end %s", row)
    best = min(options, key=lambda row: row[WORST_GROUP])
    return Stage2End(best["weights"], ends[best["weights"]], options)


def choose_interpolation(data: RunData, stage1: Stage1, end: Stage2End) -> Choice:
    """WiSE-FT between the stage-1 weights and the end of stage 2: the mix with the lowest worst-group loss."""
    steps = data.config.interpolation_steps
    interpolation = []
    for step in range(steps + 1):
        alpha = step / steps
        interpolation.append(
            {"alpha": alpha, **data.validation_scores(interpolate(stage1.weights, end.weights, alpha))}
        )
        log.info("alpha %.2f: %s", alpha, interpolation[-1])
    best = min(interpolation, key=lambda row: (row[WORST_GROUP], -row["alpha"]))
    selected = {0.0: stage1.name, 1.0: end.candidate}.get(best["alpha"], "weight_interpolated")
    scores = {stage1.name: interpolation[0], "finetuned_exit_flow": end.options[0]}
    if end.averaged:
        scores["epoch_averaged"] = next(row for row in end.options if row["weights"] == end.name)
    scores[selected] = best
    log.info("selected %s (%s, alpha %.2f)", selected, end.name, best["alpha"])
    weights = interpolate(stage1.weights, end.weights, best["alpha"])
    return Choice(best["alpha"], weights, selected, interpolation, scores)


def calibrate(data: RunData, weights: list[np.ndarray]) -> Calibration:
    """Keeps flip TTA only if it adds more than TTA_MIN_GAIN of clean accuracy, then fits the temperature."""
    val_idx, y_val = data.split.val_idx, data.y_val
    clean = data.top_logits(weights, data.view_rows(val_idx, CLEAN_VIEW))
    flipped = data.top_logits(weights, data.view_rows(val_idx, FLIPPED_VIEW))
    averaged = (clean + flipped) / 2
    tta_accuracy = float((averaged.argmax(1) == y_val).mean())
    no_tta_accuracy = float((clean.argmax(1) == y_val).mean())
    tta = tta_accuracy > no_tta_accuracy + TTA_MIN_GAIN
    logits = averaged if tta else clean
    return Calibration(tta, fit_temperature(logits, y_val), logits, tta_accuracy, no_tta_accuracy)


def fit_guard(data: RunData) -> OODDetector:
    """The not-a-brain-MRI guard on the cached frozen activations of the clean views (train fit, validation
    and the design non-MRI images place the threshold); it does not depend on the fine-tuned weights."""
    split, size = data.split, data.config.image_size

    def cached(images: np.ndarray) -> np.ndarray:
        rows = data.view_rows(images, CLEAN_VIEW)
        chunk = 4 * data.config.batch_size
        return np.concatenate(
            [pooled_frozen_features(data.cache[rows[i : i + chunk]]) for i in range(0, len(rows), chunk)]
        )

    def frozen(inputs: np.ndarray) -> np.ndarray:
        return np.asarray(data.bottom(inputs, training=False))

    return OODDetector.fit(
        cached(split.train_idx),
        split.labels[split.train_idx],
        cached(split.val_idx),
        design_non_mri_features(frozen, size),
    )


def run_record(data: RunData, run: Run, name: str, calibration: Calibration) -> RunRecord:
    """What the card says about this run and these weights (the files' blocks are added by `write_artifact`)."""
    config, split, end, choice = data.config, data.split, run.end, run.choice
    spec = BACKBONES[config.backbone]
    return RunRecord(
        candidate=name,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        command=shlex.join(["python", "-m", "training", *sys.argv[1:]]),
        image_size=config.image_size,
        backbone=config.backbone,
        fine_tuned_from_layer=spec.split_layer,
        last_conv_layer=spec.last_conv_layer,
        preprocessing={"version": PREPROCESSING_VERSION, "description": " ".join(PREPROCESSING_DOC.split())},
        training_config=typed(TrainingSettings, config.as_dict(), CARD_FILE, strict=True),
        dataset=DatasetSummary(
            source=DATASET_SOURCE
            + "".join(f"; {d.name}: {SOURCE_CITATIONS.get(d.name, 'see its README')}" for d in config.extra_data_dirs),
            sources=sorted({s.source for s in split.samples}),
            validation_groups={str(g): int(n) for g, n in zip(*np.unique(split.validation_groups, return_counts=True))},
            split_used=TRAIN_SPLIT,
            fingerprint_sha256=data.dataset_fingerprint,
            images=len(split.samples),
            train_images=int(len(split.train_idx)),
            validation_images=int(len(split.val_idx)),
            duplicate_groups=int(split.groups.max() + 1),
            near_duplicate_phash_distance=NEAR_DUPLICATE_DISTANCE,
            class_counts={c: int((split.labels == i).sum()) for i, c in enumerate(CLASS_DIRS)},
        ),
        validation=validation_summary(data, choice, end, calibration),
        history=History(stage1_head=run.stage1.history, stage2_finetune=run.stage2.history),
        timings=typed(Timings, run.timings | {"total_wall_s": time.time() - run.started}, CARD_FILE, strict=True),
        machine=Machine(**machine_info()),
        distribution_strategy=type(data.strategy).__name__,
    )


def validation_summary(data: RunData, choice: Choice, end: Stage2End, calibration: Calibration) -> ValidationSummary:
    """The card's validation block: each candidate's accuracy, how the choice was made, the calibrated scores."""
    class_names = [CLASS_LABELS[c] for c in CLASS_DIRS]
    block = {
        "candidates_accuracy": choice.candidates_accuracy,
        "selected": choice.selected,
        "selection": {
            "criterion": "lowest worst-group NLL at fitted temperatures (clean validation views)",
            "stage2_end": end.name,
            "averaging": end.options,
            "alpha": choice.alpha,
            "interpolation": choice.interpolation,
            "candidates_worst_group_nll": {n: r[WORST_GROUP] for n, r in choice.candidate_scores.items()},
        },
        "tta_flip_accuracy": calibration.tta_flip_accuracy,
        "no_tta_accuracy": calibration.no_tta_accuracy,
        "nll_before_calibration": nll(calibration.logits, data.y_val, 1.0),
        "nll_after_calibration": nll(calibration.logits, data.y_val, calibration.temperature),
        "report": classification_report(
            data.y_val,
            calibrated_probabilities(calibration.logits, calibration.temperature),
            class_names,
            data.config.seed,
        ),
    }
    return typed(ValidationSummary, block, CARD_FILE, strict=True)


def save_candidate(
    data: RunData, run: Run, name: str, weights: list[np.ndarray], out_dir: Path, with_guard: bool
) -> ModelCard:
    """Calibrates `weights`, fits the guard when asked, and writes them with their card into `out_dir`."""
    calibration = calibrate(data, weights)
    guard = fit_guard(data) if with_guard else None
    record = run_record(data, run, name, calibration)
    data.top.set_weights(weights)
    return write_artifact(data.model, out_dir, record, calibration.temperature, calibration.tta_flip, guard)


def train(config: TrainConfig) -> ModelCard:
    """Runs the stages, saves every candidate under run_dir/candidates and the chosen one in out_dir."""
    started = time.time()
    timings: dict[str, float] = {}
    run_dir = config.run_dir or Path("runs") / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    config = replace(config, run_dir=run_dir)  # the cards record the folder the run chose
    run_dir.mkdir(parents=True, exist_ok=True)
    data = prepare(config, timings)
    stage1 = fit_head(data, timings) if config.init_from is None else starting_model(data, config.init_from)
    stage2 = fine_tune(data, run_dir, timings)
    with timed(timings, "interpolation_s"):
        end = choose_stage2_end(data, stage2)
        stage2.epochs.clear()
        choice = choose_interpolation(data, stage1, end)
    run = Run(stage1, stage2, end, choice, timings, started)
    candidates = {stage1.name: stage1.weights, "finetuned_exit_flow": stage2.best_checkpoint}
    if end.averaged:
        candidates["epoch_averaged"] = end.weights
    for name, weights in {**candidates, choice.selected: choice.weights}.items():
        save_candidate(data, run, name, weights, run_dir / "candidates" / name, with_guard=False)
    save_candidate(data, run, choice.selected, choice.weights, config.out_dir, with_guard=True)
    card = export_artifact(config.out_dir)
    log.info(
        "wrote %s (validation accuracy %.4f) in %.0f s",
        config.out_dir,
        choice.candidates_accuracy[choice.selected],
        time.time() - started,
    )
    return card
