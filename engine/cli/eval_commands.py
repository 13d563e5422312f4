"""`eval`, `runs`, `zoo`, `architectures`, `candidates build` and `demo`: evaluating models into runs. Torch is
imported inside the commands that need it, so `runs` and `zoo` start fast."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from engine.config import DATA_ENV, RAY_ADDRESS_ENV, RESULTS_ENV, ROOTS_ENV, ray_address, results_dir
from engine.errors import UserError
from engine.runs.format import LVLM_ANSWER, LVLM_QUESTION, SETUPS


def parse_setups(text: str) -> tuple[str, ...]:
    """`--setups` (comma-separated setup names) as a tuple, in the order given."""
    setups = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in setups if s not in SETUPS]
    if unknown or not setups:
        raise UserError(f"unknown setup(s) {', '.join(unknown) or repr(text)}; --setups takes {','.join(SETUPS)}")
    return setups


def _evaluator(args: argparse.Namespace):
    from engine.dataset.reader import load_dataset
    from engine.inference.devices import resolve_device
    from engine.inference.evaluator import Evaluator

    options = _options(args, resolve_device(args.device))  # bad options are refused before the dataset is read
    return Evaluator(load_dataset(Path(args.data)), options)


def _options(args: argparse.Namespace, device, gpu: bool | None = None):
    """`EvalOptions` from the command line; `gpu`: whether the models run on GPUs (default: whether `device` is one),
    which sets the default batch size."""
    from engine.config import cache_root
    from engine.inference.evaluator import EvalOptions

    gpu = device.type == "cuda" if gpu is None else gpu
    return EvalOptions(
        results=results_dir(args.results),
        cache=cache_root(args.cache),
        device=device,
        setups=parse_setups(args.setups),
        templates=args.templates,
        classnames=args.classnames,
        candidates=Path(args.candidates) if args.candidates else None,
        batch_size=args.batch_size or (1024 if gpu else 256),
        workers=args.workers,
        force=getattr(args, "force", False),
        **_lvlm_options(args),
    )


def _lvlm_options(args: argparse.Namespace) -> dict:
    """`eval`'s vision-language options, as EvalOptions fields (other commands keep the defaults)."""
    if not hasattr(args, "question"):
        return {}
    return {
        "question": args.question,
        "answer": args.answer,
        "answer_score": args.score,
        "allow_large": args.allow_large,
    }


def evaluate(args: argparse.Namespace) -> int:
    from engine.models import check_local_weights, model_recipe

    if address := ray_address(args.ray):
        return evaluate_on_cluster(args, address)  # its nodes may hold weight files this machine does not
    with _evaluator(args) as evaluator:
        for spec in args.model:  # a wrong file for the last model is found before the first one runs for an hour
            check_local_weights(spec)
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


def evaluate_on_cluster(args: argparse.Namespace, address: str) -> int:
    """`eval --ray`: the models as Ray tasks, each run written here; 2 if any model failed, 130 on Ctrl-C."""
    from engine.distributed import import_ray

    import_ray()  # before anything slow: without Ray, the one-line answer at once
    import torch

    from engine.dataset.reader import load_dataset
    from engine.distributed import ClusterRequest, connect
    from engine.distributed import evaluate_on_cluster as run_on_cluster
    from engine.distributed.cluster import cluster_gpus, describe, disconnect

    parse_setups(args.setups)  # bad options are refused before the dataset is read or the cluster reached
    dataset = load_dataset(Path(args.data))
    connected = connect(address)
    try:
        gpu = args.device != "cpu" and cluster_gpus() > 0  # the workers' devices, not this machine's
        options = _options(args, torch.device("cpu"), gpu=gpu)  # each worker resolves --device for itself
        print(f"dataset {dataset.root}: {len(dataset.images)} images; evaluating on {describe(address)}", flush=True)
        request = ClusterRequest(
            tuple(args.model), device=args.device, shards=args.shards, gpus_per_model=args.gpus_per_model,
            ship_photos=True if args.ship_photos else None,
        )  # fmt: skip
        outcomes = run_on_cluster(dataset, options, request)
    except KeyboardInterrupt:
        print("cancelled: every task on the cluster was cancelled; runs already written stay", file=sys.stderr)
        return 130
    finally:
        if connected:
            disconnect()
    for outcome in outcomes:
        print(_cluster_line(outcome))
    list_runs(args)
    return 2 if any(outcome.error for outcome in outcomes) else 0


def _cluster_line(outcome) -> str:
    if outcome.error:
        return f"{outcome.spec}: failed: {outcome.error}"
    if outcome.skipped:
        return f"{outcome.spec}: already evaluated as run {outcome.run_id} (use --force to redo)"
    return f"{outcome.spec}: run {outcome.run_id} written to {outcome.path} (on {', '.join(outcome.nodes)})"


