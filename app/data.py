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
