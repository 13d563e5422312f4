"""Evaluation jobs: a first-in, first-out queue on disk, run one at a time by a worker process (`engine.jobs.worker`).

    <results>/jobs/<job_id>/request.json   what to evaluate: model spec, display name, dataset, setups (written once)
    <results>/jobs/<job_id>/state.json     status and outcome; changed only under the queue lock
    <results>/jobs/<job_id>/progress.json  stage, photos done and total; written by the evaluation process
    <results>/jobs/<job_id>/result.json    the evaluation process's own account: its run id, or the error it met
    <results>/jobs/<job_id>/log.txt        the evaluation's output
    <results>/jobs/<job_id>/cancel         present once someone asks to cancel the job while it runs
    <results>/jobs/queue.lock              held for a moment by whoever changes a state
    <results>/jobs/worker.lock             held by the one live worker while it runs: one evaluation at a time

Standard library only: the dashboard, which never imports torch, submits, watches, cancels and retries jobs with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import UserError
from engine.files import write_json

QUEUED, RUNNING, DONE, FAILED, CANCELLED, INTERRUPTED = (
    "queued",
    "running",
    "done",
    "failed",
    "cancelled",
    "interrupted",
)
RETRYABLE = (FAILED, CANCELLED, INTERRUPTED)
_SCRATCH = ("progress.json", "result.json", "cancel")  # what one attempt leaves; cleared when the job runs again


class JobError(UserError):
    """A job cannot be found or changed; the message says why."""


@dataclass(frozen=True)
class Job:
    """One job as read from disk."""

    id: str
    folder: Path
    request: dict
    state: dict

    @property
    def status(self) -> str:
        return self.state["status"]

    @property
    def cancel_requested(self) -> bool:
        return (self.folder / "cancel").exists()

    def progress(self) -> dict:
        """{"stage", "done", "total", "stage_started", "updated", "pid"} of a running job; {} before its first
        report."""
        return _read_json(self.folder / "progress.json") or {}

    def result(self) -> dict:
        return _read_json(self.folder / "result.json") or {}

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the job's log (progress bars' carriage returns folded to their last state)."""
        path = self.folder / "log.txt"
        if not path.is_file():
            return ""
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - 16384))
            text = f.read().decode("utf-8", errors="replace")
        return "\n".join(line.rsplit("\r", 1)[-1] for line in text.splitlines()[-lines:])


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def jobs_dir(results: Path) -> Path:
    return Path(results) / "jobs"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _queue_lock(results: Path) -> Iterator[None]:
    folder = jobs_dir(results)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "queue.lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def submit(results: Path, request: dict) -> Job:
    """Queue a job. The request must already be checked (`counteranimal job submit` checks it)."""
    folder = jobs_dir(results)
    folder.mkdir(parents=True, exist_ok=True)
    job_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S-%f}-{secrets.token_hex(2)}"  # sorts by submission time
    staging = folder / f".new-{job_id}"
    staging.mkdir()
    write_json(staging / "request.json", {**request, "submitted_at": now()})
    write_json(staging / "state.json", {"status": QUEUED, "queued_at": time.time(), "attempts": 0})
    with _queue_lock(results):
        staging.rename(folder / job_id)  # the worker sees the whole job or none of it
    return load(results, job_id)


def load(results: Path, job_id: str) -> Job:
    missing = JobError(f"No job {job_id!r} in {jobs_dir(results)}; `counteranimal jobs` lists them.")
    if "/" in job_id or job_id.startswith("."):
        raise missing
    folder = jobs_dir(results) / job_id
    request, state = _read_json(folder / "request.json"), _read_json(folder / "state.json")
    if request is None or state is None:
        raise missing
    return Job(job_id, folder, request, state)


def queue_order(job: Job) -> tuple:
    """Queued jobs run in this order: by when they were (re)queued."""
    return job.state.get("queued_at", 0), job.id


def _clear_scratch(job: Job) -> None:
    for name in _SCRATCH:
        (job.folder / name).unlink(missing_ok=True)


def list_jobs(results: Path) -> list[Job]:
    """Every job, oldest first."""
    folder = jobs_dir(results)
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        if path.is_dir() and not path.name.startswith("."):
            with contextlib.suppress(JobError):
                found.append(load(results, path.name))
    return found


def _update(job: Job, **changes: object) -> Job:
    state = {**job.state, **changes}
    write_json(job.folder / "state.json", state)
    return Job(job.id, job.folder, job.request, state)


