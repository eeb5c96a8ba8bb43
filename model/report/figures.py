"""Matplotlib figures shared by the app's pages, with one colour per class everywhere."""

from __future__ import annotations

import textwrap
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from model.i18n import N_, _, number, pct  # noqa: E402
from model.schema.card import CLASS_DIRS, History  # noqa: E402
from model.schema.records import MethodSummary  # noqa: E402
from model.schema.tables import Calibration, ClassificationScores  # noqa: E402

CLASS_COLOURS: dict[str, str] = {
    "glioma_tumor": "#d1495b",
    "meningioma_tumor": "#edae49",
    "no_tumor": "#00798c",
    "pituitary_tumor": "#6a4c93",
}


def class_colours(class_dirs: Sequence[str] = CLASS_DIRS) -> list[str]:
    return [CLASS_COLOURS.get(c, "#888888") for c in class_dirs]


def probability_bars(
    probabilities: Sequence[float], class_names: Sequence[str], class_dirs: Sequence[str] = CLASS_DIRS
) -> Figure:
    figure, axis = plt.subplots(figsize=(4.2, 2.2), layout="constrained")
    positions = np.arange(len(class_names))[::-1]
    axis.barh(positions, probabilities, color=class_colours(class_dirs))
    axis.set_yticks(positions, [_(n) for n in class_names])
    axis.set_xlim(0, 1)
    axis.set_xlabel(_("calibrated probability"))
    for y, p in zip(positions, probabilities):
        axis.text(min(p + 0.02, 0.86), y, pct(p, 0), va="center", fontsize=9)
    axis.spines[["top", "right"]].set_visible(False)
    return figure


# The Evaluation page shows three of these side by side, about 320 px wide each: at 12 pt a 4.8-inch figure's text
# is 11 px there (tests/test_figures.py measures it), where Matplotlib's 8-10 pt defaults gave 7-9 px.
READABLE_PT = 12
SHOWN_WIDTH_PX = 300  # a figure in one of three columns beside the sidebar at 1400 px (measured in Chromium)


def readable(figure: Figure, axes: Sequence[Any]) -> None:
    """Tick labels, axis labels and titles of `axes` at READABLE_PT at least."""
    for axis in axes:
        axis.tick_params(labelsize=READABLE_PT)
        for text in (axis.xaxis.label, axis.yaxis.label, axis.title):
            text.set_fontsize(max(READABLE_PT, text.get_fontsize()))


def confusion_matrix_figure(
    matrix: Sequence[Sequence[int]], class_names: Sequence[str], normalise: bool, title: str
) -> Figure:
    counts = np.asarray(matrix, dtype=float)
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalise else counts
    figure, axis = plt.subplots(figsize=(4.8, 4.2), layout="constrained")
    image = axis.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalise else max(values.max(), 1))
    for (row, col), value in np.ndenumerate(values):
        text = pct(value, 0) if normalise else f"{int(value)}"
        axis.text(
            col,
            row,
            text,
            ha="center",
            va="center",
            color="white" if value > (0.5 if normalise else values.max() / 2) else "black",
            fontsize=13,
        )
    labels = [_(n) for n in class_names]
    axis.set_xticks(range(len(class_names)), labels, rotation=30, ha="right")
    axis.set_yticks(range(len(class_names)), labels)
    axis.set_xlabel(_("predicted class"))
    axis.set_ylabel(_("true class"))
    axis.set_title(title)
    bar = figure.colorbar(image, ax=axis, shrink=0.8, label=_("share of the true class") if normalise else _("images"))
    readable(figure, [axis, bar.ax])
    return figure


def reliability_figure(calibration: Calibration, title: str) -> Figure:
    figure, axis = plt.subplots(figsize=(4.6, 4.2), layout="constrained")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label=_("perfect calibration"))
    filled = [b for b in calibration.bins if b.count]
    centres = [(b.low + b.high) / 2 for b in filled]
    width = filled[0].high - filled[0].low if filled else 0.1
    accuracy = np.array([b.accuracy for b in filled], dtype=float)  # a filled bin has both
    confidence = np.array([b.confidence for b in filled], dtype=float)
    axis.bar(
        centres,
        accuracy,
        width=width * 0.9,
        color="#00798c",
        alpha=0.8,
        label=_("accuracy in bin"),
    )
    axis.plot(
        confidence,
        accuracy,
        "o",
        color="#d1495b",
        label=_("mean confidence"),
    )
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel(_("confidence of the predicted class"))
    axis.set_ylabel(_("accuracy"))
    axis.set_title(f"{title} (ECE {number(calibration.ece, 3)})")
    axis.legend(loc="upper left", fontsize=READABLE_PT)
    readable(figure, [axis])
    return figure


