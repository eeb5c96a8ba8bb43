import json
import shutil

from model.schema.card import ARTIFACT_DIR, CANDIDATES_FILE, CARD_FILE, EVALUATION_FILE, RESCORE_FILE, load_card
from training.evaluation.readme import END, README, REPRODUCE_END, REPRODUCE_START, START, render, render_reproduce


def test_readme_results_match_the_committed_json():
    """Figures in the README are rendered from JSON; `python -m training readme` fixes a mismatch."""
    text = README.read_text()
    block = text[text.index(START) : text.index(END) + len(END)]
    assert block == render()


def test_readme_reproduce_block_is_the_command_the_shipped_card_recorded():
    text = README.read_text()
    block = text[text.index(REPRODUCE_START) : text.index(REPRODUCE_END) + len(REPRODUCE_END)]
    assert block == render_reproduce()
    command = load_card().command
    assert command.startswith("python -m training train ") and command in block
    assert "/work/" not in command and "/root/" not in command  # relative paths: it runs from any checkout


def _artifact_copy(tmp_path, fitted_losses):
    """The committed card, evaluation and candidates, plus a rescore file with the given losses by candidate dir."""
    for name in (CARD_FILE, EVALUATION_FILE, CANDIDATES_FILE):
        shutil.copy(ARTIFACT_DIR / name, tmp_path / name)
    shipped = json.loads((ARTIFACT_DIR / CARD_FILE).read_text())["artifact"]["sha256"]
    rows = [
        {
            "artifact_dir": path,
            "candidate": path.rsplit("/", 1)[-1],
            "artifact_sha256": shipped if path.endswith("shipped") else path,
            "nll_all_views": loss,
            "nll_all_views_at_fitted_temperature": loss,
            "accuracy_all_views": 0.9,
            "accuracy_clean": 0.9,
        }
        for path, loss in fitted_losses.items()
    ]
    (tmp_path / RESCORE_FILE).write_text(json.dumps({"rows": rows}))
    return tmp_path


def test_readme_says_when_the_shipped_model_is_not_lowest_after_temperature(tmp_path):
    text = render(_artifact_copy(tmp_path, {"runs/a/candidates/shipped": 0.3, "runs/b/candidates/epoch_averaged": 0.2}))
    assert (
        "the shipped model (0.3000) is not the lowest of the runs rescored: run b, epoch averaged scores 0.2000."
        in text
    )


def test_readme_stays_quiet_when_the_shipped_model_is_lowest_after_temperature(tmp_path):
    text = render(_artifact_copy(tmp_path, {"runs/a/candidates/shipped": 0.1, "runs/b/candidates/epoch_averaged": 0.2}))
    assert "is not the lowest" not in text and "`python -m training rescore`." in text
