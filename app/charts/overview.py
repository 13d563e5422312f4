"""The Overview's scatter (the paper's Figure 2): common vs counter accuracy per model, y = x, trend lines, runs
evaluated here with their intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.charts.hover import SCORES_HOVER, data_label, er_label, params_label
from app.charts.runs import gap_trace, highlight_trace, runs_traces
from app.charts.style import (
    ACCURACY_TICKS,
    DATA_SIZE_TICKS,
    FAMILY_COLORS,
    FAMILY_SYMBOLS,
    FONT,
    TEMPLATE,
    TREND_COLORS,
    identity_line,
)
from app.trends import BAND_LEVEL, SCALES, Trend, describe_fit


def marker_size(params_m: pd.Series) -> np.ndarray:
    """Marker diameter (px) growing with log parameter count (millions); 10 px where the count is unknown."""
    size = 4 + 7 * np.log10(params_m.astype(float).clip(lower=1))
    return np.where(params_m.isna(), 10.0, size.clip(6, 32))


def _axis_range(values: np.ndarray, scale: str) -> list[float]:
    """Shared range of both axes (so y = x is the diagonal), in the scale's coordinates, holding every point."""
    t = SCALES[scale].forward(values)
    lo, hi = float(np.nanmin(t)), float(np.nanmax(t))
    pad = 0.06 * (hi - lo) or 1.0
    lo, hi = lo - pad, hi + pad
    if scale == "linear":  # a little past 0 and 100, so markers at the edges show whole
        lo, hi = max(lo, -2.0), min(hi, 102.0)
    return [lo, hi]


def _accuracy_axis(title: str, scale: str, axis_range: list[float]) -> dict:
    axis = {"title": title, "range": axis_range, "zeroline": False, "gridcolor": "#e5e5e5"}
    if scale != "linear":  # label transformed coordinates with the accuracies they stand for
        axis["tickvals"] = SCALES[scale].forward(np.array(ACCURACY_TICKS)).tolist()
        axis["ticktext"] = [str(t) for t in ACCURACY_TICKS]
    return axis


