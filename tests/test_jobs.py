"""The job queue and its worker: real worker and evaluation processes on tiny models and generated photos."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import jobs
from engine.cli import main
from engine.files import write_json

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def queue_env(
    results_dir: Path, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A results folder for jobs, with a private cache (the worker and its children inherit the environment); the
    tests' weights and datasets, all under pytest's temporary folder, are inside the allowed roots."""
    monkeypatch.setenv("COUNTERANIMAL_ALLOWED_ROOTS", str(tmp_path_factory.getbasetemp()))
    return results_dir


@pytest.fixture(scope="session")
def slow_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random ResNet-18 weights: seconds of CPU work per job, time enough to cancel or kill it mid-run."""
    import timm
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("resnet18") / "resnet18.pt"
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), path)
    return path


@pytest.fixture(scope="session")
def big_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.dataset.synthetic import write_dataset

    return write_dataset(tmp_path_factory.mktemp("big-data"), [9, 100, 296], per_group=60, sizes=(200, 260))


@pytest.fixture(scope="session")
def pooled_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """POOL_MIN_IMAGES photos, so a job decodes them in a pool of processes. Each is a hard link to one flat 4000 px
    JPEG: written in a blink, yet a fifth of a second to decode, so a decoder is seconds into its batch of photos
    when the job is cancelled."""
    from PIL import Image

    from engine.dataset.synthetic import write_dataset
    from engine.jobs.process import POOL_MIN_IMAGES

    root = tmp_path_factory.mktemp("pooled-data")
    class_ids = [9, 10, 16, 100, 296]
    dataset = write_dataset(root, class_ids, per_group=-(-POOL_MIN_IMAGES // (2 * len(class_ids))), sizes=(48, 64))
    large = root / "large.jpg"
    Image.new("RGB", (4000, 4000), (90, 140, 60)).save(large, quality=90)
    for photo in dataset.rglob("*.jpg"):
        photo.unlink()
        os.link(large, photo)
    return dataset


def _request(weights: Path, data: Path, name: str, arch: str = "test_resnet") -> dict:
    return {"model": f"timm:{arch}@{weights}", "name": name, "data": str(data), "setups": ["1vs1000"]}


def _worker(results: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "engine.cli", "worker", "--results", str(results)]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def wait_for(condition, timeout_s: float = 90, what: str = "the condition"):
    """The condition's first truthy value, polled every 0.1 s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise TimeoutError(f"waited {timeout_s} s for {what}")


def _status(results: Path, job: jobs.Job) -> str:
    return jobs.load(results, job.id).status


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").is_file() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_jobs_run_in_submission_order_one_at_a_time(queue_env, tiny_timm, dataset_dir):
    submitted = [jobs.submit(queue_env, _request(tiny_timm, dataset_dir, f"model {i}")) for i in range(3)]
    first, second = _worker(queue_env), _worker(queue_env)  # two workers race: one runs the queue, one leaves
    outputs = [first.communicate(timeout=180)[0], second.communicate(timeout=180)[0]]
    assert sum("another worker is running" in out for out in outputs) == 1, outputs
    finished = [jobs.load(queue_env, job.id) for job in submitted]
    assert [job.status for job in finished] == [jobs.DONE] * 3, [job.state for job in finished]
    for earlier, later in zip(finished, finished[1:], strict=False):
        assert earlier.state["finished_at"] <= later.state["started_at"]  # never two at once, oldest first
    assert finished[0].state["skipped"] is False and finished[1].state["skipped"] is True  # same weights: one run
    run = json.loads((queue_env / "runs" / finished[0].state["run_id"] / "run.json").read_text())
    assert run["model"]["name"] == "model 2"  # each identical re-run renames the run: the latest name stands
    assert finished[0].progress()["stage"] == "writing the run"


