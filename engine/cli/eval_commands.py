"""`eval`, `runs`, `zoo`, `architectures`, `candidates build` and `demo`: evaluating models into runs. Torch is
imported inside the commands that need it, so `runs` and `zoo` start fast."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

from engine.config import DATA_ENV, RESULTS_ENV, ROOTS_ENV, results_dir
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
    from engine.config import cache_root
    from engine.dataset.reader import load_dataset
    from engine.inference.devices import resolve_device
    from engine.inference.evaluator import EvalOptions, Evaluator

    setups = parse_setups(args.setups)
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
        **_lvlm_options(args),
    )
    return Evaluator(load_dataset(Path(args.data)), options)


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
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="decode processes")
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


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("eval", help="evaluate models on CounterAnimal into runs")
    p.add_argument("--model", action="append", required=True, help="model spec or zoo id; repeat for several")
    _add_eval_options(p)
    p.add_argument("--force", action="store_true", help="re-run even if an identical run exists")
    _add_lvlm_options(p)
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
