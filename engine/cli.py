"""The `counteranimal` command. The only module that parses arguments; each command is a thin shell over the engine.

Torch-heavy modules are imported inside the commands that need them, so `serve`, `zoo` and `runs` start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from engine import __version__
from engine.config import RESULTS_ENV, results_dir

APP_MAIN = Path(__file__).resolve().parent.parent / "app" / "main.py"


def serve(args: argparse.Namespace) -> int:
    """Start the Streamlit dashboard in place of this process (so signals such as `docker stop` reach it)."""
    env = {**os.environ, RESULTS_ENV: str(results_dir(args.results).resolve())}
    command = [sys.executable, "-m", "streamlit", "run", str(APP_MAIN)]
    command += ["--server.address", args.host, "--server.port", str(args.port), "--server.headless", "true"]
    command += ["--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"]
    print(f"CounterAnimal Explorer on http://{args.host}:{args.port} (results: {env[RESULTS_ENV]})", flush=True)
    os.execve(sys.executable, command, env)


def _setups(text: str) -> tuple[str, ...]:
    from engine.runner import SETUPS

    setups = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in setups if s not in SETUPS]
    if unknown or not setups:
        raise ValueError(f"unknown setup(s) {', '.join(unknown) or repr(text)}; --setups takes {','.join(SETUPS)}")
    return setups


def _evaluator(args: argparse.Namespace):
    from engine.config import cache_root
    from engine.data import load_dataset
    from engine.devices import resolve_device
    from engine.runner import EvalOptions, Evaluator

    setups = _setups(args.setups)
    device = resolve_device(args.device)
    options = EvalOptions(
        results=results_dir(args.results),
        cache=cache_root(args.cache),
        device=device,
        setups=setups,
        templates=args.templates,
        classnames=args.classnames,
        candidates=Path(args.candidates) if args.candidates else None,
        batch_size=args.batch_size or (1024 if device.type == "cuda" else 256),
        workers=args.workers,
        force=getattr(args, "force", False),
    )
    return Evaluator(load_dataset(Path(args.data)), options)


def evaluate(args: argparse.Namespace) -> int:
    from engine.models import model_recipe

    with _evaluator(args) as evaluator:
        evaluator.prefetch(model_recipe(spec) for spec in args.model)  # decode for later models while earlier run
        dataset = evaluator.dataset
        print(f"dataset {dataset.root}: {len(dataset.classes)} classes, {len(dataset.images)} images", flush=True)
        for spec in args.model:
            outcome = evaluator.evaluate(spec)
            if outcome.skipped:
                print(f"{spec}: already evaluated as run {outcome.run_id} (use --force to redo)")
            else:
                print(f"{spec}: run {outcome.run_id} written to {outcome.path} ({outcome.seconds})")
    return list_runs(args)


def list_runs(args: argparse.Namespace) -> int:
    from engine.store import list_runs as manifests
    from engine.store import run_metrics

    results = results_dir(args.results)
    metrics = run_metrics(results)
    if metrics.empty:
        print(f"no runs in {results}; evaluate a model with `counteranimal eval`")
        return 0
    models = {m["run_id"]: m["model"]["spec"] for m in manifests(results)}
    metrics.insert(1, "model", metrics["run_id"].map(models))
    columns = ["run_id", "model", "setup", "common", "counter", "drop", "images"]
    print(metrics[columns].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


def job_submit(args: argparse.Namespace) -> int:
    """Check a model's weights against its architecture and the dataset, then queue the job (nothing is queued if a
    check fails) and start a worker unless one runs."""
    import json

    from engine import jobs
    from engine.data import load_dataset
    from engine.models import check_weights

    results = results_dir(args.results)
    try:
        setups = _setups(args.setups)
        checked = check_weights(args.model)
        dataset = load_dataset(Path(args.data))
    except _user_errors() as error:
        if not args.json:
            raise
        print(json.dumps({"error": str(error)}))  # for the Evaluate page: the message, in plain words
        return 2
    request = {"model": args.model, "name": args.name, "data": str(Path(args.data).resolve()), "setups": setups}
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
    from engine import jobs

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
    from engine import jobs

    print(f"job {args.job_id}: {jobs.cancel(results_dir(args.results), args.job_id)}")
    return 0


def job_retry(args: argparse.Namespace) -> int:
    from engine import jobs

    results = results_dir(args.results)
    jobs.retry(results, args.job_id)
    started = jobs.ensure_worker(results)
    print(f"job {args.job_id}: queued again" + ("; worker started" if started else ""))
    return 0


def job_run(args: argparse.Namespace) -> int:
    from engine.job_run import run_job

    return run_job(results_dir(args.results), args.job_id)


def worker(args: argparse.Namespace) -> int:
    from engine.worker import work

    count = work(results_dir(args.results))
    print(f"worker done: {count} job(s) run")
    return 0


def architectures(args: argparse.Namespace) -> int:
    """The architectures each library offers, for the Evaluate page's pickers (the dashboard never imports torch)."""
    import json

    import open_clip
    import timm
    import torchvision
    from torchvision.models import list_models

    found = {
        "open_clip": sorted(open_clip.list_models()),
        "timm": timm.list_models(),
        "torchvision": sorted(list_models(module=torchvision.models)),
    }
    print(json.dumps(found) if args.json else "\n".join(f"{k}: {len(v)} architectures" for k, v in found.items()))
    return 0


