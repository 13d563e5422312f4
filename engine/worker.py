"""The job worker: runs queued evaluation jobs one after another until the queue is empty (`counteranimal worker`).

One worker at a time holds `jobs/worker.lock`, so one evaluation uses the GPU at a time and later jobs wait. Each
job runs in a child process (`counteranimal job run`) in a process group of its own: cancelling ends it and every
decoding process it started, and a crash (out of memory, a killed process) fails that job alone. The child ends
itself if the worker dies, so a job never runs on unwatched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from engine import jobs

POOL_MIN_IMAGES = 500  # below this, decoding in this process beats starting a pool of decoding processes
GRACE_S = 10.0  # how long a cancelled evaluation gets to clean up (remove its half-built cache) before SIGKILL


class _Stop:
    """Set by SIGTERM or SIGINT (a stopped dashboard): the running job is ended and marked interrupted."""

    def __init__(self) -> None:
        self.requested = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._set)

    def _set(self, *_: object) -> None:
        self.requested = True


def work(results: Path, poll_s: float = 0.2) -> int:
    """Run the queue until it is empty; the number of jobs run. Returns 0 at once if another worker is running."""
    lock = jobs.WorkerLock(results)
    if not lock.acquire(wait_s=5.0):  # a worker that is just exiting, or a dashboard checking for one, holds it
        print(f"another worker is running the jobs in {jobs.jobs_dir(results)}", flush=True)
        return 0
    stop = _Stop()
    if orphans := jobs.interrupt_orphans(results):
        print(f"marked interrupted (their worker died): {', '.join(orphans)}", flush=True)
    count = 0
    while not stop.requested and (job := jobs.claim_next(results, lock)):
        print(f"{jobs.now()} job {job.id}: {job.request['model']}", flush=True)
        job = _supervise(results, job, stop, poll_s)
        print(f"{jobs.now()} job {job.id}: {job.status} {job.state.get('error') or ''}", flush=True)
        count += 1
    lock.release()
    return count


def _supervise(results: Path, job: jobs.Job, stop: _Stop, poll_s: float) -> jobs.Job:
    command = [sys.executable, "-m", "engine.cli", "job", "run", "--results", str(results), job.id]
    with (job.folder / "log.txt").open("ab") as log:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    while child.poll() is None and not (stop.requested or job.cancel_requested):
        time.sleep(poll_s)
    if child.poll() is None:
        _end(child)
        if stop.requested:
            return jobs.finish(results, job, jobs.INTERRUPTED, error="The worker was stopped; retry the job.")
        return jobs.finish(results, job, jobs.CANCELLED, error="Cancelled while it ran.")
    result = job.result()
    if child.returncode == 0 and result.get("run_id"):
        return jobs.finish(results, job, jobs.DONE, run_id=result["run_id"], skipped=result.get("skipped", False))
    return jobs.finish(results, job, jobs.FAILED, error=result.get("error") or _crash_message(child.returncode, job))


def _end(child: subprocess.Popen) -> None:
    """SIGTERM the child's whole process group, then SIGKILL what is left after the grace period."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)  # decoding processes that outlived their parent
    child.wait()


def _crash_message(returncode: int, job: jobs.Job) -> str:
    how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with status {returncode}"
    hint = " (SIGKILL: often the system running out of memory)" if returncode == -signal.SIGKILL else ""
    tail = job.log_tail(5)
    return f"The evaluation process {how}{hint}." + (f" Last lines of its log:\n{tail}" if tail else "")


# ---- the child: one job's evaluation --------------------------------------------------------------------------


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


def _end_with_parent() -> None:
    """End this process (as SIGTERM would, cleaning up) when the worker that started it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
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
    _end_with_parent()
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