def test_a_cancelled_queued_job_never_runs(queue_env, tiny_timm, dataset_dir):
    cancelled = jobs.submit(queue_env, _request(tiny_timm, dataset_dir, "cancelled"))
    kept = jobs.submit(queue_env, _request(tiny_timm, dataset_dir, "kept"))
    assert jobs.cancel(queue_env, cancelled.id) == jobs.CANCELLED
    _worker(queue_env).wait(timeout=120)
    assert _status(queue_env, cancelled) == jobs.CANCELLED
    assert not (cancelled.folder / "log.txt").exists()
    assert _status(queue_env, kept) == jobs.DONE


def _slow_job_decoding(results: Path, slow_weights: Path, big_dataset: Path, quick_weights: Path, quick_data: Path):
    """A slow job caught while it decodes photos, a quick one queued after it, and their worker."""
    slow = jobs.submit(results, _request(slow_weights, big_dataset, "slow", arch="resnet18"))
    after = jobs.submit(results, _request(quick_weights, quick_data, "after"))
    worker = _worker(results)
    wait_for(lambda: slow.progress().get("stage") == "decoding photos", what="the slow job to decode")
    return slow, after, worker


def test_cancelling_a_running_job_stops_it_and_leaves_no_run_or_half_cache(
    queue_env, cache_dir, slow_weights, big_dataset, tiny_timm, dataset_dir
):
    slow, after, worker = _slow_job_decoding(queue_env, slow_weights, big_dataset, tiny_timm, dataset_dir)
    assert jobs.cancel(queue_env, slow.id) == "cancelling"
    worker.wait(timeout=180)
    state = jobs.load(queue_env, slow.id).state
    assert state["status"] == jobs.CANCELLED and "Cancelled while it ran" in state["error"]
    assert _status(queue_env, after) == jobs.DONE  # the queue went on
    runs = [json.loads(p.read_text())["model"]["name"] for p in (queue_env / "runs").glob("*/run.json")]
    assert runs == ["after"]
    assert not list((cache_dir / "images").glob("*.partial-*"))  # the cancelled build cleaned up after itself


def test_a_crashed_evaluation_fails_its_job_and_the_queue_goes_on(
    queue_env, cache_dir, slow_weights, big_dataset, tiny_timm, dataset_dir
):
    crashing, after, worker = _slow_job_decoding(queue_env, slow_weights, big_dataset, tiny_timm, dataset_dir)
    os.kill(crashing.progress()["pid"], signal.SIGKILL)  # what the out-of-memory killer does, mid-build
    worker.wait(timeout=180)
    state = jobs.load(queue_env, crashing.id).state
    assert state["status"] == jobs.FAILED
    assert "killed by signal 9" in state["error"] and "out of memory" in state["error"]
    assert "Last lines of its log" in state["error"] and "decoding photos" in state["error"]
    assert _status(queue_env, after) == jobs.DONE
    assert not list((cache_dir / "images").glob("*.partial-*"))  # the next build swept what the crash left


def test_a_restart_marks_the_running_job_interrupted_runs_the_queue_and_retries(
    queue_env, slow_weights, big_dataset, tiny_timm, dataset_dir
):
    running = jobs.submit(queue_env, _request(slow_weights, big_dataset, "running", arch="resnet18"))
    queued = jobs.submit(queue_env, _request(tiny_timm, dataset_dir, "queued"))
    worker = _worker(queue_env)
    wait_for(lambda: _status(queue_env, running) == jobs.RUNNING, what="the job to start")
    evaluation = wait_for(lambda: _children(worker.pid), what="the evaluation process")[0]
    # Held still while the worker dies, so that it cannot notice and end itself before `recover` looks (on a busy
    # machine it sometimes did, and `recover` rightly found nothing holding the lock).
    os.killpg(evaluation, signal.SIGSTOP)
    worker.kill()  # the dashboard and its worker die (a crash, a reboot), here before the evaluation got going
    worker.wait()
    assert jobs.recover(queue_env) == []  # its evaluation process still holds the worker lock: it may still run
    os.killpg(evaluation, signal.SIGCONT)
    wait_for(lambda: not jobs.worker_alive(queue_env), timeout_s=30, what="the orphaned evaluation to end itself")
    assert not (queue_env / "runs").exists()  # it ended itself instead of running on unwatched
    assert jobs.recover(queue_env) == [running.id]
    assert _status(queue_env, running) == jobs.INTERRUPTED
    assert _status(queue_env, queued) == jobs.QUEUED
    jobs.retry(queue_env, running.id)  # back of the queue: after the job that was waiting
    worker = _worker(queue_env)
    wait_for(lambda: jobs.load(queue_env, running.id).state.get("attempts") == 2, what="the retry to start")
    assert _status(queue_env, queued) == jobs.DONE
    assert jobs.load(queue_env, queued.id).state["finished_at"] <= jobs.load(queue_env, running.id).state["started_at"]
    jobs.cancel(queue_env, running.id)  # running it to the end proves nothing more
    worker.wait(timeout=120)


