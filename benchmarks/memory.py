"""What a large upload costs the server: peak memory of decoding and classifying it, in a fresh process.

A 40-megapixel PNG, with the decoder's early reduction (`model.core.decode.MAX_DECODED_SIDE`) and without it, so
the figure shows what the reduction buys (a smooth 8000 x 5000 RGB PNG: a small file, a large picture); and a small
gzipped NIfTI volume classified slice by slice as the app does, `FRAMES_BATCH` slices per call and, for comparison,
the batch CLI's `BATCH`.
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


VOLUME_CHILD = """
import io, gzip, json, sys
import nibabel as nib
import numpy as np
import model.core.predict as predict
from model.core.predict import Classifier

predict.FRAMES_BATCH = int(sys.argv[1])
z, y, x = np.mgrid[-1:1:96j, -1:1:160j, -1:1:160j]
head = ((x**2 + y**2 + (z * 1.4) ** 2) < 0.8) * (600 + 200 * np.sin(8 * x) * np.cos(6 * y))
image = nib.Nifti1Image(head.transpose(2, 1, 0).astype(np.int16), np.eye(4))
data = gzip.compress(image.to_bytes())


def high_water_mib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


classifier = Classifier.from_artifact()
classifier.warm_up()
before = high_water_mib()
slices = classifier.classify_frames(data, "head.nii.gz", keep_images=False)
found = {"file_kib": len(data) / 1024, "slices": len(slices), "before_mib": before, "peak_mib": high_water_mib()}
print(json.dumps(found))
"""


def volume_peak_rss() -> dict[str, Any]:
    """Peak RSS (MiB) of a fresh process classifying every axial slice of a small NIfTI volume, by slices per call."""
    from model.core.predict import BATCH, FRAMES_BATCH

    found: dict[str, Any] = {}
    for batch in (FRAMES_BATCH, BATCH):
        done = subprocess.run(
            [sys.executable, "-c", VOLUME_CHILD, str(batch)], capture_output=True, text=True, check=True
        )
        found[str(batch)] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"served_batch": FRAMES_BATCH, "by_batch": found}


def decode_peak_rss() -> dict[str, Any]:
    """Peak RSS (MiB) of a fresh process classifying one 40-megapixel PNG, with and without early reduction."""
    found: dict[str, Any] = {"megapixels": 40}
    for variant in ("reduced", "unreduced"):
        done = subprocess.run([sys.executable, "-c", CHILD, variant], capture_output=True, text=True, check=True)
        found[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    found["volume"] = volume_peak_rss()
    return found
