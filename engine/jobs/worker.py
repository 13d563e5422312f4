"""The job worker: runs queued evaluation jobs one after another until the queue is empty (`counteranimal worker`).

One worker at a time holds `jobs/worker.lock`, so one evaluation uses the GPU at a time and later jobs wait. Each
job runs in a child process (`counteranimal job run`, in `engine.cli.job_commands`) in a process group of its own:
cancelling ends it and every decoding process it started, and a crash (out of memory, a killed process) fails that
job alone.
The child shares the worker lock and ends itself if the worker dies, so no job runs on unwatched, and no second
worker starts until it is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine import jobs
from engine.jobs.process import WORKER_PID_ENV

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
        try:
            job = _supervise(results, job, lock, stop, poll_s)
        except Exception as error:  # the worker must outlive any one job: fail it and go on with the queue
            job = jobs.finish(results, job, jobs.FAILED, error=f"The worker could not run the job: {error!r}")
        print(f"{jobs.now()} job {job.id}: {job.status} {job.state.get('error') or ''}", flush=True)
        count += 1
    lock.release()
    return count


def _supervise(results: Path, job: jobs.Job, lock: jobs.WorkerLock, stop: _Stop, poll_s: float) -> jobs.Job:
    command = [sys.executable, "-m", "engine.cli", "job", "run", "--results", str(results), job.id]
    env = {**os.environ, WORKER_PID_ENV: str(os.getpid())}
    with (job.folder / "log.txt").open("ab") as log:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            pass_fds=(lock.fileno(),), env=env,
        )  # fmt: skip
    while child.poll() is None and not (stop.requested or job.cancel_requested):
        time.sleep(poll_s)
    ended = child.poll() is None
    if ended:
        _end(child)
    result = job.result()
    if result.get("run_id"):  # also when a cancel came as the run was being written: the run exists
        return jobs.finish(results, job, jobs.DONE, run_id=result["run_id"], skipped=result.get("skipped", False))
    if ended and stop.requested:
        return jobs.finish(results, job, jobs.INTERRUPTED, error="The worker was stopped; retry the job.")
    if ended:
        return jobs.finish(results, job, jobs.CANCELLED, error="Cancelled while it ran.")
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
