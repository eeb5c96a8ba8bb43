"""Command line: `python -m training COMMAND --help`; one function per command, training options from TrainConfig.

Each command imports what it needs when it runs, so `--help` answers without loading TensorFlow.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any, cast

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import click  # noqa: E402
import typer  # noqa: E402

from model.core.registry import BACKBONES  # noqa: E402
from model.schema.card import ARTIFACT_DIR, SAMPLES_DIR, plain_json  # noqa: E402  (no TensorFlow: --help stays fast)
from training.fitting.config import TrainConfig, default  # noqa: E402

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

DataDir = Annotated[Path, typer.Option(help="folder holding Training/<class>/*.jpg (and Testing/)")]
ExtraDataDirs = Annotated[
    list[Path] | None, typer.Option(help="another source in the manifest layout (manifest.csv); repeatable")
]
ArtifactDir = Annotated[Path, typer.Option(help="the artifact folder")]
MasksDir = Annotated[Path | None, typer.Option(help="the expert outlines folder (see README)")]
Out = Annotated[Path, typer.Option(help="JSON file to write")]
OptionalOut = Annotated[Path | None, typer.Option(help="JSON file to write (default: beside the artifact)")]


def _show(value: Any) -> None:
    print(json.dumps(value, indent=2, default=plain_json))  # typed tables as the JSON files hold them


@app.callback()
def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def train(
    data_dir: DataDir,
    extra_data_dir: ExtraDataDirs = None,
    out_dir: Annotated[Path, typer.Option(help="where the artifact goes")] = default("out_dir"),
    run_dir: Annotated[Path | None, typer.Option(help="checkpoints and candidates (default: runs/<time>)")] = None,
    backbone: Annotated[str, typer.Option(click_type=click.Choice(sorted(BACKBONES)))] = default("backbone"),
    image_size: int = default("image_size"),
    views: Annotated[int, typer.Option(help="cached views per image: clean, mirrored, augmented...")] = default(
        "views"
    ),
    seed: int = default("seed"),
    head_epochs: int = default("head_epochs"),
    finetune_epochs: int = default("finetune_epochs"),
    finetune_learning_rate: float = default("finetune_learning_rate"),
    patience: Annotated[
        int, typer.Option(help="stage-2 epochs without a better worst group before it stops")
    ] = default("patience"),
    mixup: Annotated[float, typer.Option(help="stage-2 manifold mixup Beta (0: off)")] = default("mixup"),
    label_smoothing: Annotated[float, typer.Option(help="of both stages' loss")] = default("label_smoothing"),
    attention_weight: Annotated[float, typer.Option(help="stage-2 outline-guided attention term (0: off)")] = default(
        "attention_weight"
    ),
    masks_dir: MasksDir = None,
    init_from: Annotated[
        Path | None, typer.Option(help="an artifact whose weights stage 2 starts from (instead of a new head)")
    ] = None,
    balance_sources: Annotated[
        bool, typer.Option(help="draw every source, and every sequence inside one, alike")
    ] = default("balance_sources"),
) -> None:
    """Train the classifier on DATA_DIR/Training and write the artifact."""
    from training.fitting.train import train as run_training

    config = TrainConfig(
        data_dir=data_dir,
        extra_data_dirs=tuple(extra_data_dir or ()),
        out_dir=out_dir,
        run_dir=run_dir,
        backbone=backbone,
        image_size=image_size,
        views=views,
        seed=seed,
        head_epochs=head_epochs,
        finetune_epochs=finetune_epochs,
        finetune_learning_rate=finetune_learning_rate,
        patience=patience,
        mixup=mixup,
        label_smoothing=label_smoothing,
        attention_weight=attention_weight,
        masks_dir=masks_dir,
        init_from=init_from,
        balance_sources=balance_sources,
    )
    card = run_training(config)
    _show({"validation": card.validation and card.validation.candidates_accuracy, "timings": card.timings})


@app.command()
def evaluate(
    data_dir: DataDir,
    out: Out,
    split: str = "Testing",
    artifact_dir: ArtifactDir = ARTIFACT_DIR,
    gallery_dir: Annotated[Path | None, typer.Option(help="also save misclassified scans here")] = None,
    masks_dir: MasksDir = None,
    runtime: Annotated[
        str,
        typer.Option(
            click_type=click.Choice(["auto", "tensorflow"]),
            help="auto: as the app classifies (the ONNX export when the card lists one); tensorflow: the Keras model",
        ),
    ] = "auto",
) -> None:
    """Score the artifact on a split, whole and leakage-clean (with MASKS_DIR also without label conflicts)."""
    from model.core.predict import Runtime
    from training.evaluation.evaluate import evaluate as run_evaluation

    chosen = cast(Runtime, runtime)  # one of the click choices above
    report = run_evaluation(data_dir, split, artifact_dir, out, gallery_dir, chosen, masks_dir)
    _show({"full": report.full.accuracy, "leakage_clean": report.leakage_clean and report.leakage_clean.accuracy})


@app.command()
def report(data_dir: DataDir, masks_dir: MasksDir = None, artifact_dir: ArtifactDir = ARTIFACT_DIR) -> None:
    """Evaluate, trust, robustness, ood and readme in one go."""
    from training.evaluation.report import report as run_report

    _show({step: round(seconds) for step, seconds in run_report(data_dir, masks_dir, artifact_dir).items()})


@app.command()
def candidates(
    data_dir: DataDir,
    run_dir: Annotated[Path, typer.Option(help="the training run's folder")],
    out: OptionalOut = None,
    masks_dir: MasksDir = None,
) -> None:
    """Score every candidate a training run saved, once (with MASKS_DIR also the run's choice's Grad-CAM)."""
    from model.schema.records import Candidates
    from training.evaluation.evaluate import evaluate_candidates

    _show(evaluate_candidates(data_dir, run_dir, out or ARTIFACT_DIR / Candidates.FILE, masks_dir=masks_dir))


@app.command(name="scan-type")
def scan_type(
    data_dir: DataDir,
    artifact_dir: ArtifactDir = ARTIFACT_DIR,
    extra_data_dir: ExtraDataDirs = None,
    out: OptionalOut = None,
) -> None:
    """Fit the scan-type recogniser (sequence, skull-stripped) on the run's split and add it to the artifact."""
    from model.schema.records import ScanTypeEvaluation
    from training.fitting.scan_type import fit_scan_type

    out = out or artifact_dir / ScanTypeEvaluation.FILE
    _show(fit_scan_type(artifact_dir, data_dir, out, tuple(extra_data_dir or ()))["validation"])


