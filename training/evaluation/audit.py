"""Duplicate and leakage audit of the dataset, within and across splits.

Writes the JSON the Dataset page reads, and optionally small example
thumbnails so that page works without the dataset.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from model.core.decode import decode_file
from model.schema.card import CLASS_DIRS, CLASS_LABELS
from model.schema.records import Audit, write
from training.data.duplicates import NEAR_DUPLICATE_DISTANCE, ImageHashes, cross_match, duplicate_groups, hash_images
from training.data.listing import TEST_SPLIT, TRAIN_SPLIT, Sample, fingerprint, list_split
from training.data.masks import label_conflicts

THUMBNAIL = 160
EXAMPLES_PER_CLASS = 6
LEAK_PAIRS = 8


def _within(samples: Sequence[Sample], hashes: ImageHashes, data_dir: Path) -> dict[str, Any]:
    exact = defaultdict(list)
    for sample, sha in zip(samples, hashes.sha256):
        exact[sha].append(sample)
    exact_groups = [g for g in exact.values() if len(g) > 1]
    near = defaultdict(list)
    for sample, group in zip(samples, duplicate_groups(hashes)):
        near[int(group)].append(sample)
    near_groups = [g for g in near.values() if len(g) > 1]
    conflicting = [g for g in near_groups if len({s.label for s in g}) > 1]
    return {
        "images": len(samples),
        "class_counts": dict(Counter(CLASS_DIRS[s.label] for s in samples)),
        "exact_duplicate_groups": len(exact_groups),
        "images_in_exact_groups": sum(len(g) for g in exact_groups),
        "near_duplicate_groups": len(near_groups),
        "images_in_near_groups": sum(len(g) for g in near_groups),
        "conflicting_label_groups": [
            [{"path": s.relative(data_dir), "class_dir": CLASS_DIRS[s.label]} for s in g] for g in conflicting
        ],
    }


def _thumbnail(path: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(decode_file(path).rgb).convert("L").resize((THUMBNAIL, THUMBNAIL)).save(target, quality=85)


def _label_conflicts(data_dir: Path, masks_dir: Path, examples_dir: Path | None) -> list[dict[str, Any]]:
    """Scans whose Kaggle class differs from figshare's label for the same slice, with a thumbnail each."""
    conflicts = []
    for row in label_conflicts(masks_dir):
        entry: dict[str, Any] = {
            "scan": row.scan,
            "class_dir": row.class_dir,
            "figshare_label": row.figshare_label,
            "figshare_index": row.figshare_index,
        }
        if examples_dir is not None:
            entry["image"] = f"conflicts/{row.split}_{Path(row.file).stem}.jpg".replace(" ", "_")
            _thumbnail(data_dir / row.scan, examples_dir / entry["image"])
        conflicts.append(entry)
    return conflicts


def audit(
    data_dir: Path, out: Path, examples_dir: Path | None = None, seed: int = 0, masks_dir: Path | None = None
) -> Audit:
    """`masks_dir`: the expert outlines folder, whose index also lists where figshare labels a slice otherwise."""
    data_dir = Path(data_dir)
    train, test = list_split(data_dir, TRAIN_SPLIT), list_split(data_dir, TEST_SPLIT)
    train_hashes = hash_images([s.path for s in train], "hashing Training")
    test_hashes = hash_images([s.path for s in test], "hashing Testing")
    match = cross_match(test_hashes, train_hashes)
    leaked = match.leaked(NEAR_DUPLICATE_DISTANCE)

    pairs = []
    for i, sample in enumerate(test):
        if leaked[i]:
            reference = train[int(match.nearest[i])]
            pairs.append(
                {
                    "test": sample.relative(data_dir),
                    "training": reference.relative(data_dir),
                    "test_class": CLASS_DIRS[sample.label],
                    "training_class": CLASS_DIRS[reference.label],
                    "exact": bool(match.exact[i]),
                    "phash_distance": int(match.distance[i]),
                }
            )
    per_class = {
        c: {
            "images": int(sum(s.label == k for s in test)),
            "leaked": int(sum(s.label == k and leaked[i] for i, s in enumerate(test))),
            "exact": int(sum(s.label == k and match.exact[i] for i, s in enumerate(test))),
        }
        for k, c in enumerate(CLASS_DIRS)
    }
    report: dict[str, Any] = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset_fingerprint_sha256": fingerprint(train + test, data_dir),
        "near_duplicate_rule": f"byte-identical or pHash Hamming distance <= {NEAR_DUPLICATE_DISTANCE}",
        "class_names": {c: CLASS_LABELS[c] for c in CLASS_DIRS},
        "splits": {
            TRAIN_SPLIT: _within(train, train_hashes, data_dir),
            TEST_SPLIT: _within(test, test_hashes, data_dir),
        },
        "cross_split": {
            "per_class": per_class,
            "pairs": pairs,
            "label_disagreements": [p for p in pairs if p["test_class"] != p["training_class"]],
        },
        "summary": {
            "training_images": len(train),
            "testing_images": len(test),
            "testing_leaked": int(leaked.sum()),
            "testing_exact_copies": int(match.exact.sum()),
            "testing_leakage_clean": int((~leaked).sum()),
        },
    }
    if masks_dir is not None:
        report["label_conflicts"] = _label_conflicts(data_dir, masks_dir, examples_dir)
    if examples_dir is not None:
        report["examples"] = _write_examples(data_dir, train, test, pairs, examples_dir, seed)
    return write(Audit, out, report, indent=1)


def _write_examples(
    data_dir: Path, train: list[Sample], test: list[Sample], pairs: list[dict[str, Any]], examples_dir: Path, seed: int
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    grid: dict[str, list[str]] = {}
    for k, class_dir in enumerate(CLASS_DIRS):
        members = [s for s in train if s.label == k]
        chosen = rng.choice(len(members), size=min(EXAMPLES_PER_CLASS, len(members)), replace=False)
        grid[class_dir] = []
        for j in sorted(chosen):
            name = f"grid/{class_dir}_{j}.jpg"
            _thumbnail(members[j].path, examples_dir / name)
            grid[class_dir].append(name)
    shown = []
    for index in rng.choice(len(pairs), size=min(LEAK_PAIRS, len(pairs)), replace=False) if pairs else []:
        pair = pairs[int(index)]
        names = {}
        for side in ("test", "training"):
            name = f"pairs/{int(index)}_{side}.jpg"
            _thumbnail(data_dir / pair[side], examples_dir / name)
            names[side] = name
        shown.append({**pair, "test_image": names["test"], "training_image": names["training"]})
    return {"grid": grid, "leak_pairs": shown}
