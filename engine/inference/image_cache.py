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
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from engine.dataset.reader import Dataset
from engine.files import remove_orphans

if TYPE_CHECKING:  # a type only: checking photos (`counteranimal data check`) needs no torch
    from engine.models.recipes import Recipe

# What an unreadable photo raises while decoding; anything else is a bug or a broken machine and stops the build.
Report = Callable[[int, int], None]  # (done, total): progress for whoever watches a long step, such as a job
DECODE_ERRORS = (OSError, UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError)


def decode(path: Path) -> Image.Image:
    """Open and fully decode a photo, in its own mode (grayscale, CMYK, palette, alpha: converted by the recipe).
    Raises one of DECODE_ERRORS on unreadable files."""
    with Image.open(path) as image:
        image.load()  # decode fully now, so truncated files fail here and not in the middle of a batch
        return image.copy()


def unreadable_reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


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
    identity = f"{recipe.key}\nconvert_first={recipe.convert_first}\n{dataset.fingerprint}"
    return hashlib.sha256(identity.encode()).hexdigest()[:24]


def load_or_build_cache(
    dataset: Dataset,
    recipe: Recipe,
    root: Path,
    workers: int,
    progress: bool = True,
    stop: threading.Event | None = None,
    report: Report | None = None,
) -> ImageCache:
    """The cache for (dataset, recipe): read it if complete, else build it in a temporary folder that is renamed
    when done (or removed if the build fails or `stop` is set), so a half-built cache is never used or left behind."""
    final = root / "images" / cache_key(dataset, recipe)
    if (final / "index.json").is_file():
        return _read_cache(final)
    remove_orphans(final.parent.glob("*.partial-*"))  # builds killed mid-way (a cancelled or crashed job)
    partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        _build(dataset, recipe, partial, workers, progress, stop or threading.Event(), report)
        partial.rename(final)
    except OSError as error:
        if not (final / "index.json").is_file():  # not "another process finished the same cache first"
            raise OSError(f"cannot build the image cache in {final.parent} ({error})") from error
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return _read_cache(final)


def _read_cache(folder: Path) -> ImageCache:
    index = json.loads((folder / "index.json").read_text())
    return ImageCache(folder, tuple(index["image_ids"]), dict(index["skipped"]))


# Worker state: set once per process by _init_worker, so tasks carry only an index and a path.
_WORKER: dict = {}


def _init_worker(recipe: Recipe, pixels_path: str, root: str) -> None:
    _WORKER.update(recipe=recipe, pixels=np.load(pixels_path, mmap_mode="r+"), root=Path(root))


def _decode_into_cache(task: tuple[int, str]) -> tuple[int, str | None]:
    """Decode one image into its slot of the memory-mapped pixel file; returns (slot, reason it failed or None)."""
    slot, image_id = task
    try:
        image = decode(_WORKER["root"] / image_id)
    except DECODE_ERRORS as error:  # an unreadable file is reported and skipped, never fatal
        return slot, unreadable_reason(error)
    _WORKER["pixels"][slot] = _WORKER["recipe"].apply(image)
    return slot, None


def _pool_context() -> multiprocessing.context.BaseContext:
    # Caches may be built in a background thread while the main thread runs a model; forking a threaded process is
    # unsafe, so workers start from a clean server process that has the decoding modules preloaded.
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["engine.inference.image_cache", "torchvision.transforms"])
    return context


def warm_up_workers() -> None:
    """Start the worker server now (it imports torchvision: seconds) in the background, so the first cache build
    does not wait for it; call while something else, such as loading a model, takes time anyway."""
    context = _pool_context()
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        threading.Thread(target=forkserver.ensure_running, name="forkserver-start", daemon=True).start()


def _parallel(fn: Callable, tasks: list, workers: int, init: Callable, initargs: tuple, desc: str, progress: bool,
              stop: threading.Event, report: Report | None = None) -> Iterator:  # fmt: skip
    """Yield fn(task) for every task from `workers` processes, with a progress bar (and `report(done, total)`). A
    worker that dies (killed, out of memory) fails the build instead of hanging it; `stop` cancels it between
    results."""
    with tqdm(total=len(tasks), desc=desc, unit="img", disable=not progress) as bar:
        if workers <= 1:
            init(*initargs)
            results = map(fn, tasks)
        else:
            pool = ProcessPoolExecutor(workers, mp_context=_pool_context(), initializer=init, initargs=initargs)
            results = pool.map(fn, tasks, chunksize=16)
        try:
            for done, result in enumerate(results, 1):  # counted here: a disabled bar (progress off) counts nothing
                if stop.is_set():
                    raise CancelledError("image cache build cancelled")
                bar.update()
                if report:
                    report(done, len(tasks))
                yield result
        finally:
            _WORKER.clear()  # release this process's memory map of the pixel file
            if workers > 1:
                pool.shutdown(cancel_futures=True)


def _allocate(path: Path, shape: tuple[int, ...]) -> None:
    """Create the pixel file at full size now, so a full disk fails here with a clear error instead of crashing a
    worker (a write to an unbacked page of a sparse memory map is a SIGBUS)."""
    np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape).flush()
    if hasattr(os, "posix_fallocate"):
        with path.open("r+b") as f:
            os.posix_fallocate(f.fileno(), 0, path.stat().st_size)


def _build(dataset: Dataset, recipe: Recipe, folder: Path, workers: int, progress: bool, stop: threading.Event,
           report: Report | None = None):  # fmt: skip
    height, width = recipe.output_size()
    ids = [image.image_id for image in dataset.images]
    pixels_path = folder / "pixels.npy"
    _allocate(pixels_path, (len(ids), height, width, 3))
    initargs = (recipe, str(pixels_path), str(dataset.root))
    tasks = list(enumerate(ids))
    results = _parallel(_decode_into_cache, tasks, workers, _init_worker, initargs, "decode", progress, stop, report)
    failed = {slot: reason for slot, reason in results if reason}
    _compact(folder, ids, failed, (height, width))


def _init_checker(root: str) -> None:
    _WORKER.update(root=Path(root))


def _check_one(image_id: str) -> tuple[str, str | None]:
    try:
        decode(_WORKER["root"] / image_id)
        return image_id, None
    except DECODE_ERRORS as error:  # reported, never fatal
        return image_id, unreadable_reason(error)


def find_unreadable(dataset: Dataset, workers: int, progress: bool = True) -> dict[str, str]:
    """Decode every image once (nothing kept) and return the unreadable ones (image id -> reason)."""
    ids = [image.image_id for image in dataset.images]
    initargs = (str(dataset.root),)
    results = _parallel(_check_one, ids, workers, _init_checker, initargs, "check", progress, threading.Event())
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
