"""Photos for nodes without the dataset: the driver puts the dataset's files into Ray's object store (one object per
class folder), and a node that has no copy of its own writes them out once into its cache, modification times
included, so the copy has the driver's fingerprint and every run on it is the driver's run."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from engine.dataset.reader import Dataset


@dataclass(frozen=True)
class ShippedFile:
    path: str  # relative to the dataset folder, forward slashes
    data: bytes
    mtime_ns: int  # part of the dataset's fingerprint: kept so the copy is the same dataset


@dataclass(frozen=True)
class ShippedDataset:
    """A dataset's files in the object store: `parts` are ObjectRefs, each to a tuple of ShippedFile."""

    name: str  # the dataset folder's name, kept for the copy (the dashboard shows datasets by it)
    fingerprint: str
    parts: tuple


def pack(dataset: Dataset) -> ShippedDataset:
    """Put every photo (and empty file) of the dataset into the object store, one object per class folder."""
    import ray

    by_folder: dict[str, list[str]] = defaultdict(list)
    for image_id in [image.image_id for image in dataset.images] + list(dataset.empty_files):
        by_folder[image_id.split("/", 1)[0]].append(image_id)
    parts = tuple(ray.put(tuple(_read(dataset.root, ids))) for _, ids in sorted(by_folder.items()))
    return ShippedDataset(dataset.root.name, dataset.fingerprint, parts)


def _read(root: Path, image_ids: list[str]) -> list[ShippedFile]:
    return [ShippedFile(i, (root / i).read_bytes(), (root / i).stat().st_mtime_ns) for i in image_ids]


def unpack(shipped: ShippedDataset, folder: Path) -> Path:
    """Write the shipped files into `folder/<dataset name>` (a fresh folder) and return the dataset's copy."""
    import ray

    root = folder / shipped.name
    for part in shipped.parts:
        for file in ray.get(part):
            path = root / file.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(file.data)
            os.utime(path, ns=(file.mtime_ns, file.mtime_ns))
    return root
