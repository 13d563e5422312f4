"""Decode-once image cache: each photo is decoded, resized and cropped once per preprocessing recipe and kept as
uint8 pixels on disk, shared by every model (and every later run) with that recipe.

JPEG decoding, not the model, bounds a naive pipeline, so the expensive part happens once; models then read
(N, H, W, 3) uint8 batches from a memory-mapped file and normalize on their device.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from engine.data import Dataset


@dataclass(frozen=True)
class Recipe:
    """A model's preprocessing: PIL steps (resize, crop) applied once into the cache, then normalization on device."""

    steps: Callable[[Image.Image], Image.Image]  # RGB PIL image -> RGB PIL image of the model's input size
    key: str  # describes the steps exactly; equal keys give equal pixels
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def output_size(self) -> tuple[int, int]:
        """(height, width) the steps produce, probed on a blank landscape image."""
        width, height = self.steps(Image.new("RGB", (640, 480))).size
        return height, width


def decode(path: Path) -> Image.Image:
    """Open a photo as RGB, converting grayscale, CMYK, palette and alpha images. Raises on unreadable files."""
    with Image.open(path) as image:
        image.load()  # decode fully now, so truncated files fail here and not in the middle of a batch
        return image.convert("RGB")


@dataclass(frozen=True)
class ImageCache:
    """Pixels of a dataset under one recipe: `pixels[i]` is image `image_ids[i]`; `skipped` maps unreadable
    files (image id) to the reason."""

    path: Path
    image_ids: tuple[str, ...]
    skipped: dict[str, str]

    @property
    def pixels(self) -> np.ndarray:
        return np.load(self.path / "pixels.npy", mmap_mode="r")  # (N, H, W, 3) uint8


def cache_key(dataset: Dataset, recipe: Recipe) -> str:
    return hashlib.sha256(f"{recipe.key}\n{dataset.fingerprint}".encode()).hexdigest()[:24]


def load_or_build_cache(
    dataset: Dataset, recipe: Recipe, root: Path, workers: int, progress: bool = True
) -> ImageCache:
    """The cache for (dataset, recipe): read it if complete, else build it (in a temporary folder renamed when done,
    so an interrupted build is never mistaken for a complete one)."""
    final = root / "images" / cache_key(dataset, recipe)
    if (final / "index.json").is_file():
        return _read_cache(final)
    partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    _build(dataset, recipe, partial, workers, progress)
    try:
        partial.rename(final)
    except OSError:  # another process finished the same cache first; theirs is as good as ours
        shutil.rmtree(partial, ignore_errors=True)
    return _read_cache(final)


def _read_cache(folder: Path) -> ImageCache:
    index = json.loads((folder / "index.json").read_text())
    return ImageCache(folder, tuple(index["image_ids"]), dict(index["skipped"]))


# Worker state: set once per process by _init_worker, so tasks carry only an index and a path.
_WORKER: dict = {}


def _init_worker(steps: Callable, pixels_path: str, root: str) -> None:
    _WORKER.update(steps=steps, pixels=np.load(pixels_path, mmap_mode="r+"), root=Path(root))


def _decode_into_cache(task: tuple[int, str]) -> tuple[int, str | None]:
    """Decode one image into its slot of the memory-mapped pixel file; returns (slot, reason it failed or None)."""
    slot, image_id = task
    try:
        image = _WORKER["steps"](decode(_WORKER["root"] / image_id))
        _WORKER["pixels"][slot] = np.asarray(image, dtype=np.uint8)
        return slot, None
    except Exception as error:  # any unreadable file is reported and skipped, never fatal
        return slot, f"{type(error).__name__}: {error}"


def _pool_context() -> multiprocessing.context.BaseContext:
    # Caches may be built in a background thread while the main thread runs a model; forking a threaded process is
    # unsafe, so workers start from a clean server process that has the decoding modules preloaded.
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["engine.images", "torchvision.transforms"])
    return context


def _parallel(fn: Callable, tasks: list, workers: int, init: Callable, initargs: tuple, desc: str, progress: bool):
    """Yield fn(task) for every task (in any order) from `workers` processes, with a progress bar."""
    bar = tqdm(total=len(tasks), desc=desc, unit="img", disable=not progress)
    if workers > 1:
        with _pool_context().Pool(workers, initializer=init, initargs=initargs) as pool:
            for result in pool.imap_unordered(fn, tasks, chunksize=16):
                bar.update()
                yield result
    else:
        init(*initargs)
        for task in tasks:
            bar.update()
            yield fn(task)
    bar.close()


def _build(dataset: Dataset, recipe: Recipe, folder: Path, workers: int, progress: bool) -> None:
    height, width = recipe.output_size()
    ids = [image.image_id for image in dataset.images]
    pixels_path = folder / "pixels.npy"
    np.lib.format.open_memmap(pixels_path, mode="w+", dtype=np.uint8, shape=(len(ids), height, width, 3)).flush()
    initargs = (recipe.steps, str(pixels_path), str(dataset.root))
    results = _parallel(_decode_into_cache, list(enumerate(ids)), workers, _init_worker, initargs, "decode", progress)
    failed = {slot: reason for slot, reason in results if reason}
    _compact(folder, ids, failed, (height, width))


def _init_checker(root: str) -> None:
    _WORKER.update(root=Path(root))


def _check_one(image_id: str) -> tuple[str, str | None]:
    try:
        decode(_WORKER["root"] / image_id)
        return image_id, None
    except Exception as error:  # reported, never fatal
        return image_id, f"{type(error).__name__}: {error}"


def find_unreadable(dataset: Dataset, workers: int, progress: bool = True) -> dict[str, str]:
    """Decode every image once (nothing kept) and return the unreadable ones (image id -> reason)."""
    ids = [image.image_id for image in dataset.images]
    results = _parallel(_check_one, ids, workers, _init_checker, (str(dataset.root),), "check", progress)
    return dict(sorted((image_id, reason) for image_id, reason in results if reason))


def _compact(folder: Path, ids: list[str], failed: dict[int, str], size: tuple[int, int]) -> None:
    """Drop the slots of unreadable images, so pixels and ids line up, and write the index last."""
    if failed:
        keep = [i for i in range(len(ids)) if i not in failed]
        source = np.load(folder / "pixels.npy", mmap_mode="r")
        kept = np.lib.format.open_memmap(folder / "kept.npy", mode="w+", dtype=np.uint8, shape=(len(keep), *size, 3))
        for start in range(0, len(keep), 1024):  # in chunks, to stay within memory for large caches
            kept[start : start + 1024] = source[keep[start : start + 1024]]
        kept.flush()
        del source, kept
        (folder / "kept.npy").replace(folder / "pixels.npy")
    index = {
        "image_ids": [image_id for i, image_id in enumerate(ids) if i not in failed],
        "skipped": {ids[i]: reason for i, reason in sorted(failed.items())},
    }
    (folder / "index.json").write_text(json.dumps(index))