STAGE_NAMES = {"stage1_head": N_("stage 1 head"), "stage2_finetune": N_("stage 2 finetune")}
CURVE_METRICS = (N_("loss"), N_("accuracy"))  # what training records per epoch, each in its own panel


def training_curves(history: History) -> Figure:
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    offset = 0
    for stage, curves in (("stage1_head", history.stage1_head), ("stage2_finetune", history.stage2_finetune)):
        epochs = np.arange(1, len(curves.get("loss", [])) + 1) + offset
        label = STAGE_NAMES.get(stage, stage)
        for axis, metric in zip(axes, CURVE_METRICS):
            if metric in curves:
                axis.plot(epochs, curves[metric], label=_("{curve}: train").format(curve=_(label)))
            if f"val_{metric}" in curves:
                axis.plot(
                    epochs,
                    curves[f"val_{metric}"],
                    linestyle="--",
                    label=_("{curve}: validation").format(curve=_(label)),
                )
        offset += len(epochs)
    for axis, metric in zip(axes, CURVE_METRICS):
        axis.set_xlabel(_("epoch (stage 1, then stage 2)"))
        axis.set_ylabel(_(metric))
        axis.set_title(_("Training {metric}").format(metric=_(metric)))
        axis.legend(fontsize=7)
    return figure


def class_distribution(
    counts: dict[str, dict[str, int]], class_dirs: Sequence[str], class_names: Sequence[str]
) -> Figure:
    """counts: split -> class_dir -> images."""
    figure, axis = plt.subplots(figsize=(7, 3), layout="constrained")
    splits = list(counts)
    width = 0.8 / len(class_dirs)
    for k, (class_dir, name, colour) in enumerate(zip(class_dirs, class_names, class_colours(class_dirs))):
        values = [counts[s].get(class_dir, 0) for s in splits]
        positions = np.arange(len(splits)) + (k - (len(class_dirs) - 1) / 2) * width
        bars = axis.bar(positions, values, width=width, color=colour, label=_(name))
        axis.bar_label(bars, fontsize=8)
    axis.set_xticks(range(len(splits)), splits)
    axis.set_ylabel(_("images"))
    axis.set_title(_("Images per class and split"))
    axis.legend(fontsize=8, ncols=2)
    return figure


def saliency_strip(
    prepared: np.ndarray, outline: np.ndarray, maps: dict[str, np.ndarray], colormap: str = "jet"
) -> Figure:
    """The scan, then each method's map over it, the expert outline drawn on every panel, one colour bar (0 to
    1). No words: drawn once by training, it is shown in every language; the page writes its caption."""
    figure, axes = plt.subplots(1, len(maps) + 1, figsize=(2.6 * (len(maps) + 1) + 0.6, 2.8), layout="constrained")
    axes[0].imshow(prepared)
    image = None
    for axis, heatmap in zip(axes[1:], maps.values()):
        axis.imshow(prepared)
        image = axis.imshow(heatmap, cmap=colormap, vmin=0, vmax=1, alpha=0.45)
    for axis in axes:
        axis.contour(outline, levels=[0.5], colors="white", linewidths=1.2)
        axis.set_axis_off()
    if image is not None:
        opaque = matplotlib.cm.ScalarMappable(norm=image.norm, cmap=image.cmap)
        figure.colorbar(opaque, ax=axes, shrink=0.8)
    return figure


def localisation_chart(table: dict[str, MethodSummary]) -> Figure:
    """Pointing game and energy share per method (bars, 95 % CI), baselines hatched, the outline's area dashed."""
    methods = [m for m, s in table.items() if s.n]
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained", sharey=True)
    scores = {
        "pointing_game": [(table[m].pointing_game, table[m].pointing_game_ci95) for m in methods],
        "energy_share": [(table[m].energy_share, table[m].energy_share_ci95) for m in methods],
    }
    limits = {
        "pointing_game": 1.0,
        "energy_share": min(1.0, 1.3 * max(ci[1] for value, ci in scores["energy_share"] if ci)),
    }
    for axis, metric, title in zip(axes, scores, (_("Pointing game"), _("Energy share"))):
        values = np.array([value for value, ci in scores[metric]])
        bounds = np.array([ci for value, ci in scores[metric]])
        errors = np.abs(bounds.T - values)
        bars = axis.barh(np.arange(len(methods))[::-1], values, xerr=errors, color="#00798c", capsize=3)
        for bar, method in zip(bars, methods):
            if "baseline" in method:
                bar.set_facecolor("#dddddd")
                bar.set_edgecolor("#888888")
                bar.set_hatch("//")
        axis.set_yticks(np.arange(len(methods))[::-1], [_(m) for m in methods], fontsize=8)
        axis.set_xlim(0, limits[metric])
        axis.set_title(title, fontsize=10)
        axis.spines[["top", "right"]].set_visible(False)
    area = table[methods[0]].area_share or 0.0  # over every scan: the first method ran on all of them
    axes[1].axvline(area, color="#d1495b", linestyle="--")
    axes[1].set_title(_("Energy share (dashed: outline's area, {area})").format(area=pct(area)), fontsize=10)
    axes[0].set_xlabel(_("share of scans whose map peak lands on the outline"))
    axes[1].set_xlabel(_("share of the map inside the outline"))
    return figure


