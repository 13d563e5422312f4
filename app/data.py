"""Cached access to `app.queries` for the pages: one cache entry per query, arguments and file fingerprint, so a
changed file is picked up on the next rerun without restarting the dashboard."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from app import queries


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(name: str, _fn: Callable, sources: queries.Sources, fingerprint: tuple, kwargs: tuple) -> object:
    # `_fn` is not hashed (Streamlit cannot hash functions); its qualified `name` keys the cache instead.
    return _fn(sources, **dict(kwargs))


def query(fn: Callable[..., pd.DataFrame | list], **kwargs: object) -> pd.DataFrame | list:
    """Call a function of `app.queries` on the dashboard's sources, cached."""
    sources = queries.Sources.from_environment()
    name = f"{fn.__module__}.{fn.__qualname__}"
    return _cached(name, fn, sources, sources.fingerprint(), tuple(sorted(kwargs.items())))


@st.cache_data(show_spinner=False, max_entries=64)
def _run_intervals(sources: queries.Sources, fingerprint: tuple, setup: str) -> pd.DataFrame:
    from app import intervals, run_queries

    counts = run_queries.group_counts(sources, setup)
    rows = [{"run_id": run_id, **intervals.balanced_intervals(groups)} for run_id, groups in counts.groupby("run_id")]
    columns = ["run_id"] + [f"{m}_{end}" for m in ("common", "counter", "drop") for end in ("low", "high")]
    return pd.DataFrame(rows, columns=columns)


def run_intervals(setup: str) -> pd.DataFrame:
    """95% bootstrap intervals of every run's class-balanced common, counter and drop (one row per run)."""
    sources = queries.Sources.from_environment()
    return _run_intervals(sources, sources.fingerprint(), setup)
