"""Comparisons drawn per model or per class: common and counter bars (Scaling), per-class dumbbells (Classes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.charts.style import (
    COMMON_COLOR,
    COUNTER_COLOR,
    FONT,
    IMAGENET_COMMON_COLOR,
    IMAGENET_COUNTER_COLOR,
    TEMPLATE,
    accuracy_change,
)

# Backbone kinds by name prefix, in the order the Scaling page groups them (anything else goes last as "other").
BACKBONE_KINDS = {"RN": "ResNet", "ConvNext": "ConvNeXt", "ViT": "ViT"}
# Bar colours and hatching per family; a chart with one family keeps the plain "common"/"counter" legend.
FAMILY_BARS = {
    "CLIP": ((COMMON_COLOR, COUNTER_COLOR), ""),
    "ImageNet": ((IMAGENET_COMMON_COLOR, IMAGENET_COUNTER_COLOR), "/"),
}


def backbone_kind(backbone: str) -> str:
    """The architecture kind a printed backbone name belongs to: "RN50×4" -> "ResNet", "ViT/B/32" -> "ViT"."""
    return next((kind for prefix, kind in BACKBONE_KINDS.items() if backbone.startswith(prefix)), "other")


def _bars(rows: pd.DataFrame, category: str) -> list[go.Bar]:
    """Common and counter bars, one pair of traces per family when the rows mix CLIP and ImageNet models."""
    families = rows["family"].unique().tolist() if "family" in rows else []
    if len(families) < 2 or not set(families) <= set(FAMILY_BARS):
        return [
            go.Bar(name="common", x=rows[category], y=rows["common"], marker_color=COMMON_COLOR),
            go.Bar(name="counter", x=rows[category], y=rows["counter"], marker_color=COUNTER_COLOR),
        ]
    bars = []
    for family in FAMILY_BARS:
        part = rows[rows["family"] == family]
        colours, hatch = FAMILY_BARS[family]
        for split, colour in zip(("common", "counter"), colours, strict=True):
            # offsetgroup: a family's common bar takes the same slot as the other family's, so no slot stays empty.
            marker = {"color": colour, "pattern": {"shape": hatch, "fgcolor": "white"}}
            bars.append(
                go.Bar(name=f"{family} {split}", x=part[category], y=part[split], offsetgroup=split, marker=marker)
            )
    return bars


def _group_marks(groups: pd.Series) -> tuple[list[dict], list[dict]]:
    """A dashed line between consecutive runs of equal `groups` values and each run's name above it (positions are
    the bars' serial numbers on the category axis)."""
    values = groups.tolist()
    starts = [i for i, value in enumerate(values) if i == 0 or value != values[i - 1]]
    ends = [*starts[1:], len(values)]
    lines = [
        {"type": "line", "xref": "x", "yref": "paper", "x0": s - 0.5, "x1": s - 0.5, "y0": 0, "y1": 1,
         "line": {"color": "#999999", "width": 1, "dash": "dash"}}
        for s in starts[1:]
    ]  # fmt: skip
    labels = [
        {"x": (s + e - 1) / 2, "y": 114, "text": f"<b>{values[s]}</b>", "showarrow": False, "yanchor": "top",
         "font": {"size": 13, "color": "#555555"}}
        for s, e in zip(starts, ends, strict=True)
    ]  # fmt: skip
    return lines, labels


def score_bars(rows: pd.DataFrame, category: str, title: str, group: str | None = None) -> go.Figure:
    """Common and counter accuracy side by side per `category` value (in row order), the drop written above; with
    `group`, a column whose consecutive equal values are marked off and named (e.g. backbone kinds)."""
    fig = go.Figure(_bars(rows, category))
    # One annotation list, set once: add_annotation per row re-validates the whole list each time (quadratic).
    drops = [
        {"x": x, "y": max(common, counter), "text": accuracy_change(drop, 2), "showarrow": False, "yshift": 14,
         "font": {"size": 13, "color": "#333333"}}
        for x, common, counter, drop in zip(rows[category], rows["common"], rows["counter"], rows["drop"], strict=True)
    ]  # fmt: skip
    lines, labels = _group_marks(rows[group]) if group else ([], [])
    fig.update_layout(
        title=title,
        font=FONT,
        template=TEMPLATE,
        barmode="group",
        height=460,
        annotations=drops + labels,
        shapes=lines,
        # The rows' order, whatever order the family traces list their bars in.
        xaxis={"categoryorder": "array", "categoryarray": rows[category].tolist()},
        yaxis={"title": "Accuracy (%)", "range": [0, 115 if group else 105]},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 60, "r": 20, "t": 80, "b": 80},
    )
    return fig


