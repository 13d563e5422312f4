"""The Evaluate page's plumbing: the dashboard never imports torch, so it asks the engine's command line (in a
subprocess) for architectures and checks, and reads and changes the job queue on disk (`engine.jobs`)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import streamlit as st

from engine import jobs
from engine.files import write_json

# What the page offers -> the spec's kind. A folder holds its own architecture: an open_clip one has
# open_clip_config.json, a transformers one (save_pretrained) config.json and its processor's files.
KINDS = {
    "open_clip architecture": "open_clip",
    "timm model": "timm",
    "torchvision model": "torchvision",
    "open_clip folder (hub format)": "local-dir",
    "vision-language model (transformers folder)": "hf",
}
# The kinds given as a folder on the server (it cannot be uploaded) -> what the folder holds.
FOLDER_KINDS = {
    "local-dir": "open_clip folder (with open_clip_config.json)",
    "hf": "transformers folder (save_pretrained: config.json, the processor's files and the weights)",
}
CHECK_TIMEOUT_S = 600  # reading names and shapes is quick; importing torch and listing a big dataset take seconds


def served() -> bool:
    """Whether `counteranimal serve` started this dashboard (AppTest sessions and a plain `streamlit run` are not)."""
    from engine.config import SERVED_ENV

    return os.environ.get(SERVED_ENV) == "1"


def engine_installed() -> bool:
    """Whether this environment can evaluate (torch, open_clip, timm), found without importing them."""
    return all(importlib.util.find_spec(name) for name in ("torch", "open_clip", "timm"))


def _engine(*args: str, timeout: float = CHECK_TIMEOUT_S, idle: bool = False) -> subprocess.CompletedProcess:
    """The engine's command line; `idle`: at the lowest CPU priority (`nice`, where there is one), for work in the
    background that must not slow the pages down."""
    command = [sys.executable, "-m", "engine.cli", *args]
    if idle and (nice := shutil.which("nice")):
        command = [nice, "-n", "19", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


BACKGROUND_WAIT_S = 3.0  # how long a visitor waits for the start-up listing before the page lists them itself


@st.cache_data(show_spinner="Listing the installed architectures...")
def architectures() -> dict[str, list[str]]:
    """{"open_clip": [...], "timm": [...], "torchvision": [...]}: what the installed libraries can build. Asking the
    engine takes seconds (it imports them), so the answer is kept on disk for these libraries' versions; a served
    dashboard lists them in the background when it starts (`resume_jobs`), so a first visit finds them there."""
    path = _architectures_file()
    if not path.is_file() and served():  # started with the dashboard: usually done by now
        _list_in_background(str(path.parent)).join(timeout=BACKGROUND_WAIT_S)
    if not path.is_file():  # not listed yet (the idle listing starves while jobs keep the CPUs busy), or it failed:
        _write_architectures(path)  # here, at normal priority, saying why if it fails
    return json.loads(path.read_text())


def _architectures_file() -> Path:
    from engine.config import cache_root

    installed = "-".join(version(name) for name in ("open_clip_torch", "timm", "torchvision"))
    return cache_root() / "architectures" / f"{installed}.json"


def _write_architectures(path: Path, idle: bool = False) -> None:
    done = _engine("architectures", "--json", idle=idle)
    if done.returncode != 0:
        raise RuntimeError(f"`counteranimal architectures` failed: {done.stderr.strip()[-500:]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, json.loads(done.stdout))


@st.cache_resource(show_spinner=False)
def _list_in_background(folder: str) -> threading.Thread:
    """Once per dashboard process and cache folder: a thread that lists the architectures into `folder`, unless they
    are there or the engine is not installed. Returned, so that the Evaluate page can wait for it."""

    def list_once() -> None:
        path = _architectures_file()
        if engine_installed() and not path.is_file():
            with contextlib.suppress(RuntimeError, OSError, ValueError, subprocess.SubprocessError):
                _write_architectures(path, idle=True)  # a failure is reported by the page, which tries again

    listing = threading.Thread(target=list_once, name="list-architectures", daemon=True)
    listing.start()
    return listing


@dataclass(frozen=True)
class Submitted:
    job_id: str | None = None
    error: str | None = None  # in plain words, for the page
    checked: dict | None = None


def submit(results: Path, spec: str, name: str, data: str, setups: list[str]) -> Submitted:
    """Check the weights against the architecture and the dataset, then queue the job (`counteranimal job submit`)
    and start a worker from this process, which keeps it to reap it; nothing is queued if a check fails."""
    # Values as `--option=value`: a display name such as "-v2" must not read as an option.
    args = ["job", "submit", "--json", "--no-start", f"--results={results}", f"--model={spec}", f"--data={data}"]
    args += [f"--setups={','.join(setups)}"] + ([f"--name={name}"] if name else [])
    try:
        done = _engine(*args)
    except subprocess.TimeoutExpired:
        return Submitted(
            error=f"Checking took over {CHECK_TIMEOUT_S} s and was stopped; is the dataset on a slow disk?"
        )
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):  # it crashed: say so, with the exception's own last line
        last = (done.stderr.strip().splitlines() or [f"status {done.returncode}"])[-1]
        return Submitted(error=f"The check stopped unexpectedly ({last}). The dashboard's terminal has the details.")
    if "error" in answer:
        return Submitted(error=answer["error"])
    jobs.ensure_worker(results)
    return Submitted(job_id=answer["job_id"], checked=answer["checked"])


def resume_jobs() -> None:
    """When the dashboard starts: jobs whose worker died are marked interrupted, queued ones start running, and the
    installed architectures are listed in the background."""
    from engine.config import cache_root, results_dir

    _resume(str(results_dir().resolve()))
    if served():  # a served dashboard (not a test's AppTest): the Evaluate page's lists, seconds of imports
        _list_in_background(str(cache_root() / "architectures"))


@st.cache_resource(show_spinner=False)
def _resume(results: str) -> None:  # once per dashboard process and results folder
    keep_queue_moving(Path(results))


def keep_queue_moving(results: Path, listed: list[jobs.Job] | None = None) -> bool:
    """If jobs wait or run but no worker is alive (it died, or the dashboard restarted), mark the orphaned jobs
    interrupted and start a worker for the queued ones; True if a job's status changed. `listed`: the jobs, if the
    caller has just read them. Cheap: a lock attempt when jobs are active."""
    try:
        listed = jobs.list_jobs(results) if listed is None else listed
        if not any(job.status in (jobs.QUEUED, jobs.RUNNING) for job in listed):
            return False
        interrupted = jobs.recover(results)
        if engine_installed():
            jobs.ensure_worker(results)
    except OSError:  # a read-only results folder: the pages still show everything
        return False
    return bool(interrupted)


STATUS_LABELS = {
    jobs.QUEUED: ":material/schedule: Queued",
    jobs.RUNNING: ":material/progress_activity: Running",
    jobs.DONE: ":material/check_circle: Done",
    jobs.FAILED: ":material/error: Failed",
    jobs.CANCELLED: ":material/cancel: Cancelled",
    jobs.INTERRUPTED: ":material/pause_circle: Interrupted",
}


def progress_line(progress: dict, clock: float | None = None) -> tuple[float | None, str]:
    """(fraction done or None, "stage: 1,200 of 13,100 photos, about 40 s left") of a running job's progress."""
    if not progress:
        return None, "starting (loading the engine)"
    stage, done, total = progress["stage"], progress.get("done", 0), progress.get("total", 0)
    where = f" · on {progress['where']}" if progress.get("where") else ""  # a job sent to a Ray cluster
    if not total:
        return None, stage + where
    text = f"{stage}: {done:,} of {total:,} photos"
    elapsed = (clock or time.time()) - progress["stage_started"]
    if 0 < done < total and elapsed > 1:
        text += f", about {_duration(elapsed / done * (total - done))} left"
    return done / total, text + where


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def queue_position(job: jobs.Job, all_jobs: list[jobs.Job]) -> int:
    """1 for the next job to run."""
    queued = sorted((j for j in all_jobs if j.status == jobs.QUEUED), key=jobs.queue_order)
    return next(i for i, j in enumerate(queued, 1) if j.id == job.id)
