"""Small fitted models (the guard, the scan-type recogniser) as .npz files: one array per dataclass field.

Array fields are stored as they are, float fields as 0-d arrays read back as floats; no pickles.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from model.errors import ArtifactError

Fitted = TypeVar("Fitted")


def save_fields(fitted: Any, path: Path) -> None:
    with open(path, "wb") as handle:
        arrays = {f.name: np.asarray(getattr(fitted, f.name)) for f in dataclasses.fields(fitted)}
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle


def load_fields(kind: type[Fitted], path: Path) -> Fitted:
    """The fitted model in `path`; an `ArtifactError` when the file predates one of its fields (refit it)."""
    with np.load(path, allow_pickle=False) as stored:
        missing = [f.name for f in dataclasses.fields(kind) if f.name not in stored]  # type: ignore[arg-type]
        if missing:
            raise ArtifactError(f"{path.name} lacks {', '.join(missing)}: it predates this version; fit it again.")
        values = {f.name: stored[f.name] for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    return kind(**{name: float(v) if v.ndim == 0 else v for name, v in values.items()})
