"""Comparisons drawn per model or per class: common and counter bars (Scaling), per-class dumbbells (Classes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.charts.style import COMMON_COLOR, COUNTER_COLOR, FONT, accuracy_change


def score_bars(rows: pd.DataFrame, category: str, title: str) -> go.Figure:
    """Common and counter accuracy side by side per `category` value (in row order), the drop written above."""
    fig = go.Figure(
        [
            go.Bar(name="common", x=rows[category], y=rows["common"], marker_color=COMMON_COLOR),
            go.Bar(name="counter", x=rows[category], y=rows["counter"], marker_color=COUNTER_COLOR),
        ]
    )
    # One annotation list, set once: add_annotation per row re-validates the whole list each time (quadratic).
    drops = [
        {"x": x, "y": max(common, counter), "text": accuracy_change(drop, 2), "showarrow": False, "yshift": 14}
        for x, common, counter, drop in zip(rows[category], rows["common"], rows["counter"], rows["drop"], strict=True)
    ]
    fig.update_layout(
        title=title,
        font=FONT,
        template="plotly_white",
        barmode="group",
        height=460,
        annotations=[{**a, "font": {"size": 13, "color": "#333333"}} for a in drops],
        yaxis={"title": "Accuracy (%)", "range": [0, 105]},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 60, "r": 20, "t": 80, "b": 80},
    )
    return fig


def per_class_dumbbell(rows: pd.DataFrame, title: str) -> go.Figure:
    """Per-class common and counter accuracy joined by a line, rows in the given order (worst drop on top), the drop
    written at the right."""
    labels = rows["label"].tolist()
    segments_x = [v for c, k in zip(rows["common"], rows["counter"], strict=True) for v in (k, c, None)]
    segments_y = [v for label in labels for v in (label, label, None)]
    fig = go.Figure(
        [
            go.Scatter(
                x=segments_x, y=segments_y, mode="lines", line={"color": "#bbbbbb", "width": 3}, showlegend=False
            ),
            *(
                go.Scatter(
                    name=split,
                    x=rows[split],
                    y=labels,
                    mode="markers",
                    marker={"color": colour, "size": 10},
                    customdata=rows[f"n_{split}"],
                    hovertemplate=f"%{{y}}<br>{split}: %{{x:.1f}}% of %{{customdata}} photos<extra></extra>",
                )
                for split, colour in (("common", COMMON_COLOR), ("counter", COUNTER_COLOR))
            ),
            go.Scatter(
                name="drop",
                x=np.full(len(rows), 101.0),
                y=labels,
                mode="text",
                text=[
                    accuracy_change(d, 1) + (" †" if flag else "")
                    for d, flag in zip(rows["drop"], rows.get("flag", pd.Series("", index=rows.index)), strict=True)
                ],
                textposition="middle right",
                textfont={"size": 12, "color": "#333333"},
                showlegend=False,
                hoverinfo="skip",
            ),
        ]
    )
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "y": 1, "yanchor": "top", "pad": {"t": 12}},
        font=FONT,
        template="plotly_white",
        height=150 + 22 * len(rows),
        xaxis={"title": "accuracy (%)", "range": [0, 118], "tickvals": [0, 25, 50, 75, 100]},
        yaxis={"autorange": "reversed", "type": "category", "tickfont": {"size": 12}},
        legend={"orientation": "h", "y": 1.0, "x": 0, "yanchor": "bottom"},
        margin={"l": 10, "r": 10, "t": 90, "b": 50},
    )
    return fig
