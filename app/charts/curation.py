"""The Curate page's chart: per class, the reference model's accuracy on each background, with its 95% interval and
photo count; the background chosen as common and the one chosen as counter coloured, the others grey."""

from __future__ import annotations

import plotly.graph_objects as go

from app.charts.style import COMMON_COLOR, COUNTER_COLOR, FONT, TEMPLATE

OTHER_COLOR = "#BBBBBB"
ROW_PX = 22  # height of one background's bar
SHORT_BAR = 15  # accuracy (%) under which a bar has no room for its photo count inside


def background_bars(classes: list[dict], title: str) -> go.Figure:
    """Horizontal bars, one per class and background (classes in the report's order, most accurate background first
    within a class); a dropped class is labelled with its reason's first words."""
    fig = go.Figure()
    for role, color in (("common", COMMON_COLOR), ("counter", COUNTER_COLOR), ("other", OTHER_COLOR)):
        rows = [(c, b) for c in classes for b in c["backgrounds"] if _role(c, b["background"]) == role]
        fig.add_bar(
            y=[_row_label(c, b) for c, b in rows],
            x=[b["accuracy"] for _, b in rows],
            orientation="h",
            name={"other": "other backgrounds"}.get(role, f"chosen as {role}"),
            marker_color=color,
            error_x={
                "type": "data",
                "symmetric": False,
                "color": "#444444",
                "array": [b["high"] - b["accuracy"] for _, b in rows],
                "arrayminus": [b["accuracy"] - b["low"] for _, b in rows],
            },  # fmt: skip
            text=[f"{b['photos']} photos" if b["accuracy"] >= SHORT_BAR else "" for _, b in rows],
            textposition="inside",  # a short bar's count: beside it, by the trace below
            insidetextanchor="start",
            customdata=[b["photos"] for _, b in rows],
            hovertemplate="%{y}: %{x:.1f}% (%{customdata} photos)<extra></extra>",
        )
        # Beside a short bar, its photo count; and for the chosen backgrounds a tick in their colour at the bar's end:
        # one at 0 % has no bar to colour.
        fig.add_scatter(
            y=[_row_label(c, b) for c, b in rows],
            x=[b["accuracy"] for _, b in rows],
            mode="text" if role == "other" else "markers+text",
            marker={"symbol": "line-ns", "size": ROW_PX - 4, "line": {"width": 4, "color": color}},
            text=[f"{b['photos']} photos" if b["accuracy"] < SHORT_BAR else "" for _, b in rows],
            textposition="middle right",
            textfont={"size": 11},
            showlegend=False,
            hoverinfo="skip",
        )
    labels = [_row_label(c, b) for c in classes for b in c["backgrounds"]]
    fig.update_layout(
        title=title,
        font=FONT,
        barmode="overlay",
        height=max(320, 120 + ROW_PX * len(labels)),
        # Past 100: a full bar and its interval clear the frame.
        xaxis={"title": "reference model's accuracy (%), 95% bootstrap interval", "range": [0, 103]},
        yaxis={"categoryorder": "array", "categoryarray": labels[::-1], "title": None},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 10, "r": 10, "t": 90, "b": 60},
        template=TEMPLATE,
    )
    return fig


def _role(choice: dict, background: str) -> str:
    if choice["kept"] and background == choice["common"]:
        return "common"
    if choice["kept"] and background == choice["counter"]:
        return "counter"
    return "other"


def _row_label(choice: dict, score: dict) -> str:
    """ "ice bear · snow"; the ImageNet index joins the name ("crane 134") since two ImageNet classes share some."""
    dropped = "" if choice["kept"] else " (dropped)"
    return f"{choice['name']} {choice['class_id']}{dropped} · {score['background']}"
