"""The runs evaluated here on the Overview's scatter: stars with their 95% intervals, dotted lines to the paper's
number for the same model, and the ringed run someone just evaluated (or models found by name)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.charts.hover import SCORES_HOVER, data_label, er_label, params_label
from app.charts.style import FAMILY_COLORS
from app.trends import SCALES

RUN_COLOR = "#000000"
HIGHLIGHT_COLOR = "#d62728"  # the run someone just evaluated, and the models found by name
# Runs of a family the paper draws apart keep its colour, as stars of their own (vision-language models: 1 vs 20
# only, a family with two published points and no trend); other runs are black stars.
RUN_MARKERS = {"LVLM": ("star-diamond", FAMILY_COLORS["LVLM"])}


def _interval_arms(centre: pd.Series, low: pd.Series, high: pd.Series, scale: str) -> dict:
    """Asymmetric error bars in the scale's coordinates (an interval symmetric in accuracy is not in probit)."""
    forward = SCALES[scale].forward
    c = forward(centre.to_numpy())
    return {
        "type": "data",
        "symmetric": False,
        "array": np.nan_to_num(forward(high.to_numpy()) - c),
        "arrayminus": np.nan_to_num(c - forward(low.to_numpy())),
        "color": "#555555",
        "thickness": 1.2,
        "width": 3,
    }


def runs_traces(runs: pd.DataFrame, scale: str) -> list[go.Scatter]:
    """Models evaluated here: black stars, and one trace of stars in the family's colour per family of
    `RUN_MARKERS`."""
    apart = runs["family"].isin(list(RUN_MARKERS))
    traces = [runs_trace(runs[~apart], scale)] if (~apart).any() else []
    for family, rows in runs[apart].groupby("family", sort=True):
        symbol, color = RUN_MARKERS[family]
        traces.append(runs_trace(rows, scale, f"evaluated here · {family}", symbol, color))
    return traces


def runs_trace(
    runs: pd.DataFrame, scale: str, name: str = "evaluated here", symbol: str = "star", color: str = RUN_COLOR
) -> go.Scatter:
    """Models evaluated here: stars, with 95% bootstrap intervals as error bars where known."""
    forward = SCALES[scale].forward
    has_ci = "common_low" in runs
    data_line = data_label(runs).map(lambda data: f"<br>data: {data}" if data else "")  # none for a local model
    custom = runs.assign(data=data_line, params=params_label(runs), er=er_label(runs))
    custom = custom[["name", "run_id", "data", "common", "counter", "drop", "model_id", "params", "er"]]
    return go.Scatter(
        name=name,
        x=forward(runs["common"].to_numpy()),
        y=forward(runs["counter"].to_numpy()),
        mode="markers",
        marker={"symbol": symbol, "size": 16, "color": color, "line": {"width": 1, "color": "#ffffff"}},
        error_x=_interval_arms(runs["common"], runs["common_low"], runs["common_high"], scale) if has_ci else None,
        error_y=_interval_arms(runs["counter"], runs["counter_low"], runs["counter_high"], scale) if has_ci else None,
        customdata=custom.fillna("").to_numpy(),
        hovertemplate=(
            "<b>%{customdata[0]}</b> (evaluated here, run %{customdata[1]})<br>%{customdata[7]}%{customdata[2]}"
            + SCORES_HOVER
        ),
    )


def gap_trace(runs: pd.DataFrame, paper: pd.DataFrame, scale: str) -> go.Scatter | None:
    """A dotted segment from each published point to its re-evaluation here: the reproduction gap."""
    pairs = runs.merge(paper, on="model_id", suffixes=("", "_paper"))
    if pairs.empty:
        return None
    x = _segments(pairs["common_paper"], pairs["common"], scale)
    y = _segments(pairs["counter_paper"], pairs["counter"], scale)
    line = {"color": RUN_COLOR, "dash": "dot", "width": 1.5}
    return go.Scatter(name="paper → here", x=x, y=y, mode="lines", line=line, hoverinfo="skip")


def _segments(starts: pd.Series, ends: pd.Series, scale: str) -> list:
    """Start, end and a break (None) for each row, in the scale's space: one line of separate segments. The scale is
    applied to whole columns (per row, it was a third of the Overview's figure time over 50 runs)."""
    forward = SCALES[scale].forward
    pairs = zip(forward(starts.to_numpy()), forward(ends.to_numpy()), strict=True)
    return [value for start, end in pairs for value in (start, end, None)]


def _text_position(x: float, y: float, axis_range: list[float]) -> str:
    """Where a point's label goes so it stays inside the plot: towards the centre of the shared axis range."""
    middle = (axis_range[0] + axis_range[1]) / 2
    return f"{'bottom' if y > middle else 'top'} {'left' if x > middle else 'right'}"


def highlight_trace(point: pd.Series, scale: str, axis_range: list[float], role: str = "highlighted") -> go.Scatter:
    """A ring and the name around one point: the run someone just evaluated (`role` "highlighted", with a legend
    entry), or a published model or run found by name ("found": its label says it all, so no legend entry)."""
    forward = SCALES[scale].forward
    x, y = forward(np.array([point["common"]])), forward(np.array([point["counter"]]))
    return go.Scatter(
        name=f"{role}: {point['name']}",
        showlegend=role == "highlighted",
        x=x,
        y=y,
        mode="markers+text",
        marker={"symbol": "circle-open", "size": 34, "color": HIGHLIGHT_COLOR, "line": {"width": 3}},
        text=[f"<b>{point['name']}</b>"],
        textposition=_text_position(float(x[0]), float(y[0]), axis_range),
        textfont={"color": HIGHLIGHT_COLOR, "size": 15},
        cliponaxis=False,  # the ring of a run at 0% or 100% is drawn whole
        hoverinfo="skip",
    )
