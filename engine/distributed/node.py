"""What a worker finds on its own node: the node's cache folder, locks that make a node build each thing once, and
the dataset (the driver's path, the node's `$COUNTERANIMAL_DATA`, or shipped photos), always checked against the
driver's fingerprint."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from engine.config import CACHE_ENV, DATA_ENV
from engine.dataset.reader import Dataset, DatasetError, load_dataset
from engine.distributed.photos import ShippedDataset, unpack
from engine.files import digest


def node_cache(driver_cache: Path) -> Path:
    """This node's cache: `$COUNTERANIMAL_CACHE` of the `ray start` that started the node, else the driver's folder
    (the same machine, or the same path on every node)."""
    return Path(os.environ.get(CACHE_ENV) or driver_cache).expanduser()


@contextlib.contextmanager
def node_lock(cache: Path, name: str) -> Iterator[None]:
    """Held by one worker of this node at a time (the node's cache is its own): the first builds, the rest wait and
    then read what it built."""
    folder = cache / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{name}.lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield  # closing the file releases the lock, also when the worker dies


def find_dataset(root: str, fingerprint: str, shipped: ShippedDataset | None, cache: Path) -> Dataset:
    """The driver's dataset on this node: at the driver's path, at this node's `$COUNTERANIMAL_DATA`, or written out
    from the shipped photos (once per node), whichever has the driver's fingerprint.

    Raises:
        DatasetError: no copy here has the same photos, and none was shipped.
    """
    for candidate in (root, os.environ.get(DATA_ENV)):
        if candidate and Path(candidate).is_dir():
            with contextlib.suppress(DatasetError):
                dataset = load_dataset(Path(candidate))
                if dataset.fingerprint == fingerprint:
                    return dataset
    if shipped is None:
        raise DatasetError(
            f"node {_node_name()} has no copy of the dataset {root} with the driver's photos (same names, sizes and "
            f"times); copy it there (rsync -a), point the node's ${DATA_ENV} at it, or pass --ship-photos"
        )
    return _shipped_copy(shipped, cache)


def _shipped_copy(shipped: ShippedDataset, cache: Path) -> Dataset:
    folder = cache / "datasets" / digest(shipped.fingerprint)
    with node_lock(cache, f"dataset-{folder.name}"):
        if not (folder / "complete").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a copy a killed worker left half-written
            unpack(shipped, folder)
            (folder / "complete").touch()
    dataset = load_dataset(folder / shipped.name)
    if dataset.fingerprint != shipped.fingerprint:
        raise DatasetError(f"the photos shipped to node {_node_name()} differ from the driver's (a bug)")
    return dataset


def _node_name() -> str:
    import ray

    return ray.util.get_node_ip_address()
