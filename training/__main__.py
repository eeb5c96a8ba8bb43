"""Command line: `python -m training {train,evaluate,audit} --help`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from training.config import TrainConfig, default  # noqa: E402  (no TensorFlow: --help stays fast)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train the classifier on DIR/Training and write the artifact")
    train.add_argument("--data-dir", type=Path, required=True, help="folder holding Training/<class>/*.jpg")
    train.add_argument("--out-dir", type=Path, default=default("out_dir"), help="where the artifact goes")
    train.add_argument("--run-dir", type=Path, default=None, help="checkpoints and candidates (default: runs/<time>)")
    train.add_argument("--backbone", choices=["xception", "tiny"], default=default("backbone"))
    train.add_argument("--image-size", type=int, default=default("image_size"))
    train.add_argument(
        "--views", type=int, default=default("views"), help="cached views per image: clean, mirrored, augmented..."
    )
    train.add_argument("--seed", type=int, default=default("seed"))
    train.add_argument("--head-epochs", type=int, default=default("head_epochs"))
    train.add_argument("--finetune-epochs", type=int, default=default("finetune_epochs"))
    train.add_argument("--finetune-learning-rate", type=float, default=default("finetune_learning_rate"))
    train.add_argument("--mixup", type=float, default=default("mixup"), help="stage-2 manifold mixup Beta (0: off)")
    train.add_argument("--label-smoothing", type=float, default=default("label_smoothing"), help="of both stages' loss")
    train.add_argument(
        "--attention-weight",
        type=float,
        default=default("attention_weight"),
        help="stage-2 outline-guided attention term (0: off)",
    )
    train.add_argument("--masks-dir", type=Path, default=None, help="expert outlines folder (for --attention-weight)")
    evaluate = commands.add_parser("evaluate", help="score the artifact on a split, whole and leakage-clean")
    evaluate.add_argument("--data-dir", type=Path, required=True)
    evaluate.add_argument("--split", default="Testing")
    evaluate.add_argument("--artifact-dir", type=Path, default=None, help="default: model/artifacts")
    evaluate.add_argument("--out", type=Path, required=True, help="JSON file to write")
    evaluate.add_argument("--gallery-dir", type=Path, default=None, help="also save misclassified scans here")
    evaluate.add_argument(
        "--masks-dir", type=Path, default=None, help="outlines folder: also score without label conflicts"
    )
    evaluate.add_argument(
        "--runtime",
        choices=["auto", "tensorflow"],
        default="auto",
        help="auto: as the app classifies (the ONNX export when the card lists one); tensorflow: the Keras model",
    )

    everything = commands.add_parser("report", help="evaluate, trust, robustness, ood and readme in one go")
    everything.add_argument("--data-dir", type=Path, required=True)
    everything.add_argument("--masks-dir", type=Path, default=None, help="outlines folder (label conflicts)")
    everything.add_argument("--artifact-dir", type=Path, default=None, help="default: model/artifacts")

    candidates = commands.add_parser("candidates", help="score every candidate a training run saved, once")
    candidates.add_argument("--data-dir", type=Path, required=True)
    candidates.add_argument("--run-dir", type=Path, required=True)
    candidates.add_argument("--out", type=Path, default=None, help="default: model/artifacts/candidates.json")
    candidates.add_argument(
        "--masks-dir", type=Path, default=None, help="outlines folder: also score the run's choice's Grad-CAM"
    )

    rescore = commands.add_parser("rescore", help="score trained artifacts on their run's validation views again")
    rescore.add_argument("--data-dir", type=Path, required=True)
    rescore.add_argument("artifact_dirs", type=Path, nargs="+", metavar="ARTIFACT_DIR")
    rescore.add_argument(
        "--out",
        type=Path,
        default=None,
        help="also write the rows here (README: model/artifacts/validation_rescore.json)",
    )

    audit = commands.add_parser("audit", help="exact and near-duplicate audit within and across splits")
    audit.add_argument("--data-dir", type=Path, required=True)
    audit.add_argument("--out", type=Path, required=True)
    audit.add_argument("--examples-dir", type=Path, default=None, help="also save example thumbnails here")
    audit.add_argument("--masks-dir", type=Path, default=None, help="outlines folder: also list label conflicts")
    refit = commands.add_parser("guard", help="fit the not-a-brain-MRI guard of an artifact again (no training)")
    refit.add_argument("--data-dir", type=Path, required=True)
    refit.add_argument("--artifact-dir", type=Path, default=None, help="default: model/artifacts")
    slim = commands.add_parser("slim", help="rewrite an artifact's weights without the ImageNet arrays (bit-identical)")
    slim.add_argument("--artifact-dir", type=Path, default=None, help="default: model/artifacts")
    guard = commands.add_parser("ood", help="measure the not-a-brain-MRI guard against non-MRI images")
    guard.add_argument("--data-dir", type=Path, required=True)
    guard.add_argument("--split", default="Testing")
    guard.add_argument("--artifact-dir", type=Path, default=None)
    guard.add_argument("--out", type=Path, required=True)
    screenshots = commands.add_parser("screenshots", help="capture the app's pages for the guard's held-out set")
    screenshots.add_argument("--scan", type=Path, required=True, help="a scan to upload on the Classify page")
    saliency = commands.add_parser("saliency", help="score every saliency method against expert tumour outlines")
    saliency.add_argument("--data-dir", type=Path, required=True)
    saliency.add_argument("--masks-dir", type=Path, required=True, help="the outlines folder (see README)")
    saliency.add_argument("--artifact-dir", type=Path, default=None, help="default: model/artifacts")
    saliency.add_argument("--out", type=Path, required=True, help="JSON file to write (gallery images go beside it)")
    saliency.add_argument("--methods", nargs="+", default=None, help="default: every method the app offers")
    saliency.add_argument("--max-slow-scans", type=int, default=60, help="Score-CAM/SmoothGrad subsample per subset")
    saliency.add_argument("--no-sanity", action="store_true", help="skip the model-randomisation check")
    masks = commands.add_parser("masks", help="rebuild the outlines folder from the figshare release (.mat files)")
    masks.add_argument("--figshare-dir", type=Path, required=True, help="folder of figshare's 1.mat ... 3064.mat")
    masks.add_argument("--data-dir", type=Path, required=True)
    masks.add_argument("--out", type=Path, required=True)
    outlines = commands.add_parser("outlines", help="pack the outlines the app shows into model/artifacts")
    outlines.add_argument("--data-dir", type=Path, required=True)
    outlines.add_argument("--masks-dir", type=Path, required=True)
    outlines.add_argument("--out", type=Path, default=None, help="default: model/artifacts/outlines.npz")
    trust = commands.add_parser("trust", help="fit prediction sets and the referral threshold on validation")
    trust.add_argument("--data-dir", type=Path, required=True)
    trust.add_argument("--artifact-dir", type=Path, default=None, help="default: model/artifacts")
    trust.add_argument("--out", type=Path, default=None, help="default: model/artifacts/trust.json")
    robust = commands.add_parser("robustness", help="accuracy under acquisition changes, severities 1-5")
    robust.add_argument("--data-dir", type=Path, required=True)
    robust.add_argument("--artifact-dir", type=Path, default=None, help="default: model/artifacts")
    robust.add_argument("--out", type=Path, default=None, help="default: model/artifacts/robustness.json")
    robust.add_argument("--validation-sample", type=int, default=None, help="validation scans (default 100, seeded)")
    samples = commands.add_parser("samples", help="pick the sample scans bundled with the app")
    samples.add_argument("--data-dir", type=Path, required=True)
    samples.add_argument("--evaluation", type=Path, default=None, help="default: model/artifacts/evaluation.json")
    samples.add_argument("--out-dir", type=Path, default=None, help="default: model/artifacts/samples")
    samples.add_argument(
        "--saliency", type=Path, default=None, help="default: model/artifacts/saliency_evaluation.json"
    )
    samples.add_argument("--masks-dir", type=Path, default=None, help="outlines folder: also pick outlined scans")

    export = commands.add_parser("export", help="add the ONNX export to an artifact (train does this itself)")
    export.add_argument("--artifact-dir", type=Path, default=None, help="default: model/artifacts")
    commands.add_parser("readme", help="rewrite the README's results section from the committed JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "train":
        from training.train import train

        config = TrainConfig(
            data_dir=args.data_dir,
            out_dir=args.out_dir,
            run_dir=args.run_dir,
            backbone=args.backbone,
            image_size=args.image_size,
            views=args.views,
            seed=args.seed,
            head_epochs=args.head_epochs,
            finetune_epochs=args.finetune_epochs,
            finetune_learning_rate=args.finetune_learning_rate,
            mixup=args.mixup,
            label_smoothing=args.label_smoothing,
            attention_weight=args.attention_weight,
            masks_dir=args.masks_dir,
        )
        card = train(config)
        print(
            json.dumps({"validation": card["validation"]["candidates_accuracy"], "timings": card["timings"]}, indent=2)
        )
    elif args.command == "evaluate":
        from model.card import ARTIFACT_DIR
        from training.evaluate import evaluate

        report = evaluate(
            args.data_dir,
            args.split,
            args.artifact_dir or ARTIFACT_DIR,
            args.out,
            args.gallery_dir,
            args.runtime,
            args.masks_dir,
        )
        accuracy = {"full": report.full["accuracy"], "leakage_clean": report.leakage_clean["accuracy"]}
        print(json.dumps(accuracy, indent=2))
    elif args.command == "report":
        from model.card import ARTIFACT_DIR
        from training.report import report

        timings = report(args.data_dir, args.masks_dir, args.artifact_dir or ARTIFACT_DIR)
        print(json.dumps({step: round(seconds) for step, seconds in timings.items()}, indent=2))
    elif args.command == "candidates":
        from model.card import ARTIFACT_DIR, CANDIDATES_FILE
        from training.evaluate import evaluate_candidates

        summary = evaluate_candidates(
            args.data_dir, args.run_dir, args.out or ARTIFACT_DIR / CANDIDATES_FILE, masks_dir=args.masks_dir
        )
        print(json.dumps(summary, indent=2))
    elif args.command == "rescore":
        from training.rescore import rescore, write_rows

        rows = rescore(args.data_dir, args.artifact_dirs)
        if args.out is not None:
            write_rows(args.out, rows)
        print(json.dumps(rows, indent=2))
    elif args.command == "audit":
        from training.audit import audit

        report = audit(args.data_dir, args.out, args.examples_dir, masks_dir=args.masks_dir)
        print(json.dumps(report.summary, indent=2))
    elif args.command == "guard":
        from model.card import ARTIFACT_DIR
        from training.guard import refit_guard

        print(json.dumps(refit_guard(args.artifact_dir or ARTIFACT_DIR, args.data_dir), indent=2))
    elif args.command == "slim":
        from model.card import ARTIFACT_DIR
        from training.artifact import slim_weights

        print(json.dumps(slim_weights(args.artifact_dir or ARTIFACT_DIR), indent=2))
    elif args.command == "ood":
        from model.card import ARTIFACT_DIR
        from training.ood_eval import evaluate_guard

        report = evaluate_guard(args.data_dir, args.split, args.artifact_dir or ARTIFACT_DIR, args.out)
        summary = {"auroc": report.auroc, "in_distribution": report.in_distribution, "per_part": report.per_part}
        print(json.dumps(summary | {"out_of_distribution": report.out_of_distribution}, indent=2))
    elif args.command == "screenshots":
        from training.screenshots import capture_screenshots

        print("\n".join(str(p) for p in capture_screenshots(args.scan)))
    elif args.command == "saliency":
        from model.card import ARTIFACT_DIR
        from model.maps import METHODS
        from training.saliency import evaluate_saliency

        report = evaluate_saliency(
            args.data_dir,
            args.masks_dir,
            args.artifact_dir or ARTIFACT_DIR,
            args.out,
            args.methods or METHODS,
            args.max_slow_scans,
            sanity=not args.no_sanity,
        )
        print(json.dumps({s: t["groups"]["all"] for s, t in report.tables.items()}, indent=1))
    elif args.command == "masks":
        from training.masks import rebuild_masks

        print(f"{rebuild_masks(args.figshare_dir, args.data_dir, args.out)} outlines written to {args.out}")
    elif args.command == "outlines":
        from model.card import ARTIFACT_DIR
        from model.outlines import OUTLINES_FILE
        from training.masks import build_outline_bank

        out = args.out or ARTIFACT_DIR / OUTLINES_FILE
        print(f"{build_outline_bank(args.data_dir, args.masks_dir, out)} outlines packed into {out}")
    elif args.command == "trust":
        from model.card import ARTIFACT_DIR, TRUST_FILE
        from training.trust import evaluate_trust

        folder = args.artifact_dir or ARTIFACT_DIR
        report = evaluate_trust(args.data_dir, folder, args.out or folder / TRUST_FILE)
        print(
            json.dumps(
                {"qhat": report.qhat, "referral_threshold": report.referral_threshold, "sets": report.sets}, indent=2
            )
        )
    elif args.command == "robustness":
        from model.card import ARTIFACT_DIR, ROBUSTNESS_FILE
        from training.robustness import VALIDATION_SAMPLE, evaluate_robustness

        folder = args.artifact_dir or ARTIFACT_DIR
        out = args.out or folder / ROBUSTNESS_FILE
        report = evaluate_robustness(args.data_dir, folder, out, args.validation_sample or VALIDATION_SAMPLE)
        print(json.dumps({s: t["none"]["accuracy"] for s, t in report.results.items()}, indent=2))
    elif args.command == "samples":
        from model.card import ARTIFACT_DIR, EVALUATION_FILE, SALIENCY_FILE, SAMPLES_DIR
        from training.samples import write_outlined_samples, write_samples

        evaluation, out_dir = args.evaluation or ARTIFACT_DIR / EVALUATION_FILE, args.out_dir or SAMPLES_DIR
        written = write_samples(args.data_dir, evaluation, out_dir)
        if args.masks_dir is not None:
            saliency = args.saliency or ARTIFACT_DIR / SALIENCY_FILE
            written += write_outlined_samples(args.data_dir, evaluation, saliency, args.masks_dir, out_dir)
        print("\n".join(str(p) for p in written))
    elif args.command == "export":
        from model.card import ARTIFACT_DIR
        from training.export import export_artifact

        print(json.dumps(export_artifact(args.artifact_dir or ARTIFACT_DIR), indent=2))
    elif args.command == "readme":
        from training.readme import update

        print("README updated" if update() else "README already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
