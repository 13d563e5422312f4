"""`job submit | cancel | retry | run`, `jobs` and `worker`: the evaluation queue. `job run` is a job's evaluation
process, started by the worker; it is the one place the queue meets the (torch) evaluator."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine import jobs
from engine.cli.eval_commands import SETUPS_HELP, add_results_option, parse_setups
from engine.config import allowed_roots, ray_address, results_dir
from engine.errors import UserError
from engine.jobs.inputs import resolve_request
from engine.runs.format import SETUPS


def job_submit(args: argparse.Namespace) -> int:
    """Check that the weights and the dataset lie under the allowed roots, the weights against their architecture and
    the dataset, then queue the job (nothing is queued if a check fails) and start a worker unless one runs."""
    from engine.dataset.reader import load_dataset
    from engine.inference.devices import resolve_device
    from engine.inference.lvlm import refuse_if_too_large
    from engine.models import check_weights

    results = results_dir(args.results)
    try:
        setups = parse_setups(args.setups)
        data = resolve_request(args.model, args.data, allowed_roots(results))  # before any file is read
        checked = check_weights(args.model)
        dataset = load_dataset(data)
        if checked["family"] == "LVLM":  # a 7B model queued on a CPU machine would run for weeks
            refuse_if_too_large(args.model, checked["parameters"], resolve_device(args.device), len(dataset.images))
    except UserError as error:
        if not args.json:
            raise
        print(json.dumps({"error": str(error)}))  # for the Evaluate page: the message, in plain words
        return 2
    request = {"model": args.model, "name": args.name, "data": str(data), "setups": setups}
    job = jobs.submit(results, {**request, "device": args.device, "checked": checked})
    started = False if args.no_start else jobs.ensure_worker(results)
    if args.json:
        print(json.dumps({"job_id": job.id, "checked": checked, "images": len(dataset.images)}))
    else:
        print(
            f"queued job {job.id}: {args.model} ({checked['tensors']} tensors fit the architecture) on "
            f"{len(dataset.images)} photos"
            + ("; worker started" if started else "")
            + ". Follow it: counteranimal jobs"
        )
    return 0


def job_list(args: argparse.Namespace) -> int:
    found = jobs.list_jobs(results_dir(args.results))
    if not found:
        print("no jobs; queue one with `counteranimal job submit` or the dashboard's Evaluate page")
    for job in found:
        progress = job.progress()
        detail = {
            jobs.RUNNING: f"{progress.get('stage', 'starting')} {progress.get('done', '')}/{progress.get('total', '')}",
            jobs.DONE: f"run {job.state.get('run_id')}",
        }.get(job.status, job.state.get("error") or "")
        print(f"{job.id}  {job.status:11} {job.request.get('name') or job.request['model']:30} {detail}")
    return 0


def job_cancel(args: argparse.Namespace) -> int:
    print(f"job {args.job_id}: {jobs.cancel(results_dir(args.results), args.job_id)}")
    return 0


def job_retry(args: argparse.Namespace) -> int:
    results = results_dir(args.results)
    jobs.retry(results, args.job_id)
    started = jobs.ensure_worker(results)
    print(f"job {args.job_id}: queued again" + ("; worker started" if started else ""))
    return 0


def job_run(args: argparse.Namespace) -> int:
    """Evaluate one job's request into a run and write its result.json; 0 on success, 2 on a user error (the message
    is in result.json). Anything else propagates: the worker reports the crash with the log's last lines."""
    from engine.config import cache_root
    from engine.dataset.reader import load_dataset
    from engine.inference.devices import resolve_device
    from engine.inference.evaluator import EvalOptions, Evaluator
    from engine.jobs import process

    process.become_job_process()
    results = results_dir(args.results)
    job = jobs.load(results, args.job_id)
    request = job.request
    try:
        if address := ray_address():  # the dashboard's jobs go to the cluster it was started with
            return _job_on_cluster(job, results, address)
        device = resolve_device(request.get("device", "auto"))
        dataset = load_dataset(Path(request["data"]))
        options = EvalOptions(
            results=results,
            cache=cache_root(),
            device=device,
            setups=tuple(request["setups"]),
            batch_size=1024 if device.type == "cuda" else 256,
            workers=process.decode_workers(len(dataset.images)),
            progress=False,
            on_progress=process.ProgressFile(job.folder),
        )
        with Evaluator(dataset, options) as evaluator:
            outcome = evaluator.evaluate(request["model"], name=request.get("name"))
    except UserError as error:
        return process.write_failure(job, error)
    return process.write_success(job, outcome.run_id, outcome.skipped)


