"""`import`: predictions made elsewhere (any framework, any code) checked against the dataset and written as a run.
Torch-free: it works where only the dashboard is installed."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.eval_commands import add_results_option
from engine.config import results_dir
from engine.runs.format import LVLM_ANSWER, LVLM_QUESTION
from engine.runs.imports import FAMILIES, MAX_MISSING_SHARE


def paper_labels(family: str) -> dict:
    """run.json's labels for predictions made with the paper's protocol, as the engine records its own runs': WordNet
    class names, and the single prompt (CLIP) or the question and answer (vision-language models)."""
    from engine.inference.labels import PAPER_TEMPLATES

    labels = {"classnames": "wordnet", "templates": list(PAPER_TEMPLATES) if family == "CLIP" else None}
    if family == "LVLM":
        labels["lvlm"] = {"question": LVLM_QUESTION, "answer": LVLM_ANSWER, "score": "mean"}
    return labels


def import_run(args: argparse.Namespace) -> int:
    from engine.dataset.reader import load_dataset
    from engine.inference.labels import default_candidates_path, load_candidates
    from engine.runs.imports import ImportOptions, import_predictions  # reads files: only when the command runs

    candidates = Path(args.candidates) if args.candidates else default_candidates_path()
    options = ImportOptions(
        results=results_dir(args.results),
        name=args.name,
        family=args.family,
        candidates=load_candidates(candidates),
        candidates_file=str(candidates),
        labels=paper_labels(args.family) if args.protocol == "paper" else None,
        allow_missing=args.allow_missing,
    )
    done = import_predictions(Path(args.predictions), load_dataset(Path(args.data)), options)
    if done.skipped:
        renamed = f"; it is now named {args.name!r}" if done.renamed else ""
        print(f"{args.predictions} is already imported as run {done.run_id} ({done.path}): nothing written{renamed}")
        return 0
    print(f"imported {done.rows} photos ({', '.join(done.setups)}) as run {done.run_id}, written to {done.path}")
    if done.ignored_columns:
        print(f"ignored columns (the dataset says these): {', '.join(done.ignored_columns)}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "import",
        help="a run from predictions made elsewhere (CSV, Parquet or JSON lines; README, 'Importing predictions')",
    )
    p.add_argument("--predictions", required=True, help="the file: image_id, pred_1vs1000 and/or pred_1vs20, top-5")
    p.add_argument("--name", required=True, help="how the dashboard shows the run")
    p.add_argument("--data", required=True, help="the dataset folder the predictions are for")
    p.add_argument("--family", default="other", choices=FAMILIES, help="the kind of model (default other)")
    p.add_argument(
        "--protocol",
        default="unknown",
        choices=["unknown", "paper"],
        help="paper: made with the paper's class names and prompt (CLIP) or question (LVLM), so shown with those runs",
    )
    p.add_argument("--candidates", help="the 1 vs 20 candidate file used (default: the published reconstruction)")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help=f"photos without a row are recorded as skipped (at most {MAX_MISSING_SHARE * 100:.0f}%%), not refused",
    )
    add_results_option(p)
    p.set_defaults(run=import_run)
