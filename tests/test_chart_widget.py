"""The dashboard's chart element: plotly.js's basic bundle for scatter and bar, Streamlit's own chart for the rest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.widgets.chart import COMPONENT, drawn_figures


def draw_two_charts():
    import plotly.graph_objects as go

    from app.widgets.chart import chart

    chart(go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="points")), key="scatter")
    chart(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]], name="grid")), key="heatmap", fill=True)


def test_basic_traces_draw_in_the_light_element_and_others_in_streamlits():
    app = AppTest.from_function(draw_two_charts).run()
    assert not app.exception
    (light,) = app.get("bidi_component")
    assert light.proto.component_name == COMPONENT
    (heavy,) = app.get("plotly_chart")
    assert [figure["data"][0]["name"] for figure in drawn_figures(app)] == ["points", "grid"]
    assert "heatmap" in heavy.proto.spec
