from tests.helpers import tiny_card


def test_fine_tuning_names_the_averaged_end_mixup_and_interpolation_the_card_records():
    card = tiny_card(
        candidate="weight_interpolated",
        training_config={"mixup": 0.4},
        validation={"selection": {"stage2_end": "average of the last 4 epochs", "alpha": 0.9}},
    )
    assert card.fine_tuning == (
        "exit flow fine-tuned (average of the last 4 epochs) with manifold mixup (Beta(0.4, 0.4)) "
        "and mixed with the frozen-backbone head (α = 0.9)"
    )


def test_fine_tuning_of_an_old_card_without_selection_or_mixup():
    assert tiny_card(candidate="finetuned_exit_flow").fine_tuning == "exit flow fine-tuned"


def test_how_chosen_names_the_selected_candidate_and_its_interpolation():
    card = tiny_card(
        validation={
            "candidates_accuracy": {"frozen_backbone_head": 0.8, "epoch_averaged": 0.95},
            "selected": "epoch_averaged",
            "selection": {"alpha": 1.0, "stage2_end": "average of the last 4 epochs"},
        }
    )
    assert "selected: epoch averaged (α = 1.0" in card.how_chosen and "last 4 epochs" in card.how_chosen
    assert "frozen backbone head 80.0%" in card.how_chosen


def test_fine_tuning_says_when_the_outlines_guided_it():
    card = tiny_card(training_config={"mixup": 0.4, "attention_weight": 0.25}, validation={"selection": {}})
    assert "guided by radiologists' tumour outlines (attention weight λ = 0.25)" in card.fine_tuning