def list_runs(args: argparse.Namespace) -> int:
    from engine.runs.store import list_runs as manifests
    from engine.runs.views import run_metrics

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
    from engine.zoo.catalog import load_zoo

    for model in load_zoo():
        role = "" if model.role == "main" else f"  [{model.role}]"
        print(f"{model.name:34} {model.family:9} {model.loader or '(not evaluable: ' + model.id + ')'}{role}")
    return 0


def candidates_build(args: argparse.Namespace) -> int:
    from engine.inference.candidates import build_candidates, write_candidates

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
    from engine.inference.demo import write_demo

    results, outcomes = write_demo(Path(args.to), cache_root(args.cache), workers=args.workers)
    for outcome in outcomes:
        print(f"{outcome.spec}: run {outcome.run_id}{' (already there)' if outcome.skipped else ''}")
    print(f"curated a background-labelled collection into {Path(args.to) / 'curated'} (the Curate page shows how)")
    print(f"demo runs in {results}; look at them, and evaluate the demo models on the Evaluate page, with")
    print(f"  {demo_serve_command(Path(args.to))}")
    return 0


def demo_serve_command(to: Path) -> str:
    """The shell command that serves the demo in `to` with every page working: its dataset as the Evaluate page's
    default, and its folder (models, dataset, results) as the one the page may read weights and datasets from."""
    from engine.dataset.reader import find_dataset_root

    to = Path(to).resolve()
    settings = {DATA_ENV: find_dataset_root(to / "data"), ROOTS_ENV: to}
    assignments = " ".join(f"{name}={shlex.quote(str(value))}" for name, value in settings.items())
    return f"{assignments} counteranimal serve --results {shlex.quote(str(to / 'results'))}"


def add_results_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", help=f"results folder (default ${RESULTS_ENV}, else ./results)")


SETUPS_HELP = f"comma-separated: {', '.join(SETUPS)}"


def _add_eval_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="the dataset folder, or the folder the archive was extracted to")
    add_results_option(parser)
    parser.add_argument("--setups", default=",".join(SETUPS), help=SETUPS_HELP)
    parser.add_argument("--templates", default="paper", choices=["paper", "openai80"], help="CLIP prompt templates")
    parser.add_argument("--classnames", default="wordnet", choices=["wordnet", "openai"], help="ImageNet class names")
    parser.add_argument("--candidates", help="1 vs 20 candidate file (default: the published reconstruction)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, help="images per forward pass (default 1024 on a GPU, 256 on a CPU)")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="decoding threads")
    parser.add_argument("--cache", help="image and text-embedding cache (default $COUNTERANIMAL_CACHE or ~/.cache)")


def _add_lvlm_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("vision-language models (hf:..., minigpt4:...; scored 1 vs 20 only)")
    group.add_argument(
        "--question",
        default=LVLM_QUESTION,
        help=f"asked about every photo; {{}} = the candidate (default {LVLM_QUESTION!r})",
    )
    group.add_argument(
        "--answer",
        default=LVLM_ANSWER,
        help=f"the answer scored for each candidate, {{}} = its name (default {LVLM_ANSWER!r})",
    )
    group.add_argument(
        "--score", default="mean", choices=["mean", "sum"], help="the answer tokens' loss: mean (the paper's) or sum"
    )
    group.add_argument(
        "--allow-large", action="store_true", help="run a model estimated too big or too slow for this machine"
    )


def _add_ray_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("a Ray cluster (many GPUs, many machines; pip install -e '.[ray]')")
    group.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        metavar="auto|local|ADDRESS",
        help=f"evaluate on a Ray cluster: auto (the one `ray start` runs here), local (start one on this machine), or "
        f"an address such as 10.0.0.1:6379 or ray://10.0.0.1:10001 (default ${RAY_ADDRESS_ENV}; none: this process)",
    )
    group.add_argument("--shards", type=int, default=1, help="split each model's photos over N workers (data parallel)")
    group.add_argument("--gpus-per-model", type=float, help="GPUs per model task (default: from the model's size)")
    group.add_argument(
        "--ship-photos",
        action="store_true",
        help="send the photos to every node (default: only if it has another node)",
    )


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("eval", help="evaluate models on CounterAnimal into runs")
    p.add_argument("--model", action="append", required=True, help="model spec or zoo id; repeat for several")
    _add_eval_options(p)
    p.add_argument("--force", action="store_true", help="re-run even if an identical run exists")
    _add_lvlm_options(p)
    _add_ray_options(p)
    p.set_defaults(run=evaluate)

    p = commands.add_parser("runs", help="list evaluated runs with their metrics")
    add_results_option(p)
    p.set_defaults(run=list_runs)

    commands.add_parser("zoo", help="the models of engine/zoo/zoo.toml and their specs").set_defaults(run=zoo)

    p = commands.add_parser("architectures", help="the architectures open_clip, timm and torchvision offer")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=architectures)

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
