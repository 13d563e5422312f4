"""The life of one job's evaluation process (`counteranimal job run ID`, started by the worker), torch-free: it
reports progress to the job's progress.json, writes its outcome to result.json, cleans up when terminated (SIGTERM
unwinds it like an exception), and ends itself as soon as the worker that started it is gone. The evaluation itself
is the CLI's `job run` command (`engine.cli.job_commands`), which may import torch.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from engine.files import write_json
from engine.jobs.queue import Job, now

WORKER_PID_ENV = "COUNTERANIMAL_WORKER_PID"  # set by the worker for its evaluation processes
POOL_MIN_IMAGES = 500  # below this, one decoding thread: a few photos are not worth the threads' overhead


class ProgressFile:
    """Writes a job's progress.json as the evaluation reports it: at stage changes, else at most every 0.5 s."""

    def __init__(self, folder: Path, every_s: float = 0.5, where: str | None = None) -> None:
        self.path, self.every_s = folder / "progress.json", every_s
        self.where = where  # where the evaluation runs, when not in this process (a Ray cluster): for the job's card
        self.stage, self.stage_started, self.written = None, 0.0, 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        clock = time.time()
        if stage != self.stage:
            self.stage, self.stage_started = stage, clock
            print(f"{now()} {stage}" + (f" ({total} photos)" if total else ""), flush=True)
        elif clock - self.written < self.every_s and done < total:
            return
        self.written = clock
        progress = {"stage": stage, "done": done, "total": total, "stage_started": self.stage_started}
        if self.where:
            progress["where"] = self.where
        write_json(self.path, {**progress, "updated": clock, "pid": os.getpid()})


def become_job_process() -> None:
    """Make this process a job's evaluation process: SIGTERM unwinds it (cleanup code runs), and it ends itself when
    the worker that started it is gone, including before this process got here: the worker's pid comes from the
    environment, not from a first look at the parent."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    worker = int(os.environ.get(WORKER_PID_ENV) or os.getppid())

    def watch() -> None:
        while os.getppid() == worker:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def decode_workers(photos: int) -> int:
    """Decoding processes for a job of this many photos."""
    return min(8, os.cpu_count() or 1) if photos >= POOL_MIN_IMAGES else 1


def write_failure(job: Job, error: Exception) -> int:
    """The job failed on bad input: its message goes to result.json (for the worker and the page); exit status 2."""
    write_json(job.folder / "result.json", {"error": str(error)})
    print(f"error: {error}", flush=True)
    return 2


def write_success(job: Job, run_id: str, skipped: bool) -> int:
    """The job's run exists (written now, or `skipped` because an identical run did); exit status 0."""
    write_json(job.folder / "result.json", {"run_id": run_id, "skipped": skipped})
    print(f"{now()} run {run_id}" + (" (already evaluated)" if skipped else " written"), flush=True)
    return 0