@app.command()
def rescore(
    data_dir: DataDir,
    artifact_dirs: Annotated[list[Path], typer.Argument(help="artifact folders to score")],
    extra_data_dir: ExtraDataDirs = None,
    shipped: ArtifactDir = ARTIFACT_DIR,
    out: Annotated[Path | None, typer.Option(help="also write the rows and their verdicts here")] = None,
) -> None:
    """Score trained artifacts by the selection rule on the clean validation views of a run with these sources."""
    from model.schema.card import load_card
    from training.evaluation.rescore import rescore as run_rescore
    from training.evaluation.rescore import write_rows

    config = TrainConfig(data_dir=data_dir, extra_data_dirs=tuple(extra_data_dir or ()))
    rows = run_rescore(config, artifact_dirs)
    _show(rows if out is None else write_rows(out, config, rows, load_card(shipped).weights_sha256).rows)


@app.command()
def audit(
    data_dir: DataDir,
    out: Out,
    examples_dir: Annotated[Path | None, typer.Option(help="also save example thumbnails here")] = None,
    masks_dir: MasksDir = None,
) -> None:
    """Exact and near-duplicate audit within and across splits (with MASKS_DIR also label conflicts)."""
    from training.evaluation.audit import audit as run_audit

    _show(run_audit(data_dir, out, examples_dir, masks_dir=masks_dir).summary)


