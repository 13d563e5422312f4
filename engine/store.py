"""The results/ layout and the metric SQL.

    results/runs/<run_id>/run.json              provenance of one evaluation
    results/runs/<run_id>/predictions.parquet   one row per image
    results/.partial/<run_id>-<pid>/            a run being written; renamed into runs/ when complete

A run's id is a hash of everything that determines its predictions, so re-running the same thing finds it done.
DuckDB reads the Parquet files directly; metrics are SQL, never stored aggregates.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.labels import digest
from engine.partials import remove_orphans

RUNS, PARTIAL = "runs", ".partial"


def run_id(identity: dict) -> str:
    """A stable id for everything that determines the predictions (model, weights, data, labels, preprocessing)."""
    return digest(identity)


def run_path(results: Path, rid: str) -> Path:
    return Path(results) / RUNS / rid


def is_complete(results: Path, rid: str) -> bool:
    return (run_path(results, rid) / "run.json").is_file()


def sweep_partials(results: Path) -> None:
    """Remove the half-written runs of processes that are gone (killed mid-write): they are never visible, but
    they take disk space."""
    remove_orphans((Path(results) / PARTIAL).glob("*-*"))


def write_run(results: Path, rid: str, manifest: dict, predictions: pa.Table) -> Path:
    """Write a run under a temporary name and move it into place only when complete. An existing run with the same
    id (a forced re-run) is replaced only after the new one is fully written; if another process completes the same
    run meanwhile, theirs stands (the id says the predictions are the same)."""
    results = Path(results)
    sweep_partials(results)
    partial = results / PARTIAL / f"{rid}-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        pq.write_table(predictions, partial / "predictions.parquet", compression="zstd")
        (partial / "run.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))  # last: marks complete
        final = run_path(results, rid)
        final.parent.mkdir(parents=True, exist_ok=True)
        _move_into_place(partial, final, results / PARTIAL / f"{rid}-replaced-{os.getpid()}")
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def _move_into_place(partial: Path, final: Path, retired: Path) -> None:
    replacing = final.exists()
    if replacing:
        final.rename(retired)
    try:
        partial.rename(final)
    except OSError:
        if replacing and not final.exists():
            retired.rename(final)  # the earlier run goes back: a failed re-run damages nothing
            raise
        if not (final / "run.json").is_file():  # anything but "another writer of the same run finished first"
            raise
    if replacing:
        shutil.rmtree(retired, ignore_errors=True)


def list_runs(results: Path) -> list[dict]:
    """Manifests of the complete runs, oldest first."""
    manifests = [json.loads(p.read_text()) for p in (Path(results) / RUNS).glob("*/run.json")]
    return sorted(manifests, key=lambda m: m.get("started_at", ""))


def _predictions_glob(results: Path) -> str:
    return str(Path(results) / RUNS / "*" / "predictions.parquet")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_predictions_view(con: duckdb.DuckDBPyConnection, results: Path) -> bool:
    """A `predictions` view over every complete run's Parquet file, with its `run_id`; False if there are none."""
    if not any((Path(results) / RUNS).glob("*/predictions.parquet")):
        return False
    run_folder = r"'([^/\\]+)[/\\]predictions\.parquet$'"  # the folder holding the file: the run id
    con.execute(
        f"CREATE OR REPLACE VIEW predictions AS SELECT regexp_extract(filename, {run_folder}, 1) AS run_id, "
        f"* EXCLUDE (filename) FROM read_parquet({_literal(_predictions_glob(results))}, filename = true, "
        "union_by_name = true)"
    )
    return True


# Per run, setup, class and split: photos and correct predictions. Both setups come from the same rows.
GROUP_COUNTS_SQL = """
WITH answers AS (
    SELECT run_id, '1vs1000' AS setup, class_id, split::VARCHAR AS split, correct_1vs1000 AS correct FROM predictions
    UNION ALL
    SELECT run_id, '1vs20', class_id, split::VARCHAR, correct_1vs20 FROM predictions WHERE correct_1vs20 IS NOT NULL
)
SELECT run_id, setup, class_id, split, count(*) AS images, sum(correct::INTEGER) AS hits
FROM answers GROUP BY ALL
"""

# The class-balanced mean of per-class accuracy (the paper's metric) next to plain per-image accuracy.
METRICS_SQL = f"""
SELECT run_id, setup,
       100 * avg(hits / images) FILTER (split = 'common') AS common,
       100 * avg(hits / images) FILTER (split = 'counter') AS counter,
       common - counter AS drop,
       100 * sum(hits) FILTER (split = 'common') / sum(images) FILTER (split = 'common') AS common_unbalanced,
       100 * sum(hits) FILTER (split = 'counter') / sum(images) FILTER (split = 'counter') AS counter_unbalanced,
       common_unbalanced - counter_unbalanced AS drop_unbalanced,
       sum(images)::INTEGER AS images,
       count(DISTINCT class_id)::INTEGER AS classes
FROM ({GROUP_COUNTS_SQL}) AS groups
GROUP BY run_id, setup
"""


def run_metrics(results: Path) -> pd.DataFrame:
    """Common, counter and drop (class-balanced and unbalanced, %) per run and setup; empty without runs."""
    with duckdb.connect() as con:
        if not create_predictions_view(con, results):
            return pd.DataFrame()
        return con.execute(METRICS_SQL + " ORDER BY run_id, setup").df()
