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
