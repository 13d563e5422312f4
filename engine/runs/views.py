"""The DuckDB views over a results folder, and the metric SQL over them. Torch-free.

    predictions   one row per photo per run: `run_id` and the columns of `format.PREDICTIONS_SCHEMA`
    runs          one row per run, read from run.json (`RUN_COLUMNS`)

With no run yet, both views exist with the same columns and no rows (derived from the same definitions), so every
query works on an empty results folder. Metrics are SQL over these views, never stored aggregates.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from engine.dataset.reader import COUNTERANIMAL
from engine.runs.format import PREDICTIONS_SCHEMA, SETUPS, correct_column
from engine.runs.store import RUNS


def literal(text: str) -> str:
    """An SQL string literal (DDL statements take no prepared parameters)."""
    return "'" + text.replace("'", "''") + "'"


# The `runs` view: column -> (SQL type, how it is read from run.json). Runs written before `setups` was recorded
# evaluated both setups. Fields only some runs have (a display name, a vision-language model's question, answer and
# score) are read through JSON, so a folder without any such run still has the column (NULL).
RUN_COLUMNS: dict[str, tuple[str, str]] = {
    "run_id": ("VARCHAR", "run_id"),
    "model_id": ("VARCHAR", "model.spec"),
    "family": ("VARCHAR", "model.family"),
    "classnames": ("VARCHAR", "labels.classnames"),
    "templates": ("VARCHAR[]", "labels.templates"),
    "dataset_root": ("VARCHAR", "dataset.root"),
    "started_at": ("VARCHAR", "started_at"),
    "images": ("INTEGER", "images.evaluated"),
    "setups": ("VARCHAR[]", f"coalesce(setups::VARCHAR[], [{', '.join(literal(s) for s in SETUPS)}])"),
    "dataset_fingerprint": ("VARCHAR", "dataset.fingerprint"),
    # A curated or synthetic dataset's own name; runs made before datasets had names measured CounterAnimal.
    "dataset_name": ("VARCHAR", f"coalesce(json_extract_string(to_json(dataset), '$.name'), {literal(COUNTERANIMAL)})"),
    "dataset_layout": (
        "VARCHAR",
        "json_extract_string(to_json(dataset), '$.layout')",
    ),  # "collection": unsplit photos, the input of curation
    "run_name": ("VARCHAR", "json_extract_string(to_json(model), '$.name')"),
    "lvlm_question": ("VARCHAR", "json_extract_string(to_json(labels), '$.lvlm.question')"),
    "lvlm_answer": ("VARCHAR", "json_extract_string(to_json(labels), '$.lvlm.answer')"),
    # "mean" (the paper's) or "sum" of the answer tokens' losses
    "lvlm_score": ("VARCHAR", "json_extract_string(to_json(labels), '$.lvlm.score')"),
}


def sql_type(kind: pa.DataType) -> str:
    """The DuckDB type a predictions column reads as from Parquet (fixed-size lists read back as lists)."""
    if pa.types.is_dictionary(kind):
        return sql_type(kind.value_type)
    if pa.types.is_list(kind) or pa.types.is_fixed_size_list(kind):
        return f"{sql_type(kind.value_type)}[]"
    names = {pa.string(): "VARCHAR", pa.int16(): "SMALLINT", pa.bool_(): "BOOLEAN", pa.float32(): "FLOAT"}
    return names[kind]


def _empty_predictions_sql() -> str:
    columns = ["NULL::VARCHAR AS run_id"] + [f"NULL::{sql_type(f.type)} AS {f.name}" for f in PREDICTIONS_SCHEMA]
    return f"CREATE OR REPLACE VIEW predictions AS SELECT {', '.join(columns)} WHERE false"


def _empty_runs_sql() -> str:
    columns = [f"NULL::{kind} AS {name}" for name, (kind, _) in RUN_COLUMNS.items()]
    return f"CREATE OR REPLACE VIEW runs AS SELECT {', '.join(columns)} WHERE false"


def has_runs(results: Path) -> bool:
    return any((Path(results) / RUNS).glob("*/predictions.parquet"))


def create_predictions_view(con: duckdb.DuckDBPyConnection, results: Path) -> None:
    """`predictions`: every complete run's Parquet file, with its `run_id` (the folder holding the file)."""
    if not has_runs(results):
        con.execute(_empty_predictions_sql())
        return
    files = literal(str(Path(results) / RUNS / "*" / "predictions.parquet"))
    run_folder = r"'([^/\\]+)[/\\]predictions\.parquet$'"
    con.execute(
        f"CREATE OR REPLACE VIEW predictions AS SELECT regexp_extract(filename, {run_folder}, 1) AS run_id, "
        f"* EXCLUDE (filename) FROM read_parquet({files}, filename = true, union_by_name = true)"
    )


def create_runs_view(con: duckdb.DuckDBPyConnection, results: Path) -> None:
    """`runs`: one row per complete run, its columns read from run.json as `RUN_COLUMNS` says."""
    if not has_runs(results):
        con.execute(_empty_runs_sql())
        return
    manifests = literal(str(Path(results) / RUNS / "*" / "run.json"))
    columns = ", ".join(f"CAST({source} AS {kind}) AS {name}" for name, (kind, source) in RUN_COLUMNS.items())
    con.execute(
        f"CREATE OR REPLACE VIEW runs AS SELECT {columns} "
        f"FROM read_json({manifests}, format = 'auto', union_by_name = true)"
    )


def create_run_views(con: duckdb.DuckDBPyConnection, results: Path) -> None:
    """Both views over a results folder."""
    create_predictions_view(con, results)
    create_runs_view(con, results)


# Per run, setup, class and split: photos and correct predictions. Every setup comes from the same rows; a setup a
# run did not evaluate has NULL answers and no rows.
_ANSWERS = " UNION ALL ".join(
    f"SELECT run_id, '{setup}' AS setup, class_id, split::VARCHAR AS split, {correct_column(setup)} AS correct "
    f"FROM predictions WHERE {correct_column(setup)} IS NOT NULL"
    for setup in SETUPS
)
GROUP_COUNTS_SQL = f"""
WITH answers AS ({_ANSWERS})
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
    if not has_runs(results):
        return pd.DataFrame()
    with duckdb.connect() as con:
        create_predictions_view(con, results)
        return con.execute(METRICS_SQL + " ORDER BY run_id, setup").df()


def background_counts(results: Path, rid: str, setup: str) -> pd.DataFrame:
    """One run's photos and correct predictions in a setup per class and background (what curation compares)."""
    correct = correct_column(setup)
    sql = f"""
        SELECT class_id::INTEGER AS class_id, background::VARCHAR AS background, count(*)::INTEGER AS photos,
               sum({correct}::INTEGER)::INTEGER AS correct
        FROM read_parquet(?) WHERE {correct} IS NOT NULL GROUP BY ALL ORDER BY ALL
    """
    with duckdb.connect() as con:
        return con.execute(sql, [str(Path(results) / RUNS / rid / "predictions.parquet")]).df()
