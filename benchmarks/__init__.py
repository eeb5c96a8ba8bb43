"""Speed benchmarks of the shipped model and the app (`python -m benchmarks`), and their committed results.

Benchmarks build on training (its machine report, the README's speed table); training never imports them.
"""

from training.evaluation.readme import SPEED_TABLE as RESULTS_MD

RESULTS_JSON = RESULTS_MD.with_suffix(".json")