@app.command()
def guard(data_dir: DataDir, artifact_dir: ArtifactDir = ARTIFACT_DIR) -> None:
    """Fit the not-a-brain-MRI guard of an artifact again (no training)."""
    from training.fitting.guard import refit_guard

    _show(refit_guard(artifact_dir, data_dir))


@app.command()
def slim(artifact_dir: ArtifactDir = ARTIFACT_DIR) -> None:
    """Rewrite an artifact's weights without the ImageNet arrays (the weights stay bit-identical)."""
    from training.fitting.artifact import slim_weights

    _show(slim_weights(artifact_dir))


@app.command()
def ood(data_dir: DataDir, out: Out, split: str = "Testing", artifact_dir: ArtifactDir = ARTIFACT_DIR) -> None:
    """Measure the not-a-brain-MRI guard against non-MRI images."""
    from training.evaluation.ood_eval import evaluate_guard

    scored = evaluate_guard(data_dir, split, artifact_dir, out)
    _show({"auroc": scored.auroc, "in_distribution": scored.in_distribution, "per_part": scored.per_part})
    _show({"out_of_distribution": scored.out_of_distribution})


@app.command()
def screenshots(scan: Annotated[Path, typer.Option(help="a scan to upload on the Classify page")]) -> None:
    """Capture the app's pages for the guard's held-out set."""
    from training.evaluation.screenshots import capture_screenshots

    print("\n".join(str(p) for p in capture_screenshots(scan)))


@app.command()
def saliency(
    data_dir: DataDir,
    masks_dir: Annotated[Path, typer.Option(help="the expert outlines folder (see README)")],
    out: Annotated[Path, typer.Option(help="JSON file to write (gallery images go beside it)")],
    artifact_dir: ArtifactDir = ARTIFACT_DIR,
    method: Annotated[list[str] | None, typer.Option(help="repeat for several (default: every method)")] = None,
    max_slow_scans: Annotated[int, typer.Option(help="Score-CAM/SmoothGrad subsample per subset")] = 60,
    sanity: Annotated[bool, typer.Option(help="also score a model with its top re-initialised")] = True,
    gallery_only: Annotated[bool, typer.Option(help="only draw OUT's best and worst cases again")] = False,
) -> None:
    """Score every saliency method against expert tumour outlines."""
    from model.core.maps import METHODS
    from training.evaluation.saliency import evaluate_saliency, redraw_gallery

    if gallery_only:
        print(f"{len(redraw_gallery(data_dir, masks_dir, artifact_dir, out).gallery)} gallery images drawn")
        return

    scored = evaluate_saliency(data_dir, masks_dir, artifact_dir, out, method or METHODS, max_slow_scans, sanity=sanity)
    _show({subset: table.groups["all"] for subset, table in scored.tables.items()})


@app.command()
def masks(
    figshare_dir: Annotated[Path, typer.Option(help="folder of figshare's 1.mat ... 3064.mat")],
    data_dir: DataDir,
    out: Annotated[Path, typer.Option(help="the outlines folder to write")],
) -> None:
    """Rebuild the outlines folder from the figshare release (.mat files)."""
    from training.data.masks import rebuild_masks

    print(f"{rebuild_masks(figshare_dir, data_dir, out)} outlines written to {out}")


@app.command()
def outlines(
    data_dir: DataDir,
    masks_dir: Annotated[Path, typer.Option(help="the expert outlines folder (see README)")],
    out: Annotated[Path | None, typer.Option(help="default: the artifact's outlines.npz")] = None,
) -> None:
    """Pack the outlines the app shows into model/artifacts."""
    from model.core.outlines import OUTLINES_FILE
    from training.data.masks import build_outline_bank

    target = out or ARTIFACT_DIR / OUTLINES_FILE
    print(f"{build_outline_bank(data_dir, masks_dir, target)} outlines packed into {target}")


