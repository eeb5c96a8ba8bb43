"""Rows and sentences of the Testing evaluation and the dataset audit, for the pages and the README alike.

The JSON files are written by `python -m training evaluate` and `audit`; the wording of what they say lives here.
"""

from __future__ import annotations

from typing import Any

SUBSETS = {
    "full": "whole split",
    "leakage_clean": "leakage-clean (new scans)",
    "leaked_copies": "copies of training scans",
}


def accuracy_with_ci(subset: dict[str, Any]) -> str:
    low, high = subset["accuracy_ci95"]
    return f"{subset['accuracy']:.1%} ({low:.1%}–{high:.1%})"


def subset_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per Testing subset: images, accuracy with its 95 % CI, balanced accuracy, macro F1, ECE."""
    return [
        {
            "Testing subset": label,
            "images": report[key]["n"],
            "accuracy (95 % CI)": accuracy_with_ci(report[key]),
            "balanced acc.": f"{report[key]['balanced_accuracy']:.1%}",
            "macro F1": f"{report[key]['macro_f1']:.1%}",
            "ECE": f"{report[key]['calibration']['ece']:.3f}",
        }
        for key, label in SUBSETS.items()
    ]


def per_class_rows(subset: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "class": name,
            "precision": f"{values['precision']:.1%}",
            "recall": f"{values['recall']:.1%}",
            "F1": f"{values['f1']:.1%}",
            "support": values["support"],
        }
        for name, values in subset["per_class"].items()
    ]


def label_conflict_sentence(report: dict[str, Any]) -> str:
    """Testing accuracy without the scans whose class figshare's radiologists label otherwise ('' when unscored)."""
    without = report.get("without_label_conflicts")
    if not without:
        return ""
    return (
        f"{report['label_conflicts']} Testing scans carry a class that the figshare dataset, where radiologists "
        f"outlined each tumour, labels otherwise (see Dataset). Without them, accuracy on the whole split is "
        f"{accuracy_with_ci(without)} over {without['n']} scans."
    )


def audit_sentence(audit: dict[str, Any]) -> str:
    """How much of Testing copies Training, and how much Training copies itself."""
    summary, training = audit["summary"], audit["splits"]["Training"]
    return (
        f"**{summary['testing_leaked']} of {summary['testing_images']} Testing scans are copies of Training scans** "
        f"({summary['testing_exact_copies']} byte-identical; rule: {audit['near_duplicate_rule']}); only "
        f"{summary['testing_leakage_clean']} are new. Inside Training, {training['images_in_near_groups']} scans fall "
        f"into {training['near_duplicate_groups']} groups of near duplicates, which is why the validation split keeps "
        "each group on one side."
    )
