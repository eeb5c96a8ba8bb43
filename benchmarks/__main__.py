"""`python -m benchmarks`: time the shipped model and the app on this machine; writes results.json and .md."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import RESULTS_JSON, RESULTS_MD  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--out", type=Path, default=RESULTS_JSON)
    parser.add_argument("--markdown", type=Path, default=RESULTS_MD)
    parser.add_argument("--sample", type=Path, default=None, help="scan to time (default: first bundled sample)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--only",
        choices=["memory", "scale", "precision", "smoothgrad", "table"],
        help="measure one block again and keep the others in --out ('table': only rewrite the markdown)",
    )
    args = parser.parse_args(argv)

    from benchmarks.bench import main as run
    from benchmarks.bench import rerun_block
    from model.schema.card import SAMPLES_DIR

    if args.only:
        rerun_block(args.only, args.out, args.markdown)
    else:
        run(args.out, args.markdown, args.sample or sorted(SAMPLES_DIR.glob("*.jpg"))[0], args.runs)
    print(args.markdown.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
