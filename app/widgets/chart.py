"""Plotly charts drawn with plotly.js's basic bundle (scatter and bar: every chart of the dashboard).

Streamlit's `st.plotly_chart` loads the full plotly.js (a 4.7 MB script) in every new tab; evaluating it took 2-3 s on
a 2-CPU machine before the first chart drew (bench/browser_latency.py). This element loads the basic bundle (1.2 MB,
same plotly.js version as the Python package's) once per tab from the dashboard's static files (`counteranimal serve`
turns Streamlit's static serving on; the file is `app/static/`). A figure with another trace type (a heatmap, say)
goes to `st.plotly_chart`, so every figure draws.
"""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

BASIC_TRACES = frozenset({"scatter", "bar", "pie"})  # what plotly-basic draws
COMPONENT = "counteranimal_chart"

_draw = st.components.v2.component(
    COMPONENT, js=(Path(__file__).with_name("chart.js")).read_text(), isolate_styles=False
)  # not isolated: plotly.js styles its hover labels and mode bar from the document's head


def chart(fig: go.Figure, key: str | None = None, fill: bool = False) -> None:
    """Draw `fig` across the page's width.

    Args:
        key: the chart's place on the page (see `presenter.chart`).
        fill: take the height the presenter view's style sheet gives charts (the screen's), not the figure's.
    """
    if any(trace.type not in BASIC_TRACES for trace in fig.data):
        st.plotly_chart(fig, theme=None, key=key, **({"height": "stretch"} if fill else {}))
        return
    _draw(data={"figure": pio.to_json(fig, validate=False), "fill": fill}, key=key)


def drawn_figures(app) -> list[dict]:
    """The figures a script run drew, as Plotly JSON, from a `streamlit.testing.v1.AppTest` after `run()` (tests and
    bench/app_latency.py read charts through this, whichever element drew them)."""
    figures = []
    for element in app.get("bidi_component"):
        if element.proto.component_name == COMPONENT:
            figures.append(json.loads(json.loads(element.proto.json)["figure"]))
    return figures + [json.loads(element.proto.spec) for element in app.get("plotly_chart")]
