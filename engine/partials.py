"""Half-written outputs (runs, image caches) are named after the process writing them; a process killed mid-write
(SIGKILL, out of memory) leaves them behind. They are never read, but they take disk space: remove those whose
process is gone."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def remove_orphans(partials: Iterable[Path], separator: str = "-") -> None:
    """Remove each folder whose name ends in `<separator><pid>` of a process that is gone."""
    for partial in partials:
        pid = partial.name.rsplit(separator, 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)