def cancel(results: Path, job_id: str) -> str:
    """Cancel a job: a queued one at once; a running one is stopped by its worker within a second (one whose worker
    died is marked interrupted, as a restart would)."""
    with _queue_lock(results):
        job = load(results, job_id)
        if job.status == QUEUED:
            _update(job, status=CANCELLED, finished_at=now(), error="Cancelled before it started.")
            return CANCELLED
        if job.status == RUNNING:
            (job.folder / "cancel").touch()
    if job.status == RUNNING and recover(results):
        return INTERRUPTED
    return "cancelling" if job.status == RUNNING else job.status


def retry(results: Path, job_id: str) -> Job:
    """Queue a failed, cancelled or interrupted job again, at the back of the queue."""
    with _queue_lock(results):
        job = load(results, job_id)
        if job.status not in RETRYABLE:
            raise JobError(f"Job {job_id} is {job.status}; only {', '.join(RETRYABLE)} jobs can be retried.")
        _clear_scratch(job)
        return _update(job, status=QUEUED, queued_at=time.time(), error=None, run_id=None)


class WorkerLock:
    """`jobs/worker.lock`, held by the one live worker. The kernel releases it when the worker exits, however it
    exits, so a held lock means a live worker."""

    def __init__(self, results: Path) -> None:
        folder = jobs_dir(results)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "worker.lock"
        self._file = None

    def acquire(self, wait_s: float = 0.0) -> bool:
        """Take the lock, waiting up to `wait_s` for a worker that is about to exit; False if another holds it."""
        f = self.path.open("a")
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._file = f
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    f.close()
                    return False
                time.sleep(0.1)

    def fileno(self) -> int:
        """The held lock's file descriptor: a process given it (`pass_fds`) keeps the lock held while it lives."""
        return self._file.fileno()

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def worker_alive(results: Path) -> bool:
    lock = WorkerLock(results)
    if lock.acquire():
        lock.release()
        return False
    return True


def recover(results: Path) -> list[str]:
    """Mark the jobs that were running when their worker died (a crash, a reboot, a stopped dashboard) interrupted,
    so they can be retried. Does nothing while a worker is alive: its running job is really running."""
    if not jobs_dir(results).is_dir():
        return []  # no job was ever submitted here (and a read-only results folder stays untouched)
    lock = WorkerLock(results)
    if not lock.acquire():
        return []
    try:
        return interrupt_orphans(results)
    finally:
        lock.release()


def interrupt_orphans(results: Path) -> list[str]:
    """Mark running jobs interrupted (or done, if their run was written just before the end); only for the holder of
    the worker lock, which the evaluation processes share: no job can really be running."""
    interrupted = []
    with _queue_lock(results):
        for job in (job for job in list_jobs(results) if job.status == RUNNING):
            if job.result().get("run_id"):
                _update(job, status=DONE, finished_at=now(), **job.result())
                continue
            error = "The evaluation stopped when its worker did (the dashboard was stopped or crashed); retry it."
            _update(job, status=INTERRUPTED, finished_at=now(), error=error)
            interrupted.append(job.id)
    return interrupted


def claim_next(results: Path, lock: WorkerLock) -> Job | None:
    """The oldest queued job, now marked running, for the worker holding `lock`. With none queued, the worker lock
    is released under the queue lock, so a job submitted at that moment either is claimed here or finds no worker
    and starts one (`ensure_worker`)."""
    with _queue_lock(results):
        queued = [job for job in list_jobs(results) if job.status == QUEUED]
        if not queued:
            lock.release()
            return None
        job = min(queued, key=queue_order)
        _clear_scratch(job)
        attempts = job.state.get("attempts", 0) + 1
        return _update(job, status=RUNNING, started_at=now(), attempts=attempts, worker_pid=os.getpid())


def finish(results: Path, job: Job, status: str, **outcome: object) -> Job:
    with _queue_lock(results):
        return _update(load(results, job.id), status=status, finished_at=now(), **outcome)


_spawned: list[subprocess.Popen] = []  # kept so Python reaps exited workers


def ensure_worker(results: Path) -> bool:
    """Start a worker process if jobs are queued and none is running; True if one was started. The worker runs the
    queue to its end and exits, whichever page, tab or command queued the jobs."""
    if not jobs_dir(results).is_dir():
        return False
    with _queue_lock(results):
        if not any(job.status == QUEUED for job in list_jobs(results)) or worker_alive(results):
            return False
    log = (jobs_dir(results) / "worker.log").open("ab")
    command = [sys.executable, "-m", "engine.cli", "worker", "--results", str(Path(results).resolve())]
    _spawned[:] = [p for p in _spawned if p.poll() is None]
    _spawned.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))
    log.close()
    return True
