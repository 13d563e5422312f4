"""SQL over evaluation runs (results/runs/*: run.json and predictions.parquet), joined with the published tables.
DuckDB in process, one connection per query (see `queries.run_query`); the metric SQL is the engine's own."""

from __future__ import annotations

import re

import pandas as pd

from app.queries import DataError, Sources, run_query
from engine.curation.write import list_reports
from engine.dataset.reader import COUNTERANIMAL
from engine.runs.format import LVLM_ANSWER, LVLM_QUESTION, SETUPS, correct_column, pred_column, top_prefix
from engine.runs.store import run_path
from engine.runs.views import GROUP_COUNTS_SQL, METRICS_SQL, literal
from engine.zoo.specs import display_name

# Which published variant a run reproduces: its prompts and class names decide (ImageNet models have neither); a
# vision-language model's question, answer and answer score (the mean loss of its tokens) decide with its class names.
PAPER_LVLM = (
    f"r.lvlm_question = {literal(LVLM_QUESTION)} AND r.lvlm_answer = {literal(LVLM_ANSWER)} AND r.lvlm_score = 'mean'"
)
RUN_VARIANT = f"""CASE
    WHEN r.family = 'ImageNet' OR (r.templates = ['A photo of {{}}.'] AND r.classnames = 'wordnet') THEN 'default'
    WHEN r.family = 'LVLM' AND r.classnames = 'wordnet' AND {PAPER_LVLM} THEN 'default'
    WHEN len(r.templates) = 80 AND r.classnames = 'wordnet' THEN 'openai_80_prompt_ensemble'
    ELSE 'custom' END"""
# The `protocol` column: the variant, and for a vision-language model of another protocol, which one (the question
# is what people change).
RUN_PROTOCOL = f"""CASE
    WHEN r.family = 'LVLM' AND ({RUN_VARIANT}) = 'custom' THEN
        'custom: question "' || coalesce(r.lvlm_question, '?') || '", answer "' || coalesce(r.lvlm_answer, '?')
        || '", ' || coalesce(r.lvlm_score, '?') || ' loss'
        || CASE WHEN r.classnames = 'wordnet' THEN '' ELSE ', ' || r.classnames || ' class names' END
    ELSE {RUN_VARIANT} END"""
# A zoo model is matched by its id, or by the spec it is evaluated with when that differs (the paper's LVLMs: the run
# of `lvlm:llava-1.5-7b` records `hf:llava-hf/llava-1.5-7b-hf`).
ZOO_JOIN = "LEFT JOIN models m ON m.model_id = r.model_id OR m.loader = r.model_id"
# A class labelled with the backgrounds of the run's own photos ("ice bear (snow → grass)"): a curated set has its own.
LABEL = """i.label || ' (' || any_value(p.background::VARCHAR) FILTER (split = 'common') || ' → '
    || any_value(p.background::VARCHAR) FILTER (split = 'counter') || ')'"""
# The runs the pages show, with the dataset each measured (`dataset`: its name, and the start of its fingerprint when
# runs measured several versions of one name). Runs on a collection (curation's reference runs) have no common and
# counter photos: the Curate page tells of them.
SCOPED_RUNS = """(
    SELECT *, dataset_name || CASE
        WHEN count(DISTINCT coalesce(dataset_fingerprint, '')) OVER (PARTITION BY dataset_name) > 1
        THEN ' · ' || coalesce(left(dataset_fingerprint, 8), 'unknown version') ELSE '' END AS dataset
    FROM runs WHERE dataset_layout IS DISTINCT FROM 'collection')"""


def _named(rows: pd.DataFrame) -> pd.DataFrame:
    """Runs of models outside the zoo get a short display name (zoo models keep the paper's)."""
    if rows.empty:
        return rows
    return rows.assign(
        name=[n if n != m else display_name(m) for n, m in zip(rows["name"], rows["model_id"], strict=True)]
    )


def _predictions_file(sources: Sources, run_id: str) -> str:
    """One run's Parquet file: per-run queries read it alone, not every run's."""
    if not re.fullmatch(r"[\w.-]+", str(run_id)):
        raise DataError(f"Not a run id: {run_id!r}.")
    return str(run_path(sources.results, run_id) / "predictions.parquet")


def _setup(setup: str) -> str:
    """A setup name that is safe to paste into a column name."""
    if setup not in SETUPS:
        raise DataError(f"Unknown setup {setup!r}; choose one of {', '.join(SETUPS)}.")
    return setup


def run_list(sources: Sources) -> pd.DataFrame:
    """Every complete run: id, model, display name, family, the variant it reproduces, photos, when, where."""
    sql = f"""
        SELECT r.run_id, r.model_id, coalesce(r.run_name, m.name, r.model_id) AS name, r.family,
               {RUN_VARIANT} AS variant, r.images, r.started_at, r.dataset_root, r.setups, r.dataset_fingerprint,
               r.dataset, r.dataset_name
        FROM {SCOPED_RUNS} r {ZOO_JOIN}
        ORDER BY r.started_at, r.run_id
    """
    return _named(run_query(sources, sql, ("runs", "models")))


