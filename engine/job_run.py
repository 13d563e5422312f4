"""One job's evaluation, in a process of its own started by the worker (`counteranimal job run ID`).

It reports progress to the job's progress.json, writes its outcome to result.json, cleans up when terminated
(SIGTERM unwinds it like an exception), and ends itself as soon as the worker that started it is gone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from engine import jobs

WORKER_PID_ENV = "COUNTERANIMAL_WORKER_PID"  # set by the worker for its evaluation processes
POOL_MIN_IMAGES = 500  # below this, decoding in this process beats starting a pool of decoding processes


class ProgressFile:
    """Writes a job's progress.json as the evaluation reports it: at stage changes, else at most every 0.5 s."""

    def __init__(self, folder: Path, every_s: float = 0.5) -> None:
        self.path, self.every_s = folder / "progress.json", every_s
        self.stage, self.stage_started, self.written = None, 0.0, 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        clock = time.time()
        if stage != self.stage:
            self.stage, self.stage_started = stage, clock
            print(f"{jobs.now()} {stage}" + (f" ({total} photos)" if total else ""), flush=True)
        elif clock - self.written < self.every_s and done < total:
            return
        self.written = clock
        progress = {"stage": stage, "done": done, "total": total, "stage_started": self.stage_started}
        jobs.write_json(self.path, {**progress, "updated": clock, "pid": os.getpid()})


def _end_with_worker() -> None:
    """End this process (as SIGTERM would, cleaning up) when the worker that started it is gone, including before
    this process got here: the worker's pid comes from the environment, not from a first look at the parent."""
    worker = int(os.environ.get(WORKER_PID_ENV) or os.getppid())

    def watch() -> None:
        while os.getppid() == worker:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _failed(job: jobs.Job, error: Exception) -> int:
    jobs.write_json(job.folder / "result.json", {"error": str(error)})
    print(f"error: {error}", flush=True)
    return 2


def run_job(results: Path, job_id: str) -> int:
    """Evaluate one job's request into a run and write its result.json; 0 on success, 2 on a user error (the message
    is in result.json). Anything else propagates: the worker reports the crash with the log's last lines."""
    from engine.checkpoints import CheckpointError
    from engine.config import cache_root
    from engine.data import DatasetError, load_dataset
    from engine.devices import resolve_device
    from engine.models import ModelError
    from engine.runner import EvalOptions, Evaluator

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # unwind: cleanup code runs
    _end_with_worker()
    job = jobs.load(results, job_id)
    request = job.request
    device = resolve_device(request.get("device", "auto"))
    try:
        dataset = load_dataset(Path(request["data"]))
    except DatasetError as error:
        return _failed(job, error)
    options = EvalOptions(
        results=Path(results),
        cache=cache_root(),
        device=device,
        setups=tuple(request["setups"]),
        batch_size=1024 if device.type == "cuda" else 256,
        workers=min(8, os.cpu_count() or 1) if len(dataset.images) >= POOL_MIN_IMAGES else 1,
        progress=False,
        on_progress=ProgressFile(job.folder),
    )
    try:
        with Evaluator(dataset, options) as evaluator:
            outcome = evaluator.evaluate(request["model"], name=request.get("name"))
    except (ModelError, CheckpointError, DatasetError, ValueError) as error:
        return _failed(job, error)
    jobs.write_json(job.folder / "result.json", {"run_id": outcome.run_id, "skipped": outcome.skipped})
    print(f"{jobs.now()} run {outcome.run_id}" + (" (already evaluated)" if outcome.skipped else " written"))
    return 0