def per_class_dumbbell(rows: pd.DataFrame, title: str, subtitle: str = "") -> go.Figure:
    """Per-class common and counter accuracy joined by a line, rows in the given order (worst drop on top), the drop
    written in a column of its own at the right (its own x axis, so no label meets a marker near 100 %). `subtitle`: a
    second, smaller line (a run's id), so that the title fits a half-width chart."""
    fig = go.Figure([_dumbbell_bars(rows), *_dumbbell_ends(rows), _drop_column(rows)])
    fig.update_layout(
        title={
            "text": title,
            "subtitle": {"text": subtitle, "font": {"size": 12}},  # raised with the rest in the presenter view
            "x": 0.01,
            "xanchor": "left",
            "y": 1,
            "yanchor": "top",
            "pad": {"t": 12},
        },
        font=FONT,
        template=TEMPLATE,
        height=150 + 22 * len(rows),
        # Accuracy on the left 80 % (a little past 0 and 100 so edge markers show whole), the drop column right of it.
        xaxis={"title": "accuracy (%)", "range": [-3, 103], "tickvals": [0, 25, 50, 75, 100], "domain": [0, 0.8]},
        xaxis2={"range": [0, 1], "domain": [0.82, 1], "visible": False, "anchor": "y"},
        yaxis={"autorange": "reversed", "type": "category", "tickfont": {"size": 12}},
        legend={"orientation": "h", "y": 1.0, "x": 0, "yanchor": "bottom"},
        margin={"l": 10, "r": 20, "t": 90, "b": 50},
    )
    return fig


def _dumbbell_bars(rows: pd.DataFrame) -> go.Scatter:
    """One grey segment per class from its counter to its common accuracy (None breaks the line between classes)."""
    x = [v for c, k in zip(rows["common"], rows["counter"], strict=True) for v in (k, c, None)]
    y = [v for label in rows["label"] for v in (label, label, None)]
    return go.Scatter(x=x, y=y, mode="lines", line={"color": "#bbbbbb", "width": 3}, showlegend=False)


def _dumbbell_ends(rows: pd.DataFrame) -> list[go.Scatter]:
    """The common and the counter accuracy of each class, as markers in the backgrounds' colours."""
    return [
        go.Scatter(
            name=split,
            x=rows[split],
            y=rows["label"],
            mode="markers",
            marker={"color": colour, "size": 10},
            customdata=rows[f"n_{split}"],
            hovertemplate=f"%{{y}}<br>{split}: %{{x:.1f}}% of %{{customdata}} photos<extra></extra>",
        )
        for split, colour in (("common", COMMON_COLOR), ("counter", COUNTER_COLOR))
    ]


def _drop_column(rows: pd.DataFrame) -> go.Scatter:
    """Each class's drop written at the right on an axis of its own; † marks a flagged class."""
    flags = rows.get("flag", pd.Series("", index=rows.index))
    return go.Scatter(
        name="drop",
        x=np.zeros(len(rows)),
        y=rows["label"],
        xaxis="x2",
        mode="text",
        text=[accuracy_change(d, 1) + (" †" if flag else "") for d, flag in zip(rows["drop"], flags, strict=True)],
        textposition="middle right",
        textfont={"size": 12, "color": "#333333"},
        cliponaxis=False,  # the text runs past x = 0 of its axis by design
        showlegend=False,
        hoverinfo="skip",
    )