# Which runs each published variant's view shows: every run appears somewhere. Runs with their own prompts or class
# names ("custom") show with the paper's protocol, marked by their `protocol` column.
VARIANT_RUNS = {
    "default": "variant IN ('default', 'custom')",
    "unbalanced_accuracy": "variant IN ('default', 'custom')",
    "openai_80_prompt_ensemble": "variant = 'openai_80_prompt_ensemble'",
    "alt_checkpoint": "variant IN ('default', 'custom') AND role = 'alt_checkpoint'",
}


def run_scores(sources: Sources, setup: str, variant: str) -> pd.DataFrame:
    """Runs as published models are listed by `queries.model_scores` (same columns, plus run_id, images and the
    protocol the run used). The unbalanced variant reads the runs' per-image accuracy."""
    balanced = variant != "unbalanced_accuracy"
    common, counter, drop = (
        ("common", "counter", "drop") if balanced else ("common_unbalanced", "counter_unbalanced", "drop_unbalanced")
    )
    sql = f"""
        SELECT * EXCLUDE (variant) FROM (
        SELECT coalesce(m.model_id, r.model_id) AS model_id, coalesce(r.run_name, m.name, r.model_id) AS name,
               coalesce(m.family, r.family) AS family,
               coalesce(m.role, 'run') AS role, coalesce(m.backbone, '') AS backbone,
               CAST(m.params_m AS DOUBLE) AS params_m, m.pretrain_data, m.pretrain_size,
               CAST(m.pretrain_pairs_m AS DOUBLE) AS pretrain_pairs_m,
               coalesce(CAST(m.high_quality_data AS BOOLEAN), false) AS high_quality_data,
               x.{common} AS common, x.{counter} AS counter, x.{drop} AS drop,
               'evaluated here' AS source, '' AS flag, x.run_id, x.images, {RUN_VARIANT} AS variant,
               {RUN_PROTOCOL} AS protocol, r.dataset
        FROM ({METRICS_SQL}) x JOIN {SCOPED_RUNS} r USING (run_id) {ZOO_JOIN}
        WHERE x.setup = ?
        ) WHERE {VARIANT_RUNS.get(variant, "false")}
        ORDER BY name, run_id
    """
    rows = run_query(sources, sql, ("runs", "models"), [_setup(setup)])
    return _named(rows)


def datasets(sources: Sources) -> pd.DataFrame:
    """The datasets runs measured (`dataset` key, `name`, `runs`, `latest` start), CounterAnimal first and always
    there: the published numbers are its."""
    sql = f"""
        SELECT dataset, any_value(dataset_name) AS name, count(*)::INTEGER AS runs, max(started_at) AS latest
        FROM {SCOPED_RUNS} GROUP BY dataset
    """
    rows = run_query(sources, sql, ("runs",))
    if COUNTERANIMAL not in set(rows["name"]):
        rows = pd.concat([rows, pd.DataFrame({"dataset": [COUNTERANIMAL], "name": [COUNTERANIMAL], "runs": [0]})])
    first = rows["name"] != COUNTERANIMAL
    return rows.assign(first=first).sort_values(["first", "dataset"]).drop(columns="first").reset_index(drop=True)


def run_metrics(sources: Sources) -> pd.DataFrame:
    """Every run's class-balanced common, counter and drop in each setup it has (one row per run and setup)."""
    sql = f"SELECT run_id, setup, common, counter, drop FROM ({METRICS_SQL}) x ORDER BY run_id, setup"
    return run_query(sources, sql, ("runs",))


def group_counts(sources: Sources, setup: str) -> pd.DataFrame:
    """Photos and correct predictions per run, class and split: what the bootstrap resamples."""
    sql = f"SELECT run_id, class_id, split, images, hits FROM ({GROUP_COUNTS_SQL}) g WHERE setup = ? ORDER BY ALL"
    return run_query(sources, sql, ("runs",), [_setup(setup)])


def run_per_class(sources: Sources, run_id: str, setup: str) -> pd.DataFrame:
    """Per-class common, counter and drop of one run with photo counts, worst drop first (columns as
    `queries.per_class_scores`)."""
    correct = f"{correct_column(_setup(setup))}::INTEGER"
    sql = f"""
        SELECT p.class_id, {LABEL} AS label,
               100 * avg({correct}) FILTER (split = 'common') AS common,
               100 * avg({correct}) FILTER (split = 'counter') AS counter,
               common - counter AS drop,
               count(*) FILTER (split = 'common') AS n_common, count(*) FILTER (split = 'counter') AS n_counter,
               '' AS flag
        FROM read_parquet(?) p JOIN imagenet_classes i ON CAST(i.class_id AS SMALLINT) = p.class_id
        GROUP BY p.class_id, i.label
        ORDER BY drop DESC NULLS LAST, p.class_id
    """
    return run_query(sources, sql, ("imagenet_classes",), [_predictions_file(sources, run_id)])