def _job_on_cluster(job: jobs.Job, results: Path, address: str) -> int:
    """A job's evaluation as one Ray task on the cluster at `address` (`$COUNTERANIMAL_RAY_ADDRESS`); its run is
    written here, and its progress says where it runs. Exit status as `job run`'s."""
    import torch

    from engine.config import cache_root
    from engine.dataset.reader import load_dataset
    from engine.distributed import ClusterRequest, connect, evaluate_on_cluster
    from engine.distributed.cluster import cluster_gpus, describe, disconnect
    from engine.inference.evaluator import EvalOptions
    from engine.jobs import process

    request = job.request
    dataset = load_dataset(Path(request["data"]))
    connected = connect(address)
    try:
        where = describe(address)
        print(f"{jobs.now()} evaluating on {where}", flush=True)
        progress = process.ProgressFile(job.folder, where=where)
        progress("sent to the cluster", 0, 0)  # the card names the cluster before the first report from a node
        device = request.get("device", "auto")
        gpu = device != "cpu" and cluster_gpus() > 0  # the workers' devices set the batch a local run would use
        options = EvalOptions(
            results=results, cache=cache_root(), device=torch.device("cpu"), setups=tuple(request["setups"]),
            batch_size=1024 if gpu else 256, workers=process.decode_workers(len(dataset.images)), progress=False,
        )  # fmt: skip
        cluster_request = ClusterRequest(
            (request["model"],), names=(request.get("name"),), device=device, show_progress=False,
            listener=lambda _spec, stage, done, total: progress(stage, done, total),
        )  # fmt: skip
        outcome = evaluate_on_cluster(dataset, options, cluster_request)[0]
    finally:
        if connected:
            disconnect()
    if outcome.error:
        return process.write_failure(job, UserError(outcome.error))
    return process.write_success(job, outcome.run_id, outcome.skipped)


def worker(args: argparse.Namespace) -> int:
    from engine.jobs.worker import work

    count = work(results_dir(args.results))
    print(f"worker done: {count} job(s) run")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    job = commands.add_parser("job", help="evaluation jobs run by a background worker").add_subparsers(
        dest="job_command", required=True
    )
    p = job.add_parser(
        "submit",
        help="check a model's weights and the dataset (both under the allowed roots, $COUNTERANIMAL_ALLOWED_ROOTS), "
        "then queue the evaluation",
    )
    p.add_argument("--model", required=True, help="model spec with local weights, e.g. timm:resnet50@/w/r50.pt")
    p.add_argument("--name", help="how the dashboard shows the model (default: from the spec)")
    p.add_argument("--data", required=True, help="the dataset folder")
    p.add_argument("--setups", default=",".join(SETUPS), help=SETUPS_HELP)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--no-start", action="store_true", help="only queue; do not start a worker")
    p.add_argument("--json", action="store_true", help="print the job id and the check, or the error, as JSON")
    add_results_option(p)
    p.set_defaults(run=job_submit)
    for name, run, text in (
        ("cancel", job_cancel, "cancel a queued or running job"),
        ("retry", job_retry, "queue a failed, cancelled or interrupted job again"),
        ("run", job_run, "run one job in this process (what the worker does)"),
    ):
        p = job.add_parser(name, help=text)
        p.add_argument("job_id")
        add_results_option(p)
        p.set_defaults(run=run)

    p = commands.add_parser("jobs", help="list evaluation jobs and their progress")
    add_results_option(p)
    p.set_defaults(run=job_list)

    p = commands.add_parser("worker", help="run queued jobs one at a time until none is left")
    add_results_option(p)
    p.set_defaults(run=worker)
