"""SQL over the published numbers (the CSV tables of the paper folder), and `run_query`, which every query of the
dashboard goes through; the queries over evaluation runs are in `app.run_queries`, over the engine's run views.

DuckDB runs in process: every query opens its own in-memory connection (no long-lived connection, no file lock shared
with a running evaluation), reads the files through views, fetches the result fully and returns a DataFrame. No
Streamlit here; `app/cached.py` adds caching.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from engine.config import paper_dir, results_dir
from engine.curation.write import CURATIONS
from engine.runs.store import RUNS
from engine.runs.views import create_run_views, literal


class DataError(Exception):
    """A results file is missing or malformed; the message says which and what to do."""


@dataclass(frozen=True)
class Sources:
    """The folders the dashboard reads, and a fingerprint of their files taken when it was made: part of every cached
    query's key (`app.cached`), so a changed file is read on the next rerun."""

    paper: Path  # the published numbers (results/paper/ or the installed copy)
    results: Path  # evaluation runs
    fingerprint: tuple[tuple[str, int, int], ...]  # (path, mtime in ns, size in bytes) of each file read

    @classmethod
    def current(cls) -> Sources:
        """The folders the environment names, with their files as they are now."""
        paper, results = paper_dir(), results_dir()
        return cls(paper=paper, results=results, fingerprint=files_fingerprint(paper, results))


def files_fingerprint(paper: Path, results: Path) -> tuple[tuple[str, int, int], ...]:
    """Changes whenever a file the views read changes, or a run appears or goes. A run's manifest is written last, so
    its appearance marks a complete run."""
    files = sorted(p for p in paper.glob("*") if p.is_file()) if paper.is_dir() else []
    files += sorted((results / RUNS).glob("*/run.json")) + sorted((results / CURATIONS).glob("*.json"))
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


# View name -> (file under the paper folder, the columns the dashboard needs).
PAPER_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "models": (
        "models.csv",
        ("model_id", "name", "family", "role", "backbone", "params_m", "pretrain_data", "pretrain_size")
        + ("pretrain_pairs_m", "high_quality_data", "paper_checkpoint", "loader"),
    ),
    "scores": ("scores.csv", ("model_id", "setup", "variant", "common", "counter", "drop", "source", "flag")),
    "per_class": ("per_class.csv", ("model_id", "setup", "class_id", "common", "counter", "drop", "source", "flag")),
    "classes": (
        "classes.csv",
        ("class_id", "name", "common_background", "counter_background", "n_common", "n_counter"),
    ),
    "imagenet_classes": ("imagenet_classes.csv", ("class_id", "label", "name")),
}

_REPAIR = "Restore the published tables with `git checkout results/paper` (or reinstall the project)."


def _paper_file(sources: Sources, view: str) -> Path:
    file, _ = PAPER_TABLES[view]
    path = sources.paper / file
    if not path.is_file():
        raise DataError(f"The published-numbers file `{path}` is missing. {_REPAIR}")
    return path


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        header = next(csv.reader(f), [])
    if not header:
        raise DataError(f"`{path}` is empty. {_REPAIR}")
    return header


def _create_view(con: duckdb.DuckDBPyConnection, sources: Sources, view: str) -> None:
    """A view over one CSV, every column read as text with the file's own header (typing happens in the queries),
    strictly: a row with the wrong number of fields is an error naming its line, not a silent re-guess."""
    path = _paper_file(sources, view)
    _, required = PAPER_TABLES[view]
    header = _header(path)
    if missing := [c for c in required if c not in header]:
        raise DataError(f"`{path}` lacks the column(s) {', '.join(missing)}. {_REPAIR}")
    columns = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in header) + "}"
    con.execute(
        f"CREATE VIEW {view} AS SELECT * FROM read_csv({literal(str(path))}, header = true, auto_detect = false, "
        f"columns = {columns}, strict_mode = true)"
    )


def run_query(sources: Sources, sql: str, views: tuple[str, ...], params: list | None = None) -> pd.DataFrame:
    """Run one query over the named views (paper tables, and "runs" for the run views); file problems become a
    DataError."""
    con = duckdb.connect()
    try:
        for view in views:
            if view == "runs":
                create_run_views(con, sources.results)
            else:
                _create_view(con, sources, view)
        return con.execute(sql, params or []).df()
    except duckdb.Error as error:
        message = str(error).splitlines()[0]
        where = f"`{sources.paper}` or `{sources.results / RUNS}`" if "runs" in views else f"`{sources.paper}`"
        raise DataError(f"The data in {where} is malformed ({message}). {_REPAIR}") from error
    finally:
        con.close()


def _require_values(rows: pd.DataFrame, columns: list[str], file: str) -> pd.DataFrame:
    """Blank cells where a value is needed make the file malformed (a chart cannot place a model without a score)."""
    blank = rows[rows[columns].isna().any(axis=1)]
    if len(blank):
        names = ", ".join(blank["model_id"].astype(str).head(5))
        raise DataError(f"`{file}` has blank {' / '.join(columns)} values (models: {names}). {_REPAIR}")
    return rows


