import pytest

from model.report.card_report import fine_tuning, how_chosen
from tests.helpers import tiny_card, training_settings, validation_block


def test_fine_tuning_names_the_averaged_end_mixup_and_interpolation_the_card_records():
    card = tiny_card(
        candidate="weight_interpolated",
        training_config=training_settings(mixup=0.4),
        validation=validation_block(stage2_end="average of the last 4 epochs", alpha=0.9),
    )
    assert fine_tuning(card) == (
        "exit flow fine-tuned (average of the last 4 epochs) with manifold mixup (Beta(0.4, 0.4)) "
        "and mixed with the frozen-backbone head (α = 0.9)"
    )


def test_fine_tuning_of_an_old_card_without_selection_or_mixup():
    assert fine_tuning(tiny_card(candidate="finetuned_exit_flow")) == "exit flow fine-tuned"


def test_how_chosen_names_the_selected_candidate_and_its_interpolation():
    card = tiny_card(
        validation=validation_block("epoch_averaged", alpha=1.0, stage2_end="average of the last 4 epochs")
    )
    assert "selected: epoch averaged (α = 1.0" in how_chosen(card) and "last 4 epochs" in how_chosen(card)
    assert "frozen backbone head 80.0%" in how_chosen(card)


def test_fine_tuning_says_when_the_outlines_guided_it():
    card = tiny_card(training_config=training_settings(mixup=0.4, attention_weight=0.25), validation=validation_block())
    assert "guided by radiologists' tumour outlines (attention weight λ = 0.25)" in fine_tuning(card)


def test_records_carry_their_schema_version_and_old_files_are_upgraded(tmp_path):
    from model.schema.card import CANDIDATES_FILE, EVALUATION_FILE, SCHEMA_VERSIONS, read_record, write_record

    write_record(tmp_path / "e.json", EVALUATION_FILE, {"full": {"accuracy": 0.5}})
    assert read_record(tmp_path / "e.json", EVALUATION_FILE) == {
        "schema_version": SCHEMA_VERSIONS[EVALUATION_FILE],
        "full": {"accuracy": 0.5},
    }
    (tmp_path / "c.json").write_text('{"run": {"candidate": {"full": 0.8}}}')  # version 1: runs at the top level
    assert read_record(tmp_path / "c.json", CANDIDATES_FILE)["runs"] == {"run": {"candidate": {"full": 0.8}}}


def test_a_record_from_a_newer_schema_is_refused(tmp_path):
    from model.errors import ArtifactError
    from model.schema.card import AUDIT_FILE, SCHEMA_VERSIONS, read_record

    (tmp_path / "a.json").write_text(f'{{"schema_version": {SCHEMA_VERSIONS[AUDIT_FILE] + 1}}}')
    with pytest.raises(ArtifactError, match="schema version"):
        read_record(tmp_path / "a.json", AUDIT_FILE)


def test_update_card_replaces_one_block_keeps_the_rest_and_refuses_an_unreadable_card(tmp_path):
    from model.errors import ArtifactError
    from model.schema.card import CARD_FILE, GuardFile, Timings, load_card, read_record, update_card, write_card
    from tests.helpers import tiny_card_data

    write_card(tmp_path, tiny_card_data(timings={"total_wall_s": 5.0}))
    guard = {"file": "g.npz", "sha256": "a" * 64, "threshold": 2.0, "threshold_rule": "r", "method": "m"}
    updated = update_card(tmp_path, ood=guard)
    assert updated.ood == load_card(tmp_path).ood == GuardFile(**guard)
    assert updated.ood.features == ""  # an old guard: the app refuses it by this
    assert load_card(tmp_path).timings == Timings(total_wall_s=5.0)
    with pytest.raises(ArtifactError, match="does not follow its schema: 'temperature'"):
        update_card(tmp_path, calibration={})  # no temperature: the app could not classify with it
    with pytest.raises(ArtifactError, match="unexpected keyword argument 'percentile'"):
        update_card(tmp_path, ood=guard | {"percentile": 99})  # a block this code does not know
    assert "temperature" in read_record(tmp_path / CARD_FILE, CARD_FILE)["calibration"]


def test_a_missing_or_damaged_record_raises_artifact_error(tmp_path):
    from model.errors import ArtifactError
    from model.schema.card import CARD_FILE, load_card

    with pytest.raises(ArtifactError, match="model_card.json cannot be read"):
        load_card(tmp_path)
    (tmp_path / CARD_FILE).write_text('{"class_dirs": [')
    with pytest.raises(ArtifactError, match="model_card.json cannot be read"):
        load_card(tmp_path)
