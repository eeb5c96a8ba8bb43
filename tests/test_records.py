"""The typed result files: what is written follows the schema, what is read comes back through attributes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.errors import ArtifactError
from model.schema.card import ARTIFACT_DIR, SCHEMA_VERSIONS
from model.schema.records import (
    RECORD_KINDS,
    Candidates,
    Rescore,
    RobustnessEvaluation,
    TrustEvaluation,
    load,
    read,
    write,
)
from training.data.listing import recorded_path


@pytest.mark.parametrize("name", sorted(RECORD_KINDS))
def test_every_committed_result_file_follows_its_schema_exactly(name):
    kind = RECORD_KINDS[name]
    data = json.loads((ARTIFACT_DIR / name).read_text(encoding="utf-8"))
    record = kind.from_dict(data, strict=True)
    assert record.schema_version == SCHEMA_VERSIONS[name]
    assert load(kind, ARTIFACT_DIR) == read(kind, ARTIFACT_DIR / name)


def test_the_writer_refuses_a_missing_or_an_unknown_key_and_writes_nothing(tmp_path):
    with pytest.raises(ArtifactError, match='missing value for field "rows"'):
        write(Rescore, tmp_path / "r.json", {})
    with pytest.raises(ArtifactError, match='can not match "row"'):
        write(Rescore, tmp_path / "r.json", {"rows": [], "row": 1})
    assert not (tmp_path / "r.json").exists()


def test_written_records_read_back_through_attributes(tmp_path):
    scores = {
        "artifact_sha256": "a" * 40,
        "split": "Testing",
        "validation_accuracy": 0.9,
        "full": 0.8,
        "leakage_clean": 0.5,
        "leaked_copies": 1,  # JSON's 1 for 1.0: read as a float
        "finetune_epochs_run": 3,
        "runtime": "ONNX Runtime",
        "chosen_by_run": True,
        "grad_cam_validation": {
            "n": 2,
            "pointing_game": 0.5,
            "pointing_game_ci95": [0.0, 1.0],
            "energy_share": 0.25,
            "energy_share_ci95": [0.1, 0.4],
        },
    }
    written = write(Candidates, tmp_path / "c.json", {"runs": {"main": {"frozen_backbone_head": scores}}})
    read_back = read(Candidates, tmp_path / "c.json")
    scored = read_back.runs["main"]["frozen_backbone_head"]
    assert read_back == written and scored.full == 0.8 and scored.leaked_copies == 1.0
    assert scored.grad_cam_validation is not None and scored.grad_cam_validation.pointing_game_ci95 == (0.0, 1.0)
    assert scored.testing_predictions is None  # not recorded by this run
    assert load(TrustEvaluation, tmp_path) is None  # not produced yet


def test_a_nested_table_of_the_wrong_type_is_refused_by_its_path(tmp_path):
    rows = [{"artifact_dir": "a", "candidate": "c", "artifact_sha256": "s", "nll_all_views": "low"}]
    with pytest.raises(ArtifactError, match="rows.nll_all_views"):
        write(Rescore, tmp_path / "r.json", {"rows": rows})
    assert not (tmp_path / "r.json").exists()


def test_older_files_are_migrated_once_to_attribute_names(tmp_path):
    """Version 2 of the audit named a class folder "class" and the robustness check kept the clean scores beside
    the changes; both read as today's schema."""
    cell = {"accuracy": {"value": 0.5, "ci95": [0.2, 0.8]}, "mean_confidence": 0.7, "flagged_by_guard": 0.0}
    old = {
        "schema_version": 2,
        "created": "",
        "artifact_sha256": "",
        "seed": 0,
        "validation_sample": 2,
        "scans": {"validation": 2},
        "corruptions": ["blur"],
        "severities": [1],
        "results": {"validation": {"none": cell, "blur": {"1": cell}}},
        "wall_s": 1.0,
    }
    (tmp_path / RobustnessEvaluation.FILE).write_text(json.dumps(old))
    results = read(RobustnessEvaluation, tmp_path / RobustnessEvaluation.FILE).results["validation"]
    assert results.clean.accuracy.value == 0.5 and results.corrupted["blur"]["1"].mean_confidence == 0.7


def test_a_file_that_lacks_a_required_key_is_refused_with_its_name(tmp_path):
    (tmp_path / TrustEvaluation.FILE).write_text(json.dumps({"schema_version": SCHEMA_VERSIONS[TrustEvaluation.FILE]}))
    with pytest.raises(
        ArtifactError,
        match=f'{TrustEvaluation.FILE} does not follow its schema: missing value for field "artifact_sha256"',
    ):
        read(TrustEvaluation, tmp_path / TrustEvaluation.FILE)


@pytest.mark.parametrize("name", sorted(RECORD_KINDS) + ["model_card.json"])
def test_no_committed_result_file_holds_an_absolute_path(name):
    text = (ARTIFACT_DIR / name).read_text(encoding="utf-8")
    assert str(Path.home()) not in text and '": "/' not in text and str(ARTIFACT_DIR) not in text


def test_paths_are_recorded_relative_to_the_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model" / "artifacts").mkdir(parents=True)
    assert recorded_path(tmp_path / "model" / "artifacts") == "model/artifacts"
    assert recorded_path(Path("runs/a")) == "runs/a"
    assert recorded_path(Path("/elsewhere/artifact")) == "/elsewhere/artifact"