def test_recover_leaves_a_live_workers_job_alone(queue_env, slow_weights, big_dataset):
    job = jobs.submit(queue_env, _request(slow_weights, big_dataset, "live", arch="resnet18"))
    worker = _worker(queue_env)
    try:
        wait_for(lambda: _status(queue_env, job) == jobs.RUNNING, what="the job to start")
        assert jobs.recover(queue_env) == []
        assert _status(queue_env, job) == jobs.RUNNING
    finally:
        jobs.cancel(queue_env, job.id)
        worker.wait(timeout=120)


def _process_group(pgid: int) -> dict[int, int]:
    """The live (not zombie) processes of a process group, from /proc: pid -> parent pid."""
    members = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent, group = stat.read_text().rsplit(")", 1)[1].split()[:3]  # after "pid (command)"
        except OSError:  # ended since the listing
            continue
        if int(group) == pgid and state != "Z":
            members[int(stat.parent.name)] = int(parent)
    return members


def test_cancelling_a_job_while_it_decodes_ends_every_process_of_it_within_seconds(
    queue_env, tiny_timm, pooled_dataset
):
    """500 large photos decoding (by threads of the evaluation process, which scores as they come): Cancel ends the
    job's whole process group sooner than the grace period, by SIGTERM, not the SIGKILL that follows it."""
    from engine.jobs.worker import GRACE_S

    job = jobs.submit(queue_env, _request(tiny_timm, pooled_dataset, "pooled"))
    worker = _worker(queue_env)
    pid = wait_for(lambda: job.progress().get("pid"), what="the evaluation process to start")
    try:
        wait_for(lambda: job.progress().get("stage") == "decoding photos", what="decoding")
        assert jobs.cancel(queue_env, job.id) == "cancelling"
        wait_for(lambda: not _process_group(pid), timeout_s=GRACE_S - 2, what="every process of the job to end")
        worker.wait(timeout=120)
        assert _status(queue_env, job) == jobs.CANCELLED
    finally:  # a process orphaned by a failure would run on
        for leftover in _process_group(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(leftover, signal.SIGKILL)


def claimed(results: Path, request: dict) -> jobs.Job:
    """A job marked running by a worker that is gone (the lock taken and dropped here)."""
    job = jobs.submit(results, request)
    lock = jobs.WorkerLock(results)
    assert lock.acquire()
    jobs.claim_next(results, lock)
    lock.release()
    return job


def test_cancelling_a_job_whose_worker_died_marks_it_interrupted(queue_env, tiny_timm, dataset_dir):
    job = claimed(queue_env, _request(tiny_timm, dataset_dir, "orphan"))
    assert jobs.cancel(queue_env, job.id) == jobs.INTERRUPTED
    assert _status(queue_env, job) == jobs.INTERRUPTED


def test_a_job_whose_run_was_written_before_its_worker_died_is_done(queue_env, tiny_timm, dataset_dir):
    job = claimed(queue_env, _request(tiny_timm, dataset_dir, "almost"))
    write_json(job.folder / "result.json", {"run_id": "abc123", "skipped": False})
    assert jobs.recover(queue_env) == []
    assert jobs.load(queue_env, job.id).state["run_id"] == "abc123" and _status(queue_env, job) == jobs.DONE


def test_only_failed_cancelled_or_interrupted_jobs_can_be_retried(queue_env, tiny_timm, dataset_dir):
    job = jobs.submit(queue_env, _request(tiny_timm, dataset_dir, "queued"))
    with pytest.raises(jobs.JobError, match="only failed, cancelled, interrupted jobs can be retried"):
        jobs.retry(queue_env, job.id)
    with pytest.raises(jobs.JobError, match="No job"):
        jobs.load(queue_env, "../../etc")


# ---- `counteranimal job submit`: checked before anything is queued ------------------------------------------------


class CreatesFile:
    """Unpickling this would create a file: what a checkpoint must never be able to do."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


def _submit(results: Path, model: str, data: Path) -> int:
    args = ["job", "submit", "--results", str(results), "--model", model, "--data", str(data), "--no-start"]
    return main(args)


def test_submit_queues_a_checked_job(queue_env, tiny_timm, dataset_dir, capsys):
    assert _submit(queue_env, f"timm:test_resnet@{tiny_timm}", dataset_dir) == 0
    assert "tensors fit the architecture" in capsys.readouterr().out
    (job,) = jobs.list_jobs(queue_env)
    assert job.status == jobs.QUEUED and job.request["checked"]["family"] == "ImageNet"


def test_submit_with_json_reports_errors_as_json(queue_env, tiny_timm, tmp_path, capsys):
    args = ["job", "submit", "--json", f"--results={queue_env}", f"--model=timm:test_resnet@{tmp_path / 'x.pt'}"]
    assert main([*args, f"--data={tmp_path}", "--name=-v2"]) == 2
    assert "x.pt does not exist" in json.loads(capsys.readouterr().out)["error"]


def test_weights_of_an_architecture_that_cannot_be_built_on_meta_are_checked_on_the_cpu(tmp_path):
    import torch
    from torchvision.models import get_model

    from engine.models import check_weights

    torch.save(get_model("regnet_x_400mf").state_dict(), tmp_path / "regnet.pt")
    assert check_weights(f"torchvision:regnet_x_400mf@{tmp_path / 'regnet.pt'}")["family"] == "ImageNet"


def _bad_weights(kind: str, folder: Path, tiny_timm: Path) -> tuple[Path, str]:
    import torch

    path = folder / f"{kind}.pt"
    if kind == "malicious":
        torch.save({"conv1.weight": CreatesFile(folder / "pwned.txt")}, path)
        return path, "refused: besides tensors it contains Python objects that would run code"
    if kind == "truncated":
        path = folder / "truncated.safetensors"
        path.write_bytes(tiny_timm.read_bytes()[:5000])
        return path, "not a readable safetensors file"
    if kind == "random":
        path.write_bytes(os.urandom(10_000))  # which reader error comes first depends on the bytes; both say so
        return path, "random.pt (was refused: it is not a PyTorch weight file|is not a readable PyTorch weight file)"
    import timm

    torch.save(timm.create_model("test_vit").state_dict(), path)
    return path, "does not fit the test_resnet architecture: none of its tensor names"


@pytest.mark.parametrize("kind", ["malicious", "truncated", "random", "wrong architecture"])
def test_bad_weights_get_their_message_and_leave_no_job(queue_env, tiny_timm, dataset_dir, tmp_path, capsys, kind):
    weights, message = _bad_weights(kind, tmp_path, tiny_timm)
    assert _submit(queue_env, f"timm:test_resnet@{weights}", dataset_dir) == 2
    assert re.search(message, capsys.readouterr().err)
    assert jobs.list_jobs(queue_env) == []
    assert not (tmp_path / "pwned.txt").exists()


def test_a_folder_that_is_not_a_dataset_leaves_no_job(queue_env, tiny_timm, tmp_path, capsys):
    assert _submit(queue_env, f"timm:test_resnet@{tiny_timm}", tmp_path) == 2
    assert "error:" in capsys.readouterr().err
    assert jobs.list_jobs(queue_env) == []


def wait_finished(results: Path, job_id: str, timeout_s: float = 120) -> jobs.Job:
    """The job once it is neither queued nor running."""
    done = (jobs.QUEUED, jobs.RUNNING)
    return wait_for(lambda: (job := jobs.load(results, job_id)).status not in done and job, timeout_s, "the job to end")