# Short class label "ice bear" from the ImageNet-style name "ice bear, polar bear, ursus maritimus, ...".
_CLASS_LABEL = "split_part(c.name, ',', 1)"
# Published variants that are not measurements to plot (see results/paper/README.md).
HIDDEN_VARIANTS = ("table5_as_printed", "default_checkpoint_repeat")


def setups(sources: Sources) -> list[str]:
    df = run_query(sources, "SELECT DISTINCT setup FROM scores ORDER BY setup", ("scores",))
    return df["setup"].tolist()


def variants(sources: Sources, setup: str) -> list[str]:
    """Variants published for a setup, the paper's default protocol first."""
    sql = """
        SELECT DISTINCT variant FROM scores
        WHERE setup = ? AND variant NOT IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY variant <> 'default', variant
    """
    return run_query(sources, sql, ("scores",), [setup, list(HIDDEN_VARIANTS)])["variant"].tolist()


def model_scores(sources: Sources, setup: str, variant: str) -> pd.DataFrame:
    """One row per model published for (setup, variant): its description and common, counter, drop (points)."""
    sql = """
        SELECT m.model_id,
               CASE WHEN m.role = 'alt_checkpoint' THEN m.name || ' (' || m.paper_checkpoint || ')' ELSE m.name END
                   AS name,
               m.family, m.role, m.backbone,
               CAST(m.params_m AS DOUBLE) AS params_m,
               m.pretrain_data, m.pretrain_size,
               CAST(m.pretrain_pairs_m AS DOUBLE) AS pretrain_pairs_m,
               coalesce(CAST(m.high_quality_data AS BOOLEAN), false) AS high_quality_data,
               CAST(s.common AS DOUBLE) AS common,
               CAST(s.counter AS DOUBLE) AS counter,
               CAST(s.drop AS DOUBLE) AS drop,
               s.source, coalesce(s.flag, '') AS flag
        FROM scores s JOIN models m USING (model_id)
        WHERE s.setup = ? AND s.variant = ?
        ORDER BY m.family, CAST(m.params_m AS DOUBLE), m.name
    """
    rows = run_query(sources, sql, ("models", "scores"), [setup, variant])
    return _require_values(rows, ["name", "family", "common", "counter", "drop"], "models.csv / scores.csv")


def classes(sources: Sources) -> pd.DataFrame:
    """The 45 classes: label, backgrounds and image counts, in ImageNet order."""
    sql = f"""
        SELECT CAST(c.class_id AS INTEGER) AS class_id, {_CLASS_LABEL} AS label, c.name,
               c.common_background, c.counter_background,
               CAST(c.n_common AS INTEGER) AS n_common, CAST(c.n_counter AS INTEGER) AS n_counter
        FROM classes c ORDER BY CAST(c.class_id AS INTEGER)
    """
    return run_query(sources, sql, ("classes",))


def per_class_models(sources: Sources) -> pd.DataFrame:
    """Models with published per-class numbers (model_id, name, setup)."""
    sql = """
        SELECT DISTINCT p.model_id, m.name, p.setup
        FROM per_class p JOIN models m USING (model_id) ORDER BY m.name, p.setup
    """
    return run_query(sources, sql, ("per_class", "models"))


def per_class_scores(sources: Sources, model_id: str, setup: str) -> pd.DataFrame:
    """Per-class common, counter and drop for one model, worst drop first, labelled 'ice bear (snow → grass)'."""
    sql = f"""
        SELECT CAST(p.class_id AS INTEGER) AS class_id,
               {_CLASS_LABEL} || ' (' || c.common_background || ' → ' || c.counter_background || ')' AS label,
               CAST(p.common AS DOUBLE) AS common, CAST(p.counter AS DOUBLE) AS counter,
               CAST(p.drop AS DOUBLE) AS drop,
               CAST(c.n_common AS INTEGER) AS n_common, CAST(c.n_counter AS INTEGER) AS n_counter,
               coalesce(p.flag, '') AS flag
        FROM per_class p JOIN classes c USING (class_id)
        WHERE p.model_id = ? AND p.setup = ?
        ORDER BY CAST(p.drop AS DOUBLE) DESC, CAST(p.class_id AS INTEGER)
    """
    return run_query(sources, sql, ("per_class", "classes"), [model_id, setup])


def model_counts(sources: Sources) -> pd.DataFrame:
    """Number of published models per family and role (main tables or alternative checkpoints)."""
    sql = "SELECT family, role, count(*) AS models FROM models GROUP BY ALL ORDER BY role DESC, family"
    return run_query(sources, sql, ("models",))


# Flags of published rows whose printed drop is not common - counter (results/paper/README.md).
INCONSISTENT_FLAGS = ("drop_as_printed", "counter_as_printed")


def flagged_rows(sources: Sources) -> pd.DataFrame:
    """Published rows whose printed drop is not common - counter, per table (scores, per_class)."""
    sql = """
        SELECT 'scores' AS "table", count(*) AS rows FROM scores WHERE flag IN (SELECT unnest(?::VARCHAR[]))
        UNION ALL
        SELECT 'per_class', count(*) FROM per_class WHERE flag IN (SELECT unnest(?::VARCHAR[]))
    """
    return run_query(sources, sql, ("scores", "per_class"), [list(INCONSISTENT_FLAGS)] * 2)