def _point_groups(points: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Legend groups of the scatter: one per family, curated-data CLIPs apart so they can be highlighted."""
    curated = (points["family"] == "CLIP") & points["high_quality_data"].astype(bool)
    groups = [("CLIP", points[(points["family"] == "CLIP") & ~curated]), ("CLIP · DataComp/DFN", points[curated])]
    groups += [(family, rows) for family, rows in points[points["family"] != "CLIP"].groupby("family", sort=True)]
    return [(name, rows) for name, rows in groups if len(rows)]


def _points_trace(name: str, rows: pd.DataFrame, scale: str) -> go.Scatter:
    family = rows["family"].iloc[0]
    forward = SCALES[scale].forward
    if family == "CLIP":
        color = np.log10(rows["pretrain_pairs_m"].astype(float).clip(lower=1)).tolist()
        marker_color = {"color": color, "coloraxis": "coloraxis"}
    else:
        marker_color = {"color": FAMILY_COLORS.get(family, "#555555")}
    custom = rows.assign(data=data_label(rows), params=params_label(rows), er=er_label(rows))
    custom = custom[["name", "backbone", "data", "common", "counter", "drop", "model_id", "params", "er"]]
    return go.Scatter(
        name=name,
        legendgroup=name,
        showlegend=family != "CLIP",  # CLIP markers are coloured by data size; _legend_swatch stands in for them
        x=forward(rows["common"].to_numpy()),
        y=forward(rows["counter"].to_numpy()),
        mode="markers",
        marker={
            **marker_color,
            "symbol": FAMILY_SYMBOLS.get(family, "circle"),
            "size": marker_size(rows["params_m"]),
            "line": _marker_lines(name, rows),
            "opacity": 0.9,
        },
        customdata=custom.fillna("").to_numpy(),
        hovertemplate=(
            "<b>%{customdata[0]}</b><br>backbone: %{customdata[1]} (%{customdata[7]})<br>data: %{customdata[2]}"
            + SCORES_HOVER
        ),
    )


# The scores in a hover, customdata[3:6] being common, counter and drop and customdata[8] the effective robustness.
def _legend_swatch(name: str) -> go.Scatter:
    """A legend entry in a fixed colour for a group whose points take their colours from the data-size scale."""
    return go.Scatter(
        name=name,
        legendgroup=name,
        x=[None],
        y=[None],
        mode="markers",
        marker={"color": "#21918c", "symbol": "circle", "size": 12, "line": _highlight_line(name)},
        meta={"legend_only": True},
    )


UNFITTED_COLOR = "#ff7f0e"  # outline of published points drawn but left out of the trend fits (flagged rows)


def _marker_lines(name: str, rows: pd.DataFrame) -> dict:
    """Each point's outline: its group's, or a thick orange one where the row is not in the trend fit."""
    line = _highlight_line(name)
    if "in_trend" not in rows:
        return line
    unfitted = ~rows["in_trend"].astype(bool).to_numpy()
    return {
        "width": np.where(unfitted, 3.0, line["width"]).tolist(),
        "color": np.where(unfitted, UNFITTED_COLOR, line["color"]).tolist(),
    }


def _unfitted_legend() -> go.Scatter:
    """The legend entry explaining the orange outline of flagged points."""
    return go.Scatter(
        name="flagged: not in trend fit",
        x=[None],
        y=[None],
        mode="markers",
        marker={"color": "#ffffff", "symbol": "circle", "size": 12, "line": {"width": 3, "color": UNFITTED_COLOR}},
        meta={"legend_only": True},
    )


def _highlight_line(name: str) -> dict:
    curated = name.endswith("DataComp/DFN")
    return {"width": 2.5 if curated else 0.8, "color": "#000000" if curated else "#ffffff"}


def _trend_color(trend: Trend) -> str:
    return TREND_COLORS.get(trend.group, "#555555")


def _trend_trace(trend: Trend, axis_range: list[float], fit_statistics: bool = False) -> go.Scatter:
    # In the scale's coordinates the trend is a straight line, so two end points draw it exactly. The fit statistics
    # go in the line's legend entry, next to its colour: the legend's top-left corner lies above y = x, where no model
    # falls, so a longer entry hides no point (an annotation near the line would).
    x = np.array(axis_range)
    name = f"{trend.group} trend: {describe_fit(trend)}" if fit_statistics else f"{trend.group} trend (n={trend.n})"
    return go.Scatter(
        name=name,
        legendgroup=f"trend {trend.group}",
        x=x,
        y=trend.slope * x + trend.intercept,
        mode="lines",
        line={"color": _trend_color(trend), "width": 2},
        meta={"group": trend.group, "slope": trend.slope, "intercept": trend.intercept, "scale": trend.scale},
        hoverinfo="skip",
    )


BAND_SAMPLES = 60  # points along each edge: in axis space the band's edges are hyperbolas, not lines
BAND_OPACITY = 0.18  # fill of a band: the points and the line stay readable through it


def _band_trace(trend: Trend, axis_range: list[float]) -> go.Scatter:
    """The trend's 95% confidence band as one closed shape (upper edge left to right, lower edge back), shaded in the
    trend's colour; it shows and hides with its line's legend entry."""
    x = np.linspace(axis_range[0], axis_range[1], BAND_SAMPLES)
    lower, upper = trend.band_in_axis(x)
    red, green, blue = (int(_trend_color(trend)[i : i + 2], 16) for i in (1, 3, 5))
    return go.Scatter(
        name=f"{trend.group} trend, {BAND_LEVEL:.0%} confidence band",
        legendgroup=f"trend {trend.group}",
        showlegend=False,
        x=np.concatenate([x, x[::-1]]),
        y=np.concatenate([upper, lower[::-1]]),
        mode="lines",
        line={"width": 0},
        fill="toself",
        fillcolor=f"rgba({red},{green},{blue},{BAND_OPACITY})",
        meta={"band": trend.group, "level": BAND_LEVEL},
        hoverinfo="skip",
    )


def overview_scatter(
    points: pd.DataFrame,
    scale: str,
    trends: dict[str, Trend],
    title: str,
    runs: pd.DataFrame | None = None,
    highlight: str | None = None,
    fit_statistics: bool = False,
    found: Sequence[str] = (),
) -> go.Figure:
    """Common (x) vs counter (y) accuracy: y = x, one trend per group, published models by family, and the runs
    evaluated here (stars with 95% intervals, joined to the paper's point for the same model). The run whose id is
    `highlight` is ringed and named; so is each published model (by model id) and run (by run id) in `found`. With
    `fit_statistics`, each trend gets its 95% confidence band (shaded) and its slope, intercept, R² and n in its
    legend entry.

    Marker size grows with backbone parameters, CLIP colour with pre-training data size, curated-data CLIPs are
    outlined. Coordinates are in the scale's space (probit/logit), ticks labelled in accuracy.
    """
    runs = runs if runs is not None else points.iloc[:0]
    values = np.concatenate([points["common"], points["counter"], runs["common"], runs["counter"]])
    axis_range = _axis_range(values, scale) if len(values) else [0, 100]
    fig = go.Figure()
    fig.add_trace(identity_line(axis_range))
    if fit_statistics:  # under the lines and the points
        fig.add_traces([_band_trace(trend, axis_range) for trend in trends.values()])
    for trend in trends.values():
        fig.add_trace(_trend_trace(trend, axis_range, fit_statistics))
    for name, rows in _point_groups(points):
        fig.add_trace(_points_trace(name, rows, scale))
        if rows["family"].iloc[0] == "CLIP":
            fig.add_trace(_legend_swatch(name))
    if "in_trend" in points and (~points["in_trend"]).any():
        fig.add_trace(_unfitted_legend())
    if len(runs):
        if (gaps := gap_trace(runs, points, scale)) is not None:
            fig.add_trace(gaps)
        fig.add_traces(runs_traces(runs, scale))
        for _, run in runs[runs["run_id"] == highlight].iterrows():
            fig.add_trace(highlight_trace(run, scale, axis_range))
    fig.add_traces(_found_traces(points, runs, found, highlight, scale, axis_range))
    fig.update_layout(_scatter_layout(title, scale, axis_range))
    return fig


def _found_traces(
    points: pd.DataFrame,
    runs: pd.DataFrame,
    found: Sequence[str],
    highlight: str | None,
    scale: str,
    axis_range: list[float],
) -> list[go.Scatter]:
    """A ring and a name for each published model (by model id) or run (by run id) found by name, in the order found;
    the highlighted run has its own, and an id not among the points drawn gets none."""
    traces = []
    for key in (key for key in found if key != highlight):
        for rows, column in ((points, "model_id"), (runs, "run_id")):
            if column in rows:
                matches = rows[rows[column] == key]
                traces += [highlight_trace(row, scale, axis_range, "found") for _, row in matches.iterrows()]
    return traces


def _scatter_layout(title: str, scale: str, axis_range: list[float]) -> dict:
    """Both accuracy axes on one range (so y = x is the diagonal), and the colour bar of CLIP data sizes."""
    log_ticks = np.log10(list(DATA_SIZE_TICKS.values()))
    return {
        "title": title,
        "font": FONT,
        "template": TEMPLATE,
        "height": 640,
        "margin": {"l": 70, "r": 20, "t": 60, "b": 60},
        "xaxis": _accuracy_axis("Common-background accuracy (%)", scale, axis_range),
        "yaxis": _accuracy_axis("Counter-background accuracy (%)", scale, axis_range),
        "legend": {"x": 0.01, "y": 0.99, "bgcolor": "rgba(255,255,255,0.85)"},
        "coloraxis": {
            "colorscale": "Viridis",
            "cmin": float(log_ticks[0]),
            "cmax": float(log_ticks[-1]),
            "colorbar": {
                "title": {"text": "CLIP data<br>(pairs)"},
                "tickvals": log_ticks.tolist(),
                "ticktext": list(DATA_SIZE_TICKS),
                "len": 0.6,
            },
        },
    }