def zoo(args: argparse.Namespace) -> int:
    from engine.zoo import load_zoo

    for model in load_zoo():
        role = "" if model.role == "main" else f"  [{model.role}]"
        print(f"{model.name:34} {model.family:9} {model.loader or '(not evaluable: ' + model.id + ')'}{role}")
    return 0


def data_check(args: argparse.Namespace) -> int:
    from engine.data import load_dataset, paper_classes
    from engine.images import find_unreadable

    dataset = load_dataset(Path(args.dir))
    unreadable = find_unreadable(dataset, args.workers)
    paper = paper_classes()
    readable = Counter((i.class_id, i.split) for i in dataset.images if i.image_id not in unreadable)
    print(f"{dataset.root} ({dataset.layout} layout): {len(dataset.classes)} of {len(paper)} classes")
    for folder in dataset.classes:
        row = paper[folder.class_id]
        counts = {split: readable[folder.class_id, split] for split in ("common", "counter")}
        backgrounds = f"{folder.common_background} -> {folder.counter_background}"
        expected = f"{row['common_background']} -> {row['counter_background']}"
        note = "" if backgrounds == expected else f"  (paper: {expected})"
        print(
            f"{folder.folder:40} {backgrounds:22} common {counts['common']:4}/{row['n_common']:>4}  "
            f"counter {counts['counter']:4}/{row['n_counter']:>4}{note}"
        )
    skipped = {i: "empty file" for i in dataset.empty_files} | unreadable
    for image_id, reason in sorted(skipped.items()):
        print(f"skipped {image_id}: {reason}")
    print(f"{len(dataset.images) - len(unreadable)} readable images, {len(skipped)} skipped")
    return 0


def download(args: argparse.Namespace) -> int:
    from engine.config import data_dir
    from engine.download import download_dataset

    folder = download_dataset(Path(args.to) if args.to else data_dir(), url=args.url, sha256=args.sha256)
    print(f"dataset ready at {folder}; check it with `counteranimal data check {folder}`")
    return 0


def candidates_build(args: argparse.Namespace) -> int:
    from engine.candidates import build_candidates, write_candidates

    with _evaluator(args) as evaluator:
        built = build_candidates(evaluator, args.reference)
    out = Path(args.out) if args.out else results_dir(args.results) / "candidates_1vs20.json"
    write_candidates(built, out)
    print(
        f"wrote {len(built['candidates'])} candidate lists to {out}; "
        f"use them with `counteranimal eval --candidates {out}`"
    )
    return 0


def demo(args: argparse.Namespace) -> int:
    from engine.config import cache_root
    from engine.demo import write_demo

    results, outcomes = write_demo(Path(args.to), cache_root(args.cache), workers=args.workers)
    for outcome in outcomes:
        print(f"{outcome.spec}: run {outcome.run_id}{' (already there)' if outcome.skipped else ''}")
    print(f"demo runs in {results}; look at them with `counteranimal serve --results {results}`")
    return 0


