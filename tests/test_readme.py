from training.readme import END, README, START, render


def test_readme_results_match_the_committed_json():
    """Figures in the README are rendered from JSON; `python -m training readme` fixes a mismatch."""
    text = README.read_text()
    block = text[text.index(START) : text.index(END) + len(END)]
    assert block == render()