def run_classes(sources: Sources, run_id: str) -> pd.DataFrame:
    """The classes a run has photos of, with their label and the backgrounds found in its data."""
    sql = f"""
        SELECT p.class_id, {LABEL} AS label,
               any_value(p.background::VARCHAR) FILTER (split = 'common') AS common_background,
               any_value(p.background::VARCHAR) FILTER (split = 'counter') AS counter_background
        FROM read_parquet(?) p JOIN imagenet_classes i ON CAST(i.class_id AS SMALLINT) = p.class_id
        GROUP BY p.class_id, i.label ORDER BY p.class_id
    """
    return run_query(sources, sql, ("imagenet_classes",), [_predictions_file(sources, run_id)])


def gallery_rows(sources: Sources, run_id: str, class_id: int) -> pd.DataFrame:
    """Every photo of one class in one run with both setups' predictions, top-5 and confidence."""
    answers = ", ".join(
        f"{pred_column(s)}, {correct_column(s)}, {top_prefix(s)}_ids, {top_prefix(s)}_probs" for s in SETUPS
    )
    sql = f"""
        SELECT image_id, class_id, split::VARCHAR AS split, background::VARCHAR AS background, {answers}
        FROM read_parquet(?, union_by_name = true) WHERE class_id = ?
        ORDER BY image_id
    """
    return run_query(sources, sql, (), [_predictions_file(sources, run_id), class_id])


def imagenet_labels(sources: Sources) -> dict[int, str]:
    """ImageNet index -> short class name ("Arctic fox")."""
    rows = run_query(
        sources, "SELECT CAST(class_id AS INTEGER) AS class_id, label FROM imagenet_classes", ("imagenet_classes",)
    )
    return dict(zip(rows["class_id"], rows["label"], strict=True))


def confusions(sources: Sources, run_id: str, class_id: int, split: str, setup: str) -> pd.DataFrame:
    """What a class's photos of one split are predicted as instead, most frequent first."""
    pred, correct = pred_column(_setup(setup)), correct_column(setup)
    sql = f"""
        SELECT p.{pred} AS predicted, i.label, count(*) AS photos, list(p.image_id ORDER BY p.image_id) AS image_ids
        FROM read_parquet(?) p JOIN imagenet_classes i ON CAST(i.class_id AS SMALLINT) = p.{pred}
        WHERE p.class_id = ? AND p.split::VARCHAR = ? AND p.{correct} = false
        GROUP BY ALL ORDER BY photos DESC, i.label
    """
    file = _predictions_file(sources, run_id)
    return run_query(sources, sql, ("imagenet_classes",), [file, class_id, split])


def _pairs_sql(setup: str) -> str:
    """Photos both runs predicted in this setup (joined by image id), with each run's correctness."""
    correct = correct_column(_setup(setup))
    return f"""
        SELECT a.image_id, a.class_id, a.split::VARCHAR AS split, a.background, a.{correct} AS a_correct,
               b.{correct} AS b_correct
        FROM read_parquet(?) a JOIN read_parquet(?) b USING (image_id)
        WHERE a.{correct} IS NOT NULL AND b.{correct} IS NOT NULL
    """


def flips(sources: Sources, run_a: str, run_b: str, setup: str) -> pd.DataFrame:
    """Per class, the counter-background photos run A gets right and run B gets wrong (and the reverse)."""
    a_only, b_only = (
        "split = 'counter' AND a_correct AND NOT b_correct",
        "split = 'counter' AND b_correct AND NOT a_correct",
    )
    sql = f"""
        SELECT p.class_id, {LABEL} AS label,
               count(*) FILTER ({a_only}) AS a_only,
               count(*) FILTER ({b_only}) AS b_only,
               coalesce(list(p.image_id ORDER BY p.image_id) FILTER ({a_only}), []) AS a_only_images,
               coalesce(list(p.image_id ORDER BY p.image_id) FILTER ({b_only}), []) AS b_only_images
        FROM ({_pairs_sql(setup)}) p JOIN imagenet_classes i ON CAST(i.class_id AS SMALLINT) = p.class_id
        GROUP BY p.class_id, i.label ORDER BY a_only DESC, b_only DESC, p.class_id
    """
    files = [_predictions_file(sources, run_a), _predictions_file(sources, run_b)]
    return run_query(sources, sql, ("imagenet_classes",), files)


def paired_counts(sources: Sources, run_a: str, run_b: str, setup: str) -> pd.DataFrame:
    """Per class and split, photos both runs get right, only A, only B, neither: the paired bootstrap's input."""
    sql = f"""
        SELECT class_id, split,
               count(*) FILTER (a_correct AND b_correct) AS both,
               count(*) FILTER (a_correct AND NOT b_correct) AS only_a,
               count(*) FILTER (b_correct AND NOT a_correct) AS only_b,
               count(*) FILTER (NOT a_correct AND NOT b_correct) AS neither
        FROM ({_pairs_sql(setup)}) p GROUP BY ALL ORDER BY ALL
    """
    return run_query(sources, sql, (), [_predictions_file(sources, run_a), _predictions_file(sources, run_b)])


def curation_reports(sources: Sources) -> list[dict]:
    """Every curation recorded in the results folder (`counteranimal curate`), by name."""
    return list_reports(sources.results)
