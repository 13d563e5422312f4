"""Data parallelism for one large model: its photos split into shards at batch boundaries, each scored by its own
worker, and the shards' predictions joined into the table one worker would have made."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from engine.inference.evaluator import ComputedRun
from engine.inference.image_cache import ImageCache
from engine.runs.format import predictions_table


@dataclass(frozen=True)
class ImageCacheShard(ImageCache):
    """Photos `start:stop` of an image cache, read by the scorers like a whole cache."""

    start: int = 0
    stop: int = 0

    @property
    def pixels(self) -> np.ndarray:
        return super().pixels[self.start : self.stop]  # a view of the memory map: nothing else is read


def shard_window(photos: int, batch_size: int, shard: int, shards: int) -> slice:
    """Shard `shard` of `shards`: whole batches only, so every batch a model sees is the batch a single worker would
    see (on a CPU, a batch's scores depend in their last bits on what else is in the batch)."""
    batches = math.ceil(photos / batch_size)  # spread evenly: shards differ by one batch at most
    first, last = shard * batches // shards, (shard + 1) * batches // shards
    return slice(min(first * batch_size, photos), min(last * batch_size, photos))


def shard_of(cache: ImageCache, batch_size: int, shard: int, shards: int) -> ImageCache | None:
    """This shard's part of the cache; None for a shard left without photos (more shards than batches)."""
    if shards == 1:
        return cache
    window = shard_window(len(cache.image_ids), batch_size, shard, shards)
    ids = cache.image_ids[window]
    if not ids:
        return None
    return ImageCacheShard(cache.path, ids, cache.skipped, window.start, window.stop)


def join(parts: list[ComputedRun]) -> ComputedRun:
    """The shards of one run (in shard order) as one run: rows concatenated, dictionary columns encoded over the whole
    table as a single worker encodes them, run.json from the first shard with the whole run's counts and times."""
    parts = [part for part in parts if part.table.num_rows] or parts[:1]  # more shards than batches: empty ones
    if len(parts) == 1:
        return parts[0]
    table = pa.concat_tables([part.table for part in parts])
    columns = {}
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_dictionary(field.type):
            column = column.cast(field.type.value_type)  # re-encoded by predictions_table, in first-seen order
        columns[field.name] = column.combine_chunks()
    first = parts[0].manifest
    seconds = {stage: max(part.manifest.seconds.get(stage, 0) for part in parts) for stage in first.seconds}
    manifest = replace(
        first,
        images={**first.images, "evaluated": table.num_rows},
        seconds=seconds,  # the slowest shard's: the run took that long
        finished_at=max(part.manifest.finished_at for part in parts),
        device=f"{first.device} x {len(parts)} (data parallel)",
    )
    return ComputedRun(manifest, predictions_table(columns))
