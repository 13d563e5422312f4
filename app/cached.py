"""The pages' queries, cached by Streamlit. Each function is a thin call of `app.queries` or `app.run_queries` (the
theory lab's: of `engine.theory`); the `sources` argument carries the files' fingerprint, so a changed file misses the
cache on the next rerun and is read again without restarting the dashboard."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import intervals, queries, run_queries
from app.queries import Sources
from engine import theory

# Cache sizes: a few entries for queries without arguments, more for those keyed by a setup and variant, most for
# those keyed by a run or a pair of runs (each entry is small: a query's result, at most a few thousand rows).
FEW, SOME, MANY = 8, 32, 128


def sources() -> Sources:
    """The dashboard's folders and their fingerprint as they are now: read on every rerun, never cached, since the
    fingerprint is what notices a changed file. Pages take it once and pass it to the functions below."""
    return Sources.current()


# ---- published numbers (app.queries) ------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=FEW)
def setups(sources: Sources) -> list[str]:
    return queries.setups(sources)


@st.cache_data(show_spinner=False, max_entries=FEW)
def variants(sources: Sources, setup: str) -> list[str]:
    return queries.variants(sources, setup)


@st.cache_data(show_spinner=False, max_entries=SOME)
def model_scores(sources: Sources, setup: str, variant: str) -> pd.DataFrame:
    return queries.model_scores(sources, setup, variant)


@st.cache_data(show_spinner=False, max_entries=FEW)
def classes(sources: Sources) -> pd.DataFrame:
    return queries.classes(sources)


@st.cache_data(show_spinner=False, max_entries=FEW)
def per_class_models(sources: Sources) -> pd.DataFrame:
    return queries.per_class_models(sources)


@st.cache_data(show_spinner=False, max_entries=SOME)
def per_class_scores(sources: Sources, model_id: str, setup: str) -> pd.DataFrame:
    return queries.per_class_scores(sources, model_id, setup)


@st.cache_data(show_spinner=False, max_entries=FEW)
def model_counts(sources: Sources) -> pd.DataFrame:
    return queries.model_counts(sources)


@st.cache_data(show_spinner=False, max_entries=FEW)
def flagged_rows(sources: Sources) -> pd.DataFrame:
    return queries.flagged_rows(sources)


# ---- evaluation runs (app.run_queries) ----------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=FEW)
def run_list(sources: Sources) -> pd.DataFrame:
    return run_queries.run_list(sources)


@st.cache_data(show_spinner=False, max_entries=SOME)
def run_scores(sources: Sources, setup: str, variant: str) -> pd.DataFrame:
    return run_queries.run_scores(sources, setup, variant)


@st.cache_data(show_spinner=False, max_entries=FEW)
def datasets(sources: Sources) -> pd.DataFrame:
    return run_queries.datasets(sources)


@st.cache_data(show_spinner=False, max_entries=FEW)
def curation_reports(sources: Sources) -> list[dict]:
    return run_queries.curation_reports(sources)


@st.cache_data(show_spinner=False, max_entries=FEW)
def run_metrics(sources: Sources) -> pd.DataFrame:
    return run_queries.run_metrics(sources)


@st.cache_data(show_spinner=False, max_entries=MANY)
def run_per_class(sources: Sources, run_id: str, setup: str) -> pd.DataFrame:
    return run_queries.run_per_class(sources, run_id, setup)


@st.cache_data(show_spinner=False, max_entries=MANY)
def run_classes(sources: Sources, run_id: str) -> pd.DataFrame:
    return run_queries.run_classes(sources, run_id)


@st.cache_data(show_spinner=False, max_entries=MANY)
def gallery_rows(sources: Sources, run_id: str, class_id: int) -> pd.DataFrame:
    return run_queries.gallery_rows(sources, run_id, class_id)


@st.cache_data(show_spinner=False, max_entries=FEW)
def imagenet_labels(sources: Sources) -> dict[int, str]:
    return run_queries.imagenet_labels(sources)


@st.cache_data(show_spinner=False, max_entries=MANY)
def confusions(sources: Sources, run_id: str, class_id: int, split: str, setup: str) -> pd.DataFrame:
    return run_queries.confusions(sources, run_id, class_id, split, setup)


@st.cache_data(show_spinner=False, max_entries=MANY)
def flips(sources: Sources, run_a: str, run_b: str, setup: str) -> pd.DataFrame:
    return run_queries.flips(sources, run_a, run_b, setup)


@st.cache_data(show_spinner=False, max_entries=MANY)
def paired_counts(sources: Sources, run_a: str, run_b: str, setup: str) -> pd.DataFrame:
    return run_queries.paired_counts(sources, run_a, run_b, setup)


@st.cache_data(show_spinner=False, max_entries=FEW)
def run_intervals(sources: Sources, setup: str) -> pd.DataFrame:
    """95% bootstrap intervals of every run's class-balanced common, counter and drop (one row per run)."""
    return intervals.per_run(run_queries.group_counts(sources, setup))


# ---- the theory lab (engine.theory) --------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=SOME)
def theory_sweep(config: theory.WorldConfig) -> pd.DataFrame:
    """Both learners trained at every p of the sweep in one synthetic world (about a second of numpy): keyed by the
    world's settings, so going back to a setting seen before is instant."""
    return theory.sweep_table(config)


@st.cache_data(show_spinner=False, max_entries=FEW)
def coloredcoco(sources: Sources) -> pd.DataFrame:
    return theory.read_coloredcoco(sources.paper)
