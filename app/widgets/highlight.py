"""The Overview's highlighted run (a finished job's link lands here, and the run is told in words above the chart), and
the search box that rings and names any published model or run on the chart."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.selections import fitted_common_ranges, outside_fitted_range
from app.widgets.navigation import go_to
from engine.runs.format import SETUP_LABELS


def highlighted_run(runs: pd.DataFrame, points: pd.DataFrame, setup: str, all_run_ids: set[str]) -> str | None:
    """The highlighted run (`overview_run`, set by a finished job's link), told in words: its scores, its effective
    robustness against its family's trend, and a way to its photos; its id, or None when there is none.
    `all_run_ids` are the runs of every setup, to tell a run that does not exist from one with no scores here."""
    run_id = st.session_state.get("overview_run")
    if not run_id:
        return None
    rows = runs[runs["run_id"] == run_id] if len(runs) else runs
    if rows.empty:
        if run_id in all_run_ids:
            st.toast(f"Run {run_id} has no scores in this setup and variant.", icon=":material/link_off:")
        else:
            st.toast(f"There is no run {run_id} in the results folder.", icon=":material/link_off:")
        return None
    run = rows.iloc[0]
    er = run["effective_robustness"]
    against = (
        f" Effective robustness **{er:+.1f} points** against the {run['trend_group']} trend: its counter accuracy "
        "minus the trend's at the same common accuracy."
        if pd.notna(er)
        else ""  # no published trend on another dataset than CounterAnimal
    )
    ranges = fitted_common_ranges(points)
    outside = ""
    if outside_fitted_range(rows.head(1), ranges).iloc[0]:
        lo, hi = ranges[run["trend_group"]]
        outside = (
            f" Its common accuracy lies outside the {lo:.0f}-{hi:.0f}% the trend was fitted on, "
            "so this is an extrapolation."
        )
    with st.container(border=True):
        text, gallery_link, clear = st.columns([7, 2, 1])
        text.markdown(
            f"**{run['name']}** ({SETUP_LABELS[setup]}): common {run['common']:.1f}%, counter {run['counter']:.1f}%, "
            f"a drop of {run['drop']:.1f} points.{against}{outside}"
        )
        gallery_link.button(
            "Open its gallery", icon=":material/photo_library:", key="highlight_gallery",
            on_click=go_to, args=("gallery", {"gallery_run": run_id}),
        )  # fmt: skip
        clear.button("Clear", key="highlight_clear", on_click=lambda: st.session_state.pop("overview_run", None))
    return run_id


FIND_KEY = "overview_find"  # in the link: the model ids and run ids found, comma-separated


def find_models(points: pd.DataFrame, runs: pd.DataFrame) -> list[str]:
    """A search box over every point of the setup and variant: published models by their paper name, runs by their
    name and run id. Returns the model ids and run ids chosen. Ids that are no point here (a link's typo, a model of
    another setup) are dropped before the box is drawn, so a link's notice says which value did not stick.

    It stays apart from `overview_run`: that one is the run a finished job links to, told in words with a way to its
    photos and cleared on its own; a shared link with both keeps both."""
    labels = dict(zip(points["model_id"], points["name"], strict=True))
    if len(runs):
        labels |= {run: f"{name} · run {run}" for run, name in zip(runs["run_id"], runs["name"], strict=True)}
    if chosen := st.session_state.get(FIND_KEY):
        st.session_state[FIND_KEY] = [key for key in chosen if key in labels]
    return st.multiselect(
        "Find a model",
        list(labels),
        key=FIND_KEY,
        format_func=labels.get,
        placeholder="Type a model's name or a run id",
        help="Each model or run chosen is ringed and named on the chart.",
    )
