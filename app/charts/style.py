"""The charts' shared look: an Okabe-Ito palette, the font, axis ticks, how a drop is written, and the same chart in
projector-sized type."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from app.trends import HIGH_QUALITY_GROUP

# Okabe-Ito: a palette that stays distinguishable for colour-blind viewers and on projectors.
COMMON_COLOR = "#0072B2"  # blue
COUNTER_COLOR = "#E69F00"  # orange
# ImageNet models' bars next to CLIP's (Scaling, CLIP vs ImageNet): other hues, hatched, so the families stay apart.
IMAGENET_COMMON_COLOR = "#56B4E9"  # sky blue
IMAGENET_COUNTER_COLOR = "#D55E00"  # vermillion, the ImageNet family's colour elsewhere
TREND_COLORS = {"CLIP": "#0072B2", HIGH_QUALITY_GROUP: "#009E73", "ImageNet": "#D55E00", "LVLM": "#CC79A7"}
FAMILY_SYMBOLS = {"CLIP": "circle", "ImageNet": "square", "LVLM": "diamond"}
FAMILY_COLORS = {"ImageNet": "#D55E00", "LVLM": "#CC79A7"}  # CLIP points are shaded by data size instead
FONT = {"family": "Inter, Helvetica, Arial, sans-serif", "size": 15}
# plotly_white, cut to the trace types the dashboard's chart element draws (app/widgets/chart.py's BASIC_TRACES): the
# same look, built once. The full template carries defaults for every trace type; assigning it copied and validated
# them into each figure and wrote them into each figure's JSON (20 and 30 ms per chart on a 2-CPU machine, before the
# page's message left).
DRAWN_TRACES = ("scatter", "bar", "pie")
TEMPLATE = go.layout.Template(
    layout=pio.templates["plotly_white"].layout,
    data={trace: pio.templates["plotly_white"].data[trace] for trace in DRAWN_TRACES},
)

# CLIP marker colour: log10 of pre-training pairs (millions), on a fixed range so colours mean the same in every view.
DATA_SIZE_TICKS = {"1M": 1, "10M": 10, "100M": 100, "400M": 400, "1B": 1000, "2B": 2000, "5B": 5000}
ACCURACY_TICKS = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99]  # percent, for probit/logit axes


def accuracy_change(drop: float, decimals: int) -> str:
    """A drop written as the change it is: 23.3 -> "−23.3" (typographic minus), -1.2 -> "+1.2", 0.04 -> "0.0"."""
    text = f"{-drop:+.{decimals}f}"
    if float(text) == 0:  # a change that rounds to nothing has no sign ("−0.0" would read as a drop)
        text = text[1:]
    return text.replace("-", "−")


# The presenter view's type (px). Plotly draws text at these sizes whatever the figure's size, so they hold on any
# screen: 20 px is read from the back of a meeting room on a 1080p projector; titles larger.
PROJECTOR_TEXT_PX = 20
PROJECTOR_TITLE_PX = 28
PROJECTOR_TEXT_COLOR = "#000000"


def _raise_font_sizes(node: Any, minimum: int) -> None:
    """Every `...font` dict under `node` (a figure's JSON: layout font, tick fonts, legend, annotations, trace text,
    hover labels, colour bars) gets at least `minimum` px; a per-point list of sizes is raised point by point."""
    if isinstance(node, list):
        for item in node:
            _raise_font_sizes(item, minimum)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key.endswith("font") and isinstance(value, dict):
            size = value.get("size")
            if isinstance(size, list):
                value["size"] = [max(s, minimum) if isinstance(s, (int, float)) else minimum for s in size]
            else:
                value["size"] = max(size, minimum) if isinstance(size, (int, float)) else minimum
        _raise_font_sizes(value, minimum)


def for_projector(fig: go.Figure) -> go.Figure:
    """A copy of `fig` for a projector: no text under `PROJECTOR_TEXT_PX` (ticks, legend, annotations, the text traces,
    hover labels and colour bars included), black text, larger titles. The size is left to the page (autosize)."""
    spec = fig.to_plotly_json()
    layout = spec.setdefault("layout", {})
    layout["font"] = {**layout.get("font", {}), "size": PROJECTOR_TEXT_PX, "color": PROJECTOR_TEXT_COLOR}
    layout.setdefault("hoverlabel", {}).setdefault("font", {})  # 13 px by default: hover text does not inherit
    _raise_font_sizes(spec, PROJECTOR_TEXT_PX)
    title = layout.get("title")
    if isinstance(title, dict):
        title["font"] = {**title.get("font", {}), "size": PROJECTOR_TITLE_PX}
    elif title:
        layout["title"] = {"text": title, "font": {"size": PROJECTOR_TITLE_PX}}
    layout.pop("height", None)  # the presenter view gives the chart the screen's height
    layout["autosize"] = True
    return go.Figure(spec)


def identity_line(axis_range: list[float]) -> go.Scatter:
    """The y = x line across a common-vs-counter chart: a model on it loses nothing to the counter background."""
    return go.Scatter(
        name="y = x (no drop)",
        x=axis_range,
        y=axis_range,
        mode="lines",
        line={"color": "#7f7f7f", "dash": "dash", "width": 1.5},
        hoverinfo="skip",
    )
