"""`python -m model classify DIR_OR_FILES... --out results.csv`: batch classification without the app.

`python -m model backbone` fetches and verifies the ImageNet weights the artifact's Keras model is built on
(`make` runs it at install, so the saliency maps work offline). Installed (`pip install -e .`, as `make` does),
the same commands are `brain-mri-classify` and `brain-mri-app` (the Streamlit app, as `make run`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ENGINES = ("local", "ray")  # model.core.archive runs them (imported late: `--help` stays fast)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    classify = commands.add_parser(
        "classify",
        help="classify scans (folders are searched recursively) to CSV or Parquet; a rerun skips what --out holds",
    )
    classify.add_argument("inputs", type=Path, nargs="+")
    classify.add_argument("--out", type=Path, required=True, help="results.csv (appended as rows arrive) or .parquet")
    classify.add_argument("--artifact-dir", type=Path, default=None)
    classify.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: this process (default). ray: Ray Data, needs `pip install -r requirements-scale.txt`",
    )
    classify.add_argument("--actors", type=int, default=1, help="ray: classifier actors, one ONNX session each")
    classify.add_argument("--cpus-per-actor", type=float, default=None, help="ray: CPUs each actor reserves")
    classify.add_argument("--address", default=None, help="ray: join this cluster ('auto', or set RAY_ADDRESS)")
    classify.add_argument(
        "--report",
        type=Path,
        default=None,
        help="also write a PDF report: a page per scan (at most 100) with its Grad-CAM, set and referral",
    )
    commands.add_parser("backbone", help="fetch, verify and cache the ImageNet Xception weights")
    args = parser.parse_args(argv)
    if args.command == "backbone":
        from model.core.backbone import cache_dir, imagenet_xception_weights

        print(f"{len(imagenet_xception_weights())} verified arrays cached in {cache_dir()}")
        return 0

    from model.core.archive import classify_archive
    from model.schema.card import ARTIFACT_DIR

    count = classify_archive(
        args.inputs,
        args.out,
        args.artifact_dir or ARTIFACT_DIR,
        args.engine,
        args.actors,
        args.cpus_per_actor,
        args.address,
    )
    print(f"wrote {count} rows to {args.out}")
    if args.report is not None:
        write_report(args.inputs, args.report, args.artifact_dir or ARTIFACT_DIR)
    return 0


def write_report(inputs: list[Path], report: Path, artifact_dir: Path) -> None:
    from model.core.batch import find_scans
    from model.report.pdf_report import files_report

    pdf, pages = files_report(find_scans(inputs), artifact_dir)
    report.write_bytes(pdf)
    print(f"wrote a report of {pages} scans to {report}")


def classify_main() -> int:
    """The `brain-mri-classify` console script: `python -m model classify ...`."""
    return main(["classify", *sys.argv[1:]])


def run_app() -> int:
    """The `brain-mri-app` console script: `streamlit run streamlit_app.py`, extra arguments passed on."""
    from streamlit.web import cli

    app = Path(__file__).resolve().parents[1] / "streamlit_app.py"
    sys.argv = ["streamlit", "run", str(app), *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
