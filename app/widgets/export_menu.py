"""The pages' "Export" popover: their charts and table as files."""

from __future__ import annotations

from functools import partial

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import export

FORMATS_PER_ROW = 2  # format buttons side by side in the popover


def export_menu(name: str, figures: dict[str, go.Figure], table: pd.DataFrame | None, caption: str) -> None:
    """An "Export" popover: each chart as PNG (3x), SVG, PDF or standalone HTML, and the whole page as a zip (every
    chart in every format and the table as CSV). Files are rendered only when their button is clicked, and the menu's
    buttons only while it is open: a closed menu draws nothing (its dozen to forty elements made a fresh load of a
    chart page 0.1 s slower in the browser, bench/browser_latency.py); opening it reruns the page."""
    with st.popover("Export", icon=":material/download:", key=f"{name}_export_menu", on_change="rerun") as menu:
        if menu.open:
            _menu(name, figures, table, caption)


def _menu(name: str, figures: dict[str, go.Figure], table: pd.DataFrame | None, caption: str) -> None:
    st.session_state.setdefault("export_caption", True)  # a default, not a value: keep_choices re-assigns it
    text = caption if st.checkbox("Provenance caption", key="export_caption") else None
    for chart, fig in figures.items():
        st.markdown(f"**{fig.layout.title.text or chart}**")
        formats = list(export.FORMATS)
        for start in range(0, len(formats), FORMATS_PER_ROW):  # a popover is narrow: wider columns keep "HTML" whole
            row = formats[start : start + FORMATS_PER_ROW]
            for column, fmt in zip(st.columns(FORMATS_PER_ROW), row, strict=False):
                column.download_button(
                    fmt.upper(),
                    data=partial(export.render, fig, fmt, text),
                    file_name=f"{chart}.{fmt}",
                    mime=export.FORMATS[fmt],
                    on_click="ignore",
                    width="stretch",
                )
    st.download_button(
        "Export this page (zip)",
        data=partial(export.page_zip, figures, table, text),
        file_name=f"counteranimal-{name}.zip",
        mime="application/zip",
        on_click="ignore",
        icon=":material/folder_zip:",
    )
