from model.report.figures import (
    class_distribution,
    confusion_matrix_figure,
    probability_bars,
    reliability_figure,
    training_curves,
)
from model.schema.card import History
from model.schema.tables import Calibration, typed
from training.fitting.metrics import reliability

NAMES = ["Glioma", "Meningioma", "No tumour", "Pituitary tumour"]


def test_figures_have_titles_and_labels():
    import numpy as np

    assert probability_bars([0.1, 0.2, 0.3, 0.4], NAMES).axes[0].get_xlabel() == "calibrated probability"
    cm = confusion_matrix_figure([[5, 1, 0, 0], [0, 4, 0, 0], [0, 0, 3, 1], [0, 0, 0, 2]], NAMES, True, "t")
    assert cm.axes[0].get_title() == "t" and cm.axes[0].get_ylabel() == "true class"
    table = reliability(np.eye(4)[[0, 1, 2, 3]], np.array([0, 1, 2, 3]))
    assert "ECE" in reliability_figure(typed(Calibration, table, "test"), "Calibration").axes[0].get_title()
    curves = training_curves(
        History(stage1_head={"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}, stage2_finetune={})
    )
    assert curves.axes[0].get_title() == "Training loss"
    bars = class_distribution({"Training": {"a": 3}, "Testing": {"a": 1}}, ["a"], ["A"])
    assert bars.axes[0].get_ylabel() == "images"


def sticks_out(figure) -> bool:
    """Whether anything drawn (labels, titles, tick labels, colour bars) reaches past the figure's edge: the union
    of what the renderer draws, against the figure's own box, in inches (a hundredth of tolerance)."""
    figure.canvas.draw()
    drawn, frame = figure.get_tightbbox(figure.canvas.get_renderer()), figure.bbox_inches
    return (
        drawn.x0 < frame.x0 - 0.01
        or drawn.y0 < frame.y0 - 0.01
        or drawn.x1 > frame.x1 + 0.01
        or drawn.y1 > frame.y1 + 0.01
    )


def test_no_label_of_the_four_method_explanation_figure_is_clipped():
    import numpy as np

    from model.report.figures import explanation_figure

    scan, heat = np.zeros((64, 64, 3), np.uint8), np.random.default_rng(0).uniform(0, 1, (64, 64))
    methods = ["Grad-CAM", "Grad-CAM++", "Score-CAM", "SmoothGrad"]
    figure = explanation_figure(
        scan,
        {m: heat for m in methods},
        {m: f"{m} · Tumeur hypophysaire 98,4 %\ntouché · 61 % dedans" for m in methods},
        np.zeros((64, 64)),
        "jet",
        0.45,
        "scan.jpg · classe expliquée Tumeur hypophysaire (98,4 %) · modèle 0123456789ab " * 2,
        "pertinence (1 = 95e centile de cette méthode sur la validation)",
    )
    assert not sticks_out(figure)


def test_no_label_of_the_confusion_matrix_or_the_reliability_diagram_is_clipped():
    import numpy as np

    french = ["Gliome", "Méningiome", "Pas de tumeur", "Tumeur hypophysaire"]
    matrix = confusion_matrix_figure([[50, 1, 0, 0], [0, 40, 0, 0], [0, 0, 30, 1], [0, 0, 0, 20]], french, True, "t")
    table = reliability(np.eye(4)[[0, 1, 2, 3]], np.array([0, 1, 2, 3]))
    assert not sticks_out(matrix) and not sticks_out(reliability_figure(typed(Calibration, table, "test"), "C"))


def smallest_text_px(figure, shown_width_px: int) -> float:
    """The smallest drawn text's height in screen pixels when the figure is shown `shown_width_px` wide."""
    from matplotlib.text import Text

    figure.canvas.draw()
    scale = shown_width_px / (figure.get_size_inches()[0] * 72)  # screen pixels per point
    sizes = [t.get_fontsize() for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) * scale


def test_the_evaluation_figures_text_is_readable_at_the_width_the_page_shows_them():
    import numpy as np

    from model.report.figures import SHOWN_WIDTH_PX

    matrix = confusion_matrix_figure([[5, 1, 0, 0], [0, 4, 0, 0], [0, 0, 3, 1], [0, 0, 0, 2]], NAMES, True, "t")
    table = reliability(np.eye(4)[[0, 1, 2, 3]], np.array([0, 1, 2, 3]))
    for figure in (matrix, reliability_figure(typed(Calibration, table, "test"), "Calibration")):
        assert smallest_text_px(figure, SHOWN_WIDTH_PX) >= 10


def test_four_maps_are_laid_out_in_rows_that_stay_readable_on_the_page():
    import numpy as np

    from model.report.figures import explanation_figure

    heat = np.random.default_rng(0).uniform(0, 1, (64, 64))
    methods = ["Grad-CAM", "Grad-CAM++", "Score-CAM", "SmoothGrad"]
    figure = explanation_figure(
        np.zeros((64, 64, 3), np.uint8),
        {m: heat for m in methods},
        {m: m for m in methods},
        None,
        "jet",
        0.45,
        "footer",
        "relevance",
    )
    assert len([a for a in figure.axes if a.get_visible()]) == 6  # scan, four maps, the colour bar
    assert smallest_text_px(figure, 900) >= 9 and not sticks_out(figure)  # 900 px: the page's width for it
