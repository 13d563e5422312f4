"""The Theory page's charts: the lab's two learners on the axes of the paper's Figure 2 (common vs counter accuracy,
y = x), and their drop as the training set's background agreement p grows. Pure: DataFrame -> Figure."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from app.charts.style import FONT, TEMPLATE, TREND_COLORS, identity_line

# The lab's learners in the colours and symbols of the families they stand for on the Overview.
LEARNER_STYLES = {
    "CLIP (contrastive)": (TREND_COLORS["CLIP"], "circle"),
    "ERM (supervised)": (TREND_COLORS["ImageNet"], "square"),
}
AXIS_PAD = 0.06  # of the accuracies' span, added on each side of the shared axis range
CHOSEN_SIZE, SWEEP_SIZE = 18, 7  # marker diameters (px): the chosen p, the rest of the sweep


def accuracy_range(sweep: pd.DataFrame) -> list[float]:
    """One range for both accuracy axes (so y = x is the diagonal) holding every point of the sweep, whatever p is
    chosen: moving the p slider moves the large markers, not the axes. Percent, at most a little past 100."""
    values = sweep[["common", "counter"]].to_numpy()
    lo, hi = float(values.min()), float(values.max())
    pad = AXIS_PAD * (hi - lo) or 1.0
    return [max(lo - pad, -2.0), min(hi + pad, 102.0)]


def _style(learner: str) -> tuple[str, str]:
    return LEARNER_STYLES.get(learner, ("#555555", "circle"))


def _layout(title: str, x_title: str, y_title: str) -> dict:
    return {
        "title": title,
        "font": FONT,
        "template": TEMPLATE,
        "height": 560,
        "margin": {"l": 70, "r": 20, "t": 60, "b": 60},
        "xaxis": {"title": x_title, "zeroline": False, "gridcolor": "#e5e5e5"},
        "yaxis": {"title": y_title, "zeroline": False, "gridcolor": "#e5e5e5"},
        "legend": {"x": 0.01, "y": 0.99, "bgcolor": "rgba(255,255,255,0.85)"},
    }


def _sweep_path(learner: str, rows: pd.DataFrame) -> go.Scatter:
    """A learner's points over the whole sweep, joined in order of p: the path it takes away from y = x."""
    color, symbol = _style(learner)
    return go.Scatter(
        name=f"{learner}, p from {rows['p'].min():g} to {rows['p'].max():g}",
        legendgroup=learner,
        x=rows["common"],
        y=rows["counter"],
        mode="lines+markers",
        line={"color": color, "width": 1, "dash": "dot"},
        marker={"color": color, "symbol": symbol, "size": SWEEP_SIZE, "opacity": 0.5},
        customdata=rows[["p", "drop"]].to_numpy(),
        hovertemplate="p = %{customdata[0]:g}<br>common %{x:.1f}, counter %{y:.1f}<br>drop %{customdata[1]:.1f}",
    )


def _chosen_point(learner: str, row: pd.Series) -> go.Scatter:
    color, symbol = _style(learner)
    return go.Scatter(
        name=f"{learner} at p = {row['p']:g}: drop {row['drop']:.1f}",
        legendgroup=learner,
        x=[row["common"]],
        y=[row["counter"]],
        mode="markers",
        marker={"color": color, "symbol": symbol, "size": CHOSEN_SIZE, "line": {"width": 1.5, "color": "#000000"}},
        meta={"chosen_p": float(row["p"])},
        hovertemplate=f"{learner}<br>common %{{x:.1f}}, counter %{{y:.1f}}<extra></extra>",
    )


def theory_scatter(sweep: pd.DataFrame, p: float, title: str) -> go.Figure:
    """Common (x) vs counter (y) accuracy of each learner at the chosen `p` (large markers), with its points at every
    other p of the sweep (small, joined), and y = x: a learner that ignores the background sits on the line."""
    axis_range = accuracy_range(sweep)
    fig = go.Figure()
    fig.add_trace(identity_line(axis_range))
    for learner, rows in sweep.groupby("learner", sort=False):
        fig.add_trace(_sweep_path(learner, rows.sort_values("p")))
        chosen = rows[rows["p"] == p]
        if len(chosen):
            fig.add_trace(_chosen_point(learner, chosen.iloc[0]))
    layout = _layout(title, "Common-background accuracy (%)", "Counter-background accuracy (%)")
    layout["xaxis"]["range"] = layout["yaxis"]["range"] = axis_range
    fig.update_layout(layout)
    return fig


def theory_drop_curve(sweep: pd.DataFrame, p: float, title: str) -> go.Figure:
    """Each learner's drop (common - counter, points) against p, one curve per learner; the chosen p is marked and
    a drop of zero drawn, where a learner that ignores the background would stay."""
    fig = go.Figure()
    for learner, rows in sweep.groupby("learner", sort=False):
        rows = rows.sort_values("p")
        color, symbol = _style(learner)
        fig.add_trace(
            go.Scatter(
                name=learner,
                x=rows["p"],
                y=rows["drop"],
                mode="lines+markers",
                line={"color": color, "width": 2.5},
                marker={"color": color, "symbol": symbol, "size": 9},
                hovertemplate=f"{learner}<br>p = %{{x:g}}: drop %{{y:.1f}}<extra></extra>",
            )
        )
    fig.add_hline(y=0, line={"color": "#7f7f7f", "dash": "dash", "width": 1.5})
    fig.add_vline(x=p, line={"color": "#000000", "dash": "dot", "width": 1}, annotation_text=f"p = {p:g}")
    fig.update_layout(_layout(title, "p: training images on the object's usual background", "Drop (points)"))
    return fig