def bar_label(text: str, figure: Figure, shrink: float) -> str:
    """A colour bar's label wrapped to the bar's height (about 12 characters of 10-point text per inch), so that
    a long label (the common scale's, a French one) stays inside the figure instead of being cut at both ends."""
    return textwrap.fill(text, max(12, int(figure.get_size_inches()[1] * shrink * 12)))


def _panel_title(title: str, width: int = 32) -> str:
    """Each line of a panel's title wrapped to the panel (about 32 characters of 10-point text in 3 inches)."""
    return "\n".join(textwrap.fill(line, width) for line in title.splitlines())


def explanation_figure(
    prepared: np.ndarray,
    maps: dict[str, np.ndarray],
    titles: dict[str, str],
    outline: np.ndarray | None,
    colormap: str,
    opacity: float,
    footer: str,
    scale_label: str,
) -> Figure:
    """The scan and each method's maps, three panels a row (so that four methods stay readable on the page), one
    shared colour bar, the outline when given, a footer."""
    panels = len(maps) + 1
    columns = min(panels, 3)
    rows = -(-panels // columns)
    figure, grid = plt.subplots(
        rows, columns, figsize=(3.0 * columns + 0.8, 3.5 * rows + 0.2), layout="constrained", squeeze=False
    )
    for spare in grid.flat[panels:]:
        spare.set_visible(False)
    axes = list(grid.flat[:panels])
    axes[0].imshow(prepared)
    axes[0].set_title(_("what the model sees"), fontsize=10)
    image = None
    for axis, (method, heatmap) in zip(axes[1:], maps.items()):
        axis.imshow(prepared)
        image = axis.imshow(heatmap, cmap=colormap, vmin=0, vmax=1, alpha=opacity)
        axis.set_title(_panel_title(titles[method]), fontsize=10)
    for axis in axes:
        if outline is not None:
            axis.contour(outline, levels=[0.5], colors="white", linewidths=1.2)
        axis.set_axis_off()
    if image is not None:
        opaque = matplotlib.cm.ScalarMappable(norm=image.norm, cmap=image.cmap)  # the bar without the overlay's alpha
        figure.colorbar(opaque, ax=axes, shrink=0.85, label=bar_label(scale_label, figure, 0.85))
    width_inches = figure.get_size_inches()[0]  # about 14 characters of 8-point text per inch
    figure.supxlabel(textwrap.fill(footer, int(width_inches * 14)), fontsize=8, color="#555555", x=0.01, ha="left")
    return figure


def roc_pr_figure(subset: ClassificationScores, title: str) -> Figure:
    """One-vs-rest ROC and precision-recall curves of every class, with their areas in the legend."""
    figure, (roc, pr) = plt.subplots(1, 2, figsize=(9.6, 4.2), layout="constrained")
    for (name, values), colour in zip(subset.one_vs_rest.items(), class_colours()):
        if values.roc_curve is None or values.pr_curve is None:
            continue
        roc.plot(
            values.roc_curve.fpr,
            values.roc_curve.tpr,
            color=colour,
            label=f"{_(name)} ({number(values.roc_auc or 0.0, 3)})",
        )
        pr.plot(
            values.pr_curve.recall,
            values.pr_curve.precision,
            color=colour,
            label=f"{_(name)} ({number(values.average_precision or 0.0, 3)})",
        )
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    roc.set(xlabel=_("1 - specificity"), ylabel=_("sensitivity"), title=_("{title}: ROC (AUC)").format(title=title))
    pr.set(
        xlabel=_("recall (sensitivity)"),
        ylabel=_("precision (PPV)"),
        title=_("{title}: precision-recall (AP)").format(title=title),
    )
    for axis in (roc, pr):
        axis.legend(fontsize=8, loc="lower left" if axis is pr else "lower right")
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1.02)
    return figure
