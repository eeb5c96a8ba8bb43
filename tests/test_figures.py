from model.report.figures import (
    class_distribution,
    confusion_matrix_figure,
    probability_bars,
    reliability_figure,
    training_curves,
)
from training.metrics import reliability

NAMES = ["Glioma", "Meningioma", "No tumour", "Pituitary tumour"]


def test_figures_have_titles_and_labels():
    import numpy as np

    assert probability_bars([0.1, 0.2, 0.3, 0.4], NAMES).axes[0].get_xlabel() == "calibrated probability"
    cm = confusion_matrix_figure([[5, 1, 0, 0], [0, 4, 0, 0], [0, 0, 3, 1], [0, 0, 0, 2]], NAMES, True, "t")
    assert cm.axes[0].get_title() == "t" and cm.axes[0].get_ylabel() == "true class"
    table = reliability(np.eye(4)[[0, 1, 2, 3]], np.array([0, 1, 2, 3]))
    assert "ECE" in reliability_figure(table["bins"], table["ece"], "Calibration").axes[0].get_title()
    curves = training_curves({"stage1_head": {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}})
    assert curves.axes[0].get_title() == "Training loss"
    bars = class_distribution({"Training": {"a": 3}, "Testing": {"a": 1}}, ["a"], ["A"])
    assert bars.axes[0].get_ylabel() == "images"
