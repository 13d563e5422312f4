"""`curate` and `backgrounds suggest`: build your own counter set from background-labelled photos."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from engine.cli.eval_commands import add_results_option
from engine.config import cache_root, results_dir
from engine.curation import REFERENCE_MODEL
from engine.dataset.collection import PAPER_BACKGROUNDS
from engine.errors import UserError


def curate(args: argparse.Namespace) -> int:
    from engine.curation.select import Rules
    from engine.inference.curation import curate as run_curation
    from engine.inference.devices import resolve_device
    from engine.inference.evaluator import EvalOptions

    device = resolve_device(args.device)
    options = EvalOptions(
        results_dir(args.results), cache_root(args.cache), device, batch_size=args.batch_size, workers=args.workers
    )
    rules = Rules(args.min_photos, args.min_gap, args.drop_overlapping)
    done = run_curation(Path(args.photos), Path(args.out), args.model, rules, options, name=args.name)
    for choice in done.choices:
        print(_describe(choice))
    kept = done.report["kept"]
    print(f"reference run {done.run_id} ({args.model}); {kept} of {len(done.choices)} classes kept")
    if done.written:
        print(f"curated dataset written to {done.out}; evaluate on it with `counteranimal eval --data {done.out} ...`")
    else:
        print(f"{done.out} already holds this curation; nothing changed")
    return 0


def _describe(choice) -> str:
    scores = ", ".join(f"{s.background} {s.accuracy:.0f}% ({s.photos})" for s in choice.backgrounds)
    if choice.kept:
        return (
            f"{choice.class_id:4} {choice.name:28} {choice.common} -> {choice.counter} ({choice.gap:.1f} pts): {scores}"
        )
    return f"{choice.class_id:4} {choice.name:28} dropped: {choice.reason}: {scores}"


def suggest(args: argparse.Namespace) -> int:
    from engine.dataset.collection import load_collection
    from engine.inference.backgrounds import suggest_backgrounds, write_manifest
    from engine.inference.devices import resolve_device

    labels = tuple(label.strip() for label in args.labels.split(",") if label.strip())
    out = Path(args.out)
    if out.exists() and not args.force:  # a reviewed, edited manifest is work: never replaced unasked
        raise UserError(f"{out} exists (a manifest you may have edited); pass another --out, or --force to replace it.")
    collection = load_collection(Path(args.photos), unlabelled=True)
    suggestions = suggest_backgrounds(
        collection, args.model, labels, resolve_device(args.device), cache_root(args.cache), workers=args.workers
    )
    write_manifest(suggestions, out)
    print(f"{len(suggestions.rows)} photos labelled; review and edit {out}, then `counteranimal curate --photos {out}`")
    agree = sum(a for a, _ in suggestions.agreement.values())
    total = sum(n for _, n in suggestions.agreement.values())
    if total:
        print(f"agreement with the labels the photos came with: {agree}/{total} ({100 * agree / total:.1f}%)")
        for given, (a, n) in suggestions.agreement.items():
            note = "" if given in labels else " (not among --labels)"
            print(f"  {given}: {a}/{n}{note}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("curate", help="choose common/counter backgrounds per class and write a new dataset")
    p.add_argument("--photos", required=True, help="folder of <class>/<background>/ photos, or a CSV manifest")
    p.add_argument("--out", required=True, help="folder for the curated dataset (CounterAnimal layout)")
    p.add_argument("--model", default=REFERENCE_MODEL, help=f"reference model (default {REFERENCE_MODEL}, the paper's)")
    p.add_argument("--min-photos", type=int, default=10, help="fewest photos a background needs to be chosen")
    p.add_argument("--min-gap", type=float, default=5.0, help="points: drop classes varying less across backgrounds")
    p.add_argument("--drop-overlapping", action="store_true", help="also drop classes whose pair's intervals overlap")
    p.add_argument("--name", help="the dataset's name in the dashboard (default: the --out folder's name)")
    _add_run_options(p)
    p.set_defaults(run=curate)

    backgrounds = commands.add_parser("backgrounds", help="background labels of a photo collection")
    actions = backgrounds.add_subparsers(dest="backgrounds_command", required=True)
    p = actions.add_parser("suggest", help="label each photo's background zero-shot with a CLIP model")
    p.add_argument("--photos", required=True, help="folder of <class>/ or <class>/<background>/ photos")
    p.add_argument("--model", required=True, help="a CLIP model spec or zoo id")
    p.add_argument("--labels", default=",".join(PAPER_BACKGROUNDS), help="comma-separated background labels")
    p.add_argument("--out", default="backgrounds.csv", help="the manifest to write (default ./backgrounds.csv)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    _add_run_options(p)
    p.set_defaults(run=suggest)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    add_results_option(parser)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=256, help="images per forward pass")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="decoding threads")
    parser.add_argument("--cache", help="image and text-embedding cache (default $COUNTERANIMAL_CACHE or ~/.cache)")
