"""Files written safely and named by content: stable digests, SHA-256 of files, atomic JSON, and the clean-up of
half-written outputs left by killed processes. Standard library only.

Half-written outputs (runs, image caches) are named after the process writing them; a process killed mid-write
(SIGKILL, out of memory) leaves them behind. They are never read, but they take disk space.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path


def digest(values: object) -> str:
    """A short, stable hash of JSON-serializable values, for run identities and cache keys."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def sha256_file(path: Path, chunk_bytes: int = 1 << 22) -> str:
    """The SHA-256 of a file's bytes, read in 4 MiB chunks (weight files are gigabytes)."""
    hasher = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(chunk_bytes):
            hasher.update(chunk)
    return hasher.hexdigest()


def write_json(path: Path, data: dict) -> None:
    """Replace a JSON file atomically: a reader sees the old or the new content, never half of one."""
    partial = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.partial")
    partial.write_text(json.dumps(data, indent=1))
    partial.replace(path)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def remove_orphans(partials: Iterable[Path]) -> None:
    """Remove each folder whose name ends in `-<pid>` of a process that is gone."""
    for partial in partials:
        pid = partial.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)
