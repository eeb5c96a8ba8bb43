"""Command line: `python -m training {train,evaluate,audit} --help`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train the classifier on DIR/Training and write the artifact")
    train.add_argument("--data-dir", type=Path, required=True, help="folder holding Training/<class>/*.jpg")
    train.add_argument("--out-dir", type=Path, default=None, help="where the artifact goes (default: model/artifacts)")
    train.add_argument("--run-dir", type=Path, default=None, help="checkpoints and candidates (default: runs/<time>)")
    train.add_argument("--backbone", choices=["xception", "tiny"], default="xception")
    train.add_argument("--image-size", type=int, default=299)
    train.add_argument("--views", type=int, default=5, help="cached views per image: clean, mirrored, augmented...")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--head-epochs", type=int, default=60)
    train.add_argument("--finetune-epochs", type=int, default=15)

    evaluate = commands.add_parser("evaluate", help="score the artifact on a split, whole and leakage-clean")
    evaluate.add_argument("--data-dir", type=Path, required=True)
    evaluate.add_argument("--split", default="Testing")
    evaluate.add_argument("--artifact-dir", type=Path, default=None, help="default: model/artifacts")
    evaluate.add_argument("--out", type=Path, required=True, help="JSON file to write")
    evaluate.add_argument("--gallery-dir", type=Path, default=None, help="also save misclassified scans here")

    audit = commands.add_parser("audit", help="exact and near-duplicate audit within and across splits")
    audit.add_argument("--data-dir", type=Path, required=True)
    audit.add_argument("--out", type=Path, required=True)
    audit.add_argument("--examples-dir", type=Path, default=None, help="also save example thumbnails here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "train":
        from model.card import ARTIFACT_DIR
        from training.train import TrainConfig, train

        config = TrainConfig(
            data_dir=args.data_dir, out_dir=args.out_dir or ARTIFACT_DIR, run_dir=args.run_dir, backbone=args.backbone,
            image_size=args.image_size, views=args.views, seed=args.seed, head_epochs=args.head_epochs,
            finetune_epochs=args.finetune_epochs,
        )
        card = train(config)
        print(json.dumps({"validation": card["validation"]["candidates_accuracy"], "timings": card["timings"]}, indent=2))
    elif args.command == "evaluate":
        from model.card import ARTIFACT_DIR
        from training.evaluate import evaluate

        report = evaluate(args.data_dir, args.split, args.artifact_dir or ARTIFACT_DIR, args.out, args.gallery_dir)
        print(json.dumps({k: report[k]["accuracy"] for k in ("full", "leakage_clean")}, indent=2))
    elif args.command == "audit":
        from training.audit import audit

        report = audit(args.data_dir, args.out, args.examples_dir)
        print(json.dumps(report["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