def _add_results(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", help=f"results folder (default ${RESULTS_ENV}, else ./results)")


def _add_eval_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="the dataset folder, or the folder the archive was extracted to")
    _add_results(parser)
    parser.add_argument("--setups", default="1vs1000,1vs20", help="comma-separated: 1vs1000, 1vs20")
    parser.add_argument("--templates", default="paper", choices=["paper", "openai80"], help="CLIP prompt templates")
    parser.add_argument("--classnames", default="wordnet", choices=["wordnet", "openai"], help="ImageNet class names")
    parser.add_argument("--candidates", help="1 vs 20 candidate file (default: the published reconstruction)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, help="images per forward pass (default 1024 on a GPU, 256 on a CPU)")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="decode processes")
    parser.add_argument("--cache", help="image and text-embedding cache (default $COUNTERANIMAL_CACHE or ~/.cache)")


def _add_job_commands(commands: argparse._SubParsersAction) -> None:
    """`job submit | cancel | retry | run`, `jobs` and `worker`: the evaluation queue."""
    job = commands.add_parser("job", help="evaluation jobs run by a background worker").add_subparsers(
        dest="job_command", required=True
    )
    p = job.add_parser("submit", help="check a model's weights and the dataset, then queue the evaluation")
    p.add_argument("--model", required=True, help="model spec with local weights, e.g. timm:resnet50@/w/r50.pt")
    p.add_argument("--name", help="how the dashboard shows the model (default: from the spec)")
    p.add_argument("--data", required=True, help="the dataset folder")
    p.add_argument("--setups", default="1vs1000,1vs20", help="comma-separated: 1vs1000, 1vs20")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--no-start", action="store_true", help="only queue; do not start a worker")
    p.add_argument("--json", action="store_true", help="print the job id and the check, or the error, as JSON")
    _add_results(p)
    p.set_defaults(run=job_submit)
    for name, run, text in (
        ("cancel", job_cancel, "cancel a queued or running job"),
        ("retry", job_retry, "queue a failed, cancelled or interrupted job again"),
        ("run", job_run, "run one job in this process (what the worker does)"),
    ):
        p = job.add_parser(name, help=text)
        p.add_argument("job_id")
        _add_results(p)
        p.set_defaults(run=run)

    p = commands.add_parser("jobs", help="list evaluation jobs and their progress")
    _add_results(p)
    p.set_defaults(run=job_list)

    p = commands.add_parser("worker", help="run queued jobs one at a time until none is left")
    _add_results(p)
    p.set_defaults(run=worker)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="counteranimal", description="CounterAnimal Explorer")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="start the dashboard")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for a meeting room)")
    p.add_argument("--port", type=int, default=8501)
    _add_results(p)
    p.set_defaults(run=serve)

    p = commands.add_parser("eval", help="evaluate models on CounterAnimal into runs")
    p.add_argument("--model", action="append", required=True, help="model spec or zoo id; repeat for several")
    _add_eval_options(p)
    p.add_argument("--force", action="store_true", help="re-run even if an identical run exists")
    p.set_defaults(run=evaluate)

    p = commands.add_parser("runs", help="list evaluated runs with their metrics")
    _add_results(p)
    p.set_defaults(run=list_runs)

    commands.add_parser("zoo", help="the models of engine/zoo.toml and their specs").set_defaults(run=zoo)

    p = commands.add_parser("architectures", help="the architectures open_clip, timm and torchvision offer")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=architectures)

    _add_job_commands(commands)

    data = commands.add_parser("data", help="dataset tools").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("check", help="per class: backgrounds, counts vs the paper's, skipped files")
    p.add_argument("dir")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    p.set_defaults(run=data_check)

    p = commands.add_parser("download", help="download, verify and extract the dataset archive")
    p.add_argument("--to", help="folder to extract into (default $COUNTERANIMAL_DATA, else ./data)")
    p.add_argument("--url", help="archive or page URL (default $COUNTERANIMAL_DATA_URL, else the project page)")
    p.add_argument("--sha256", help="expected SHA-256 of the archive")
    p.set_defaults(run=download)

    p = commands.add_parser("demo", help="a synthetic dataset and two tiny-model runs, to try every page offline")
    p.add_argument("--to", default="demo", help="folder for the demo data, models and results (default ./demo)")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    p.add_argument("--cache", help="image and text-embedding cache (default $COUNTERANIMAL_CACHE or ~/.cache)")
    p.set_defaults(run=demo)

    candidates = commands.add_parser("candidates", help="1 vs 20 candidate sets").add_subparsers(
        dest="candidates_command", required=True
    )
    p = candidates.add_parser("build", help="the paper's procedure with a reference CLIP model")
    p.add_argument("--reference", default="open_clip:ViT-B-32/laion400m_e31", help="reference CLIP model spec")
    _add_eval_options(p)
    p.add_argument("--out", help="output JSON (default <results>/candidates_1vs20.json)")
    p.set_defaults(run=candidates_build)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors that mean bad input, shown as one clear line instead of a traceback."""
    errors: list[type[Exception]] = [ValueError, FileNotFoundError]
    for module, name in (
        ("engine.data", "DatasetError"),
        ("engine.models", "ModelError"),
        ("engine.checkpoints", "CheckpointError"),
        ("engine.download", "DownloadError"),
        ("engine.jobs", "JobError"),
    ):
        if module in sys.modules:  # only modules a command imported can have raised
            errors.append(getattr(sys.modules[module], name))
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except Exception as error:
        if isinstance(error, _user_errors()):
            print(f"error: {error}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
