"""Decode-once image cache: each photo is decoded, resized and cropped once per preprocessing recipe and kept as
uint8 pixels on disk, shared by every model (and every later run) with that recipe.

JPEG decoding, not the model, bounds a naive pipeline, so the expensive part happens once; models then read
(N, H, W, 3) uint8 batches from a memory-mapped file and normalize on their device. The first model need not wait
for the whole cache: photos are decoded in order, so a reader can score each batch as soon as its slots are filled
(`Filling`); a cache is used as a cache (found on disk, shared) only once it is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from functools import partial
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
    with _open_decoded(path) as image:
        return image.copy()


def _open_decoded(path: Path) -> Image.Image:
    """The photo opened and fully decoded (its file closed by `with`, or by Pillow once a one-frame photo is read)."""
    image = Image.open(path)
    try:
        image.load()  # decode fully now, so truncated files fail here and not in the middle of a batch
    except BaseException:
        image.close()
        raise
    return image


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


class Filling:
    """A cache as it is being built, for a reader that scores photos while later ones decode: slots [0, ready) of the
    pixel file hold `image_ids[:ready]`, in dataset order (decoding results arrive in order). That holds until a photo
    turns out unreadable (the finished cache leaves it out, shifting every later slot) or the build ends early; then
    `wait` answers None and the reader uses the finished cache instead."""

    def __init__(self, image_ids: tuple[str, ...]) -> None:
        self.image_ids = image_ids
        self._changed = threading.Condition()
        self._pixels: np.ndarray | None = None  # (N, H, W, 3) uint8, read-only map of the file being filled
        self._ready = 0  # slots [0, ready) are decoded
        self._broken = False  # a photo was unreadable, or the build ended before filling every slot

    def wait(self, ready: int) -> np.ndarray | None:
        """The pixel file once its first `ready` slots are decoded (a map: it stays valid when the file is renamed or
        removed), or None if the slots will not line up with `image_ids` or the build ended first."""
        with self._changed:
            self._changed.wait_for(lambda: self._broken or (self._pixels is not None and self._ready >= ready))
            return None if self._broken else self._pixels

    def _opened(self, pixels_path: Path) -> None:
        with self._changed:
            self._pixels = np.load(pixels_path, mmap_mode="r")
            self._changed.notify_all()

    def _advance(self, ready: int, unreadable: bool) -> None:
        with self._changed:
            self._ready, self._broken = ready, self._broken or unreadable
            self._changed.notify_all()

    def _end(self) -> None:
        with self._changed:
            self._broken = self._broken or self._pixels is None or self._ready < len(self.image_ids)
            if self._broken:  # never read now: unmap it (a removed file's disk space returns when unmapped)
                self._pixels = None
            self._changed.notify_all()


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
    filling: Filling | None = None,
) -> ImageCache:
    """The cache for (dataset, recipe): read it if complete, else build it in a temporary folder that is renamed
    when done (or removed if the build fails or `stop` is set), so a half-built cache is never used or left behind.
    `filling`: told which photos are decoded so far, for a reader that scores them meanwhile."""
    try:
        return _load_or_build(dataset, recipe, root, workers, progress, stop or threading.Event(), report, filling)
    finally:
        if filling:
            filling._end()  # a reader waiting for slots that will not come reads the finished cache (or the error)


def _load_or_build(
    dataset: Dataset,
    recipe: Recipe,
    root: Path,
    workers: int,
    progress: bool,
    stop: threading.Event,
    report: Report | None,
    filling: Filling | None,
) -> ImageCache:
    final = root / "images" / cache_key(dataset, recipe)
    if (final / "index.json").is_file():
        return _read_cache(final)
    remove_orphans(final.parent.glob("*.partial-*"))  # builds killed mid-way (a cancelled or crashed job)
    partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        _build(dataset, recipe, partial, workers, progress, stop, report, filling)
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


class _PixelFile:
    """The pixel file being filled, written slot by slot with `pwrite`: unlike an assignment into a memory map, the
    write releases the GIL (decoding threads share it) and takes no page fault per 4 KiB."""

    def __init__(self, path: Path) -> None:
        layout = np.load(path, mmap_mode="r")  # (N, H, W, 3) uint8: where the data starts, and a slot's shape
        self.offset, self.shape = layout.offset, layout.shape[1:]
        self.slot_bytes = int(np.prod(self.shape))
        del layout
        self.fd = os.open(path, os.O_WRONLY)

    def write(self, slot: int, pixels: np.ndarray) -> None:
        if pixels.shape != self.shape or pixels.dtype != np.uint8:  # a recipe whose output size varies: a bug
            raise ValueError(f"pixels of shape {pixels.shape} ({pixels.dtype}) do not fit a slot of {self.shape}")
        data = memoryview(np.ascontiguousarray(pixels)).cast("B")
        while data:  # pwrite may write less than asked (a signal, a huge slot)
            data = data[os.pwrite(self.fd, data, self.offset + slot * self.slot_bytes + self.slot_bytes - len(data)) :]

    def close(self) -> None:
        os.close(self.fd)


def _decode_into_cache(task: tuple[int, str], recipe: Recipe, root: Path, out: _PixelFile) -> tuple[int, str | None]:
    """Decode one image into its slot of the pixel file; returns (slot, reason it failed or None)."""
    slot, image_id = task
    try:
        image = _open_decoded(root / image_id)
    except DECODE_ERRORS as error:  # an unreadable file is reported and skipped, never fatal
        return slot, unreadable_reason(error)
    with image:  # the recipe reads the decoded photo itself: `decode`'s copy of it would cost ~5% of the photo's time
        out.write(slot, recipe.apply(image))
    return slot, None


def _parallel(fn: Callable, tasks: list, workers: int, desc: str, progress: bool, stop: threading.Event,
              report: Report | None = None) -> Iterator:  # fmt: skip
    """Yield fn(task) for every task, in order, from `workers` threads, with a progress bar (and `report(done,
    total)`); `stop` cancels between results.

    Threads, not processes: Pillow releases the GIL while it decodes, resizes and converts (nearly all of a photo's
    time), and a thread starts at once, where a worker process must first import torchvision (seconds of CPU,
    measured in bench/eval_throughput.py) and compete for the same cores with the model it waits for."""
    with tqdm(total=len(tasks), desc=desc, unit="img", disable=not progress) as bar:
        pool = ThreadPoolExecutor(workers, thread_name_prefix=desc) if workers > 1 else None
        results = pool.map(fn, tasks) if pool else map(fn, tasks)
        try:
            for done, result in enumerate(results, 1):  # counted here: a disabled bar (progress off) counts nothing
                if stop.is_set():
                    raise CancelledError("image cache build cancelled")
                bar.update()
                if report:
                    report(done, len(tasks))
                yield result
        finally:
            if pool:
                pool.shutdown(cancel_futures=True)


def _allocate(path: Path, shape: tuple[int, ...]) -> None:
    """Create the pixel file at full size now, so a full disk fails here with a clear error instead of half-way (and a
    reader of the file as it fills never touches an unbacked page of a sparse memory map: a SIGBUS)."""
    np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape).flush()
    if hasattr(os, "posix_fallocate"):
        with path.open("r+b") as f:
            os.posix_fallocate(f.fileno(), 0, path.stat().st_size)


def _build(dataset: Dataset, recipe: Recipe, folder: Path, workers: int, progress: bool, stop: threading.Event,
           report: Report | None = None, filling: Filling | None = None):  # fmt: skip
    height, width = recipe.output_size()
    ids = [image.image_id for image in dataset.images]
    pixels_path = folder / "pixels.npy"
    _allocate(pixels_path, (len(ids), height, width, 3))
    if filling:
        filling._opened(pixels_path)
    out, failed = _PixelFile(pixels_path), {}
    decode_one = partial(_decode_into_cache, recipe=recipe, root=dataset.root, out=out)
    try:  # the threads are done (closing stops them) before the file is closed
        with closing(_parallel(decode_one, list(enumerate(ids)), workers, "decode", progress, stop, report)) as results:
            for slot, reason in results:
                if reason:
                    failed[slot] = reason
                if filling:  # results come in slot order: slots [0, slot] are written
                    filling._advance(slot + 1, unreadable=bool(reason))
    finally:
        out.close()
    _compact(folder, ids, failed, (height, width))


def _check_one(image_id: str, root: Path) -> tuple[str, str | None]:
    try:
        decode(root / image_id)
        return image_id, None
    except DECODE_ERRORS as error:  # reported, never fatal
        return image_id, unreadable_reason(error)


def find_unreadable(dataset: Dataset, workers: int, progress: bool = True) -> dict[str, str]:
    """Decode every image once (nothing kept) and return the unreadable ones (image id -> reason)."""
    ids = [image.image_id for image in dataset.images]
    check = partial(_check_one, root=dataset.root)
    results = _parallel(check, ids, workers, "check", progress, threading.Event())
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
