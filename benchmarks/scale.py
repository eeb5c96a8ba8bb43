"""Local engine against Ray Data with one and two actors: images/s on one folder, and what starting Ray costs.

Each run classifies the same folder into a fresh output (`model.core.archive.classify_archive`), end to end:
listing, hashing, decoding, the forward passes and writing. Ray is started once, in this process, on this
machine's cores; its start-up is timed on its own.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.throughput import scan_folder
from model.core.archive import classify_archive
from model.core.onnx_forward import available_cores
from model.schema.card import ARTIFACT_DIR

SCALE_SCANS = 300


def engine_timings(artifact_dir: Path = ARTIFACT_DIR, count: int = SCALE_SCANS) -> dict[str, Any]:
    import ray

    found: dict[str, Any] = {"scans": count, "cores": available_cores()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "scans"
        folder.mkdir()
        scan_folder(folder, count, distinct=True)
        found["local_images_per_s"] = _images_per_s(lambda out: classify_archive([folder], out, artifact_dir), tmp)
        started = time.perf_counter()
        ray.init(num_cpus=available_cores(), include_dashboard=False, log_to_driver=False)
        found["ray_init_s"] = time.perf_counter() - started
        try:
            for actors in (1, 2):

                def on_ray(out: Path, n: int = actors) -> int:
                    return classify_archive([folder], out, artifact_dir, "ray", n, available_cores() / n)

                found[f"ray_{actors}_actor_images_per_s"] = _images_per_s(on_ray, tmp)
        finally:
            ray.shutdown()
    return found


def _images_per_s(run: Any, tmp: str) -> float:
    out = Path(tmp) / f"out_{time.monotonic_ns()}.csv"
    started = time.perf_counter()
    rows = run(out)
    return rows / (time.perf_counter() - started)
