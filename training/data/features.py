"""Run the frozen bottom of the network once per image view and keep the result on disk.

Training then only runs the top blocks, which is what makes fine-tuning
affordable on two CPU cores. The cache is a float16 `.npy` memmap under the
user cache directory, written batch by batch with a progress file, so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from model.core.decode import decode_file
from model.core.preprocess import crop_head, crop_to_square, head_bbox, square_to_rgb, to_gray, to_model_input
from training.data.augment import AugmentConfig, augment_with_outline

CLEAN_VIEW, FLIPPED_VIEW = 0, 1  # every later view is a random augmentation


def _views(
    square: np.ndarray, outline: np.ndarray | None, views: int, rng: np.random.Generator, config: AugmentConfig
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(image, outline) of each view: clean, mirrored, then augmented; the outline follows the geometry."""
    mirrored = None if outline is None else outline[:, ::-1]
    rendered = [(square, outline), (square[:, ::-1], mirrored)]
    rendered += [augment_with_outline(square, outline, rng, config) for _ in range(views - 2)]
    return rendered[:views]


def render_views(path: Path, views: int, size: int, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """(views, size, size, 3) model inputs of one image: clean, mirrored, then augmented."""
    square = crop_head(decode_file(path).rgb)
    rendered = _views(square, None, views, rng, config)
    return np.stack([to_model_input(square_to_rgb(np.ascontiguousarray(v), size)) for v, _ in rendered])


def outline_views(
    path: Path, mask: np.ndarray, views: int, rng: np.random.Generator, config: AugmentConfig
) -> list[np.ndarray]:
    """The [0, 1] outline of each view `render_views` makes with a generator in the same state (square crops)."""
    rgb = decode_file(path).rgb
    outline = crop_to_square(mask.astype(np.float32), head_bbox(to_gray(rgb)))
    return [o for _, o in _views(crop_head(rgb), outline, views, rng, config) if o is not None]


def _batches(
    paths: Sequence[Path], start: int, batch: int, views: int, size: int, seed: int, config: AugmentConfig
) -> Iterator[tuple[int, np.ndarray]]:
    def load(first: int) -> tuple[int, np.ndarray]:
        chunk = []
        for index in range(first, min(first + batch, len(paths))):
            rng = np.random.default_rng([seed, index])  # per image, so a resumed run renders the same views
            chunk.append(render_views(paths[index], views, size, rng, config))
        return first, np.concatenate(chunk)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for first in range(start, len(paths), batch):
            future = pool.submit(load, first)
            if pending is not None:
                yield pending.result()
            pending = future
        if pending is not None:
            yield pending.result()


def cached_bottom_activations(
    bottom: keras.Model,
    paths: Sequence[Path],
    views: int,
    size: int,
    seed: int,
    cache_path: Path,
    config: AugmentConfig = AugmentConfig(),
    batch: int = 8,
) -> tuple[np.ndarray, int]:
    """(memmap of shape (len(paths) * views, ...), images computed by this call); row i*views+v is view v of image i."""
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    progress_path = cache_path.with_suffix(".progress.json")
    shape = (len(paths) * views, *bottom.output.shape[1:])
    done = 0
    if cache_path.exists() and progress_path.exists():
        done = json.loads(progress_path.read_text())["images_done"]
        activations = np.lib.format.open_memmap(cache_path, mode="r+")
        if activations.shape != shape:
            done, activations = 0, np.lib.format.open_memmap(cache_path, mode="w+", dtype=np.float16, shape=shape)
    else:
        activations = np.lib.format.open_memmap(cache_path, mode="w+", dtype=np.float16, shape=shape)
    if done < len(paths):
        forward = tf.function(lambda x: bottom(x, training=False), reduce_retracing=True)
        with tqdm(total=len(paths), initial=done, desc=f"frozen layers x{views} views", unit="img") as bar:
            for first, inputs in _batches(paths, done, batch, views, size, seed, config):
                activations[first * views : first * views + len(inputs)] = forward(inputs).numpy().astype(np.float16)
                count = len(inputs) // views
                activations.flush()
                progress_path.write_text(json.dumps({"images_done": first + count}))
                bar.update(count)
    return np.lib.format.open_memmap(cache_path, mode="r"), len(paths) - done
