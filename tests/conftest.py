"""Fixtures: a synthetic dataset, a tiny mock classifier and the real artifact."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path

import pytest

from model.core.architecture import build_classifier, save_weights_npz
from model.core.predict import Classifier
from model.schema.card import ARTIFACT_DIR, CLASS_DIRS, ModelCard, sha256_file, write_card
from tests.helpers import TINY_SIZE, tiny_card, tiny_card_data, write_dataset, write_manifest_dataset, write_masks
from training.fitting.config import TrainConfig
from training.fitting.train import train


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("dataset"), {"Training": 12, "Testing": 3})


@pytest.fixture(scope="session")
def tiny_classifier() -> Classifier:
    import keras

    keras.utils.set_random_seed(0)
    return Classifier(build_classifier(len(CLASS_DIRS), TINY_SIZE, "tiny"), tiny_card())


@pytest.fixture(scope="session")
def tiny_onnx_artifact(tmp_path_factory) -> tuple[Path, ModelCard]:
    """A tiny model's artifact folder with its ONNX export: (folder, its card after the export)."""
    import keras

    from training.fitting.export import export_artifact

    root = tmp_path_factory.mktemp("export")
    keras.utils.set_random_seed(3)
    save_weights_npz(build_classifier(4, TINY_SIZE, "tiny"), root / "w.npz")
    write_card(root, tiny_card_data(artifact={"weights_file": "w.npz", "sha256": sha256_file(root / "w.npz")}))
    return root, export_artifact(root)


@pytest.fixture(scope="session")
def real_classifier() -> Classifier:
    return Classifier.from_artifact(ARTIFACT_DIR)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny model trained on a synthetic folder: (root, data dir, config, card); outlines in root/masks."""
    root = tmp_path_factory.mktemp("smoke")
    data = write_dataset(root / "data", {"Training": 16})  # no Testing folder at all
    write_masks(data, root / "masks")
    config = TrainConfig(
        data_dir=data,
        extra_data_dirs=(write_manifest_dataset(root / "other", per_sequence=5),),
        out_dir=root / "artifact",
        run_dir=root / "run",
        backbone="tiny",
        image_size=TINY_SIZE,
        views=3,
        head_epochs=4,
        finetune_epochs=2,
        batch_size=16,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BRAIN_MRI_CACHE", str(root / "cache"))
        yield root, data, config, train(config)