@app.command()
def trust(
    data_dir: DataDir,
    artifact_dir: ArtifactDir = ARTIFACT_DIR,
    extra_data_dir: ExtraDataDirs = None,
    out: OptionalOut = None,
    worst_source: Annotated[
        bool,
        typer.Option(help="each type's thresholds hold for its worst source (rule B, PREREGISTRATION 2026-12-03)"),
    ] = False,
) -> None:
    """Fit the Mondrian prediction sets and referral thresholds on validation of every source."""
    from model.schema.records import TrustEvaluation
    from training.fitting.trust import evaluate_trust

    out = out or artifact_dir / TrustEvaluation.FILE
    scored = evaluate_trust(data_dir, artifact_dir, out, tuple(extra_data_dir or ()), worst_source)
    _show({"mondrian": scored.mondrian, "groups": scored.groups, "sets": scored.sets})


@app.command()
def precision(
    data_dir: DataDir,
    artifact_dir: ArtifactDir = ARTIFACT_DIR,
    extra_data_dir: ExtraDataDirs = None,
    out: OptionalOut = None,
) -> None:
    """int8 (ONNX Runtime) and bf16 (OpenVINO) forward passes against float32 on every validation and Testing scan."""
    from model.schema.records import PrecisionEvaluation
    from training.evaluation.precision import evaluate_precision

    out = out or artifact_dir / PrecisionEvaluation.FILE
    found = evaluate_precision(data_dir, artifact_dir, out, tuple(extra_data_dir or ()))
    _show({name: {**vars(row), "differing": len(row.differing)} for name, row in found.results.items()})


@app.command()
def robustness(
    data_dir: DataDir,
    artifact_dir: ArtifactDir = ARTIFACT_DIR,
    out: OptionalOut = None,
    validation_sample: Annotated[int | None, typer.Option(help="validation scans (default 100, seeded)")] = None,
) -> None:
    """Accuracy under acquisition changes, severities 1-5."""
    from model.schema.records import RobustnessEvaluation
    from training.evaluation.robustness import VALIDATION_SAMPLE, evaluate_robustness

    target = out or artifact_dir / RobustnessEvaluation.FILE
    scored = evaluate_robustness(data_dir, artifact_dir, target, validation_sample or VALIDATION_SAMPLE)
    _show({subset: table.clean.accuracy for subset, table in scored.results.items()})


@app.command()
def samples(
    data_dir: DataDir,
    evaluation: Annotated[Path | None, typer.Option(help="default: the artifact's evaluation.json")] = None,
    out_dir: Annotated[Path, typer.Option(help="where the sample scans go")] = SAMPLES_DIR,
    saliency: Annotated[Path | None, typer.Option(help="default: the artifact's saliency check")] = None,
    masks_dir: Annotated[Path | None, typer.Option(help="outlines folder: also pick outlined scans")] = None,
) -> None:
    """Pick the sample scans bundled with the app."""
    from model.schema.records import Evaluation, SaliencyEvaluation
    from training.evaluation.samples import write_outlined_samples, write_samples

    evaluation = evaluation or ARTIFACT_DIR / Evaluation.FILE
    for stale in out_dir.glob("*.jpg"):  # an earlier model's picks: it may have got them right where this one does not
        stale.unlink()
    written = write_samples(data_dir, evaluation, out_dir)
    if masks_dir is not None:
        checked = saliency or ARTIFACT_DIR / SaliencyEvaluation.FILE
        written += write_outlined_samples(data_dir, evaluation, checked, masks_dir, out_dir)
    print("\n".join(str(p) for p in written))


@app.command()
def export(artifact_dir: ArtifactDir = ARTIFACT_DIR) -> None:
    """Add the ONNX export to an artifact (train does this itself)."""
    from training.fitting.export import export_artifact

    _show(export_artifact(artifact_dir))


@app.command()
def readme() -> None:
    """Rewrite the README's results section from the committed JSON."""
    from training.evaluation.readme import update

    print("README updated" if update() else "README already up to date")


def main() -> None:
    """The `brain-mri-train` console script."""
    app(prog_name="brain-mri-train")


if __name__ == "__main__":
    app(prog_name="python -m training")
