"""What a 40-megapixel upload costs the server: peak memory of decoding and classifying it, in a fresh process.

Measured twice, with the decoder's early reduction (`model.core.decode.MAX_DECODED_SIDE`) and without it, so the
figure shows what the reduction buys; the image is a smooth 8000 x 5000 RGB PNG (a small file, a large picture).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

CHILD = """
import io, json, sys
import numpy as np
from PIL import Image
import model.core.decode as decode
from model.core.predict import Classifier

if sys.argv[1] == "unreduced":
    decode.MAX_DECODED_SIDE = 10**6
ramp = np.linspace(0, 1, 5000, dtype=np.float32)[:, None] * np.linspace(0, 1, 8000, dtype=np.float32)[None]
buffer = io.BytesIO()
Image.fromarray((ramp * 255).astype(np.uint8)).convert("RGB").save(buffer, "PNG")
data = buffer.getvalue()
del ramp


def high_water_mib():  # this process's peak RSS (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


classifier = Classifier.from_artifact()
classifier.warm_up()
before = high_water_mib()
classifier.classify_upload(data, "big.png")
print(json.dumps({"before_mib": before, "peak_mib": high_water_mib()}))
"""


def decode_peak_rss() -> dict[str, Any]:
    """Peak RSS (MiB) of a fresh process classifying one 40-megapixel PNG, with and without early reduction."""
    found: dict[str, Any] = {"megapixels": 40}
    for variant in ("reduced", "unreduced"):
        done = subprocess.run([sys.executable, "-c", CHILD, variant], capture_output=True, text=True, check=True)
        found[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    return found
