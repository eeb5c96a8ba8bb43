"""Speed benchmarks of the shipped model and the app (`python -m benchmarks`), and their committed results."""

from pathlib import Path

RESULTS_JSON = Path(__file__).resolve().parent / "results.json"
RESULTS_MD = Path(__file__).resolve().parent / "results.md"
