"""Every setting of a training run, with its default: the CLI's options and the model card read them from here.

Kept free of TensorFlow so that `python -m training --help` and the CLI's defaults load at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from model.schema.card import ARTIFACT_DIR, ModelCard
from training.data.augment import AugmentConfig


@dataclass
class TrainConfig:
    data_dir: Path
    extra_data_dirs: tuple[Path, ...] = ()  # other sources in the manifest layout (training.data.listing)
    out_dir: Path = ARTIFACT_DIR
    run_dir: Path | None = None
    backbone: str = "xception"
    image_size: int = 299
    views: int = 5
    seed: int = 42
    batch_size: int = 32
    label_smoothing: float = 0.0  # mixup already softens the targets
    dropout: float = 0.3
    interpolation_steps: int = 10  # WiSE-FT mixes tried: alpha = 0, 1/steps, ..., 1
    head_epochs: int = 60
    head_learning_rate: float = 1e-3
    finetune_epochs: int = 15  # at most; the two-source cache makes an epoch ~190 s on 2 cores
    finetune_learning_rate: float = 1e-4
    patience: int = 3
    mixup: float = 0.4  # Beta parameter of stage-2 manifold mixup; 0 turns it off
    attention_weight: float = 0.0  # stage-2 outline-guided attention term (fitting/attention.py); 0: off
    masks_dir: Path | None = None  # expert outlines (training/data/masks.py); needed when attention_weight > 0
    init_from: Path | None = None  # an artifact whose weights stage 2 starts from, instead of a new stage-1 head
    balance_sources: bool = True  # stage 2 draws every source, and every sequence inside one, alike
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    @classmethod
    def of_card(cls, card: ModelCard, data_dir: Path) -> "TrainConfig":
        """The settings a finished run's card recorded that decide its split, cache and model."""
        saved = card.settings()
        return cls(
            data_dir=data_dir,
            extra_data_dirs=tuple(Path(d) for d in saved.extra_data_dirs),
            backbone=saved.backbone,
            image_size=saved.image_size,
            views=saved.views,
            seed=saved.seed,
            dropout=saved.dropout,
            augment=AugmentConfig.recorded(saved.augment),
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            data_dir=str(self.data_dir),
            extra_data_dirs=[str(d) for d in self.extra_data_dirs],
            out_dir=str(self.out_dir),
            run_dir=None if self.run_dir is None else str(self.run_dir),
            masks_dir=None if self.masks_dir is None else str(self.masks_dir),
            init_from=None if self.init_from is None else str(self.init_from),
        )
        return data


def default(name: str) -> Any:
    """The default of TrainConfig's field `name` (what the CLI shows and uses when the option is left out)."""
    return next(f.default for f in fields(TrainConfig) if f.name == name)
