"""requirements.txt is what the app needs: its modules import without the training-only packages."""

import subprocess
import sys

from tests.helpers import ROOT

TRAINING_ONLY = ("imagehash", "h5py", "psutil", "onnx", "tf2onnx", "skimage", "typer", "training")
APP_MODULES = (
    "pages.shared.layout",
    "pages.shared.served",
    "pages.shared.scans",
    "model.core.batch",
    "model.report.figures",
    "model.report.saliency_report",
    "model.core.localisation",
)

BLOCKER = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {TRAINING_ONLY!r}:
            raise ImportError(f"the app imported the training-only module {{name}}")
sys.meta_path.insert(0, Block())
for module in {APP_MODULES!r}:
    __import__(module)
"""


def test_the_app_imports_nothing_from_the_training_requirements():
    result = subprocess.run([sys.executable, "-c", BLOCKER], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_training_only_packages_are_not_in_the_app_requirements():
    app = (ROOT / "requirements.txt").read_text().lower()
    training = (ROOT / "requirements-train.txt").read_text().lower()
    for package in ("imagehash", "h5py", "psutil", "onnx==", "tf2onnx", "scikit-image", "typer"):
        assert package not in app and package in training
