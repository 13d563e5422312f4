"""`counteranimal curate`: evaluate a background-labelled collection with a reference model (1 vs 1000, the paper's
prompt "A photo of {}.", like any run: cached, kept, skipped when it exists), then choose each class's common and
counter background from its accuracy per background and write the curated dataset (`engine.curation`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow.parquet as pq

from engine.curation.select import ClassChoice, Rules, choose_pairs
from engine.curation.write import check_out, record_report, write_curated
from engine.dataset.collection import load_collection
from engine.dataset.reader import Dataset, imagenet_classes
from engine.inference.evaluator import EvalOptions, Evaluator
from engine.runs.format import ONE_VS_1000
from engine.runs.store import run_path
from engine.runs.views import background_counts


@dataclass(frozen=True)
class Curation:
    """What `curate` did."""

    out: Path
    report: dict
    choices: list[ClassChoice]
    run_id: str
    written: bool  # False: `out` already held this very curation


def curate(
    photos: Path, out: Path, model: str, rules: Rules, options: EvalOptions, name: str | None = None
) -> Curation:
    """Curate the collection at `photos` (folder or CSV manifest) into `out` with the reference `model`."""
    out = Path(out).expanduser().absolute()
    collection = load_collection(photos)
    check_out(out, collection.root, name := name or out.name)
    options = replace(options, setups=(ONE_VS_1000,), templates="paper", classnames="wordnet")
    with Evaluator(collection, options) as evaluator:
        outcome = evaluator.evaluate(model)
    counts = background_counts(options.results, outcome.run_id, ONE_VS_1000)
    labels = {class_id: row["label"] for class_id, row in imagenet_classes().items()}
    choices = choose_pairs(counts, labels, rules)
    report = _report(name, out, Path(photos), collection, model, outcome.run_id, rules, choices)
    evaluated = _evaluated(options.results, outcome.run_id)
    written = write_curated(
        collection.root, tuple(p for p in collection.images if p.image_id in evaluated), choices, report, out
    )
    record_report(options.results, report)
    return Curation(out, report, choices, outcome.run_id, written)


def _evaluated(results: Path, run_id: str) -> set[str]:
    """The photos the reference run has a prediction for (unreadable ones are left out of the curated dataset)."""
    return set(pq.read_table(run_path(results, run_id) / "predictions.parquet", columns=["image_id"])[0].to_pylist())


def _report(
    name: str, out: Path, photos: Path, collection: Dataset, model: str, run_id: str, rules: Rules, choices: list
) -> dict:
    """curation.json: enough to see, check and repeat every choice (no clock time: equal curations, equal files)."""
    kept = [c for c in choices if c.kept]
    return {
        "name": name,
        "dataset": str(out),
        "source": {
            "photos": str(Path(photos).expanduser().absolute()),
            "root": str(collection.root),
            "images": len(collection.images),
            "fingerprint": collection.fingerprint,
        },
        "reference": {"model": model, "run_id": run_id, "setup": ONE_VS_1000, "templates": "paper"},
        "rules": {"min_photos": rules.min_photos, "min_gap": rules.min_gap, "drop_overlapping": rules.drop_overlapping},
        "kept": len(kept),
        "dropped": len(choices) - len(kept),
        "classes": [c.to_json() for c in choices],
    }
