"""Slide-ready exports of the dashboard's charts: PNG (3x), SVG and PDF rendered by kaleido through the system
Chromium, a standalone interactive HTML file, and a zip of a whole page. Pure functions; no Streamlit."""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from engine import __version__

SLIDE_WIDTH, SLIDE_HEIGHT = 1600, 1000  # px at scale 1: a 16:10 slide
PNG_SCALE = 3  # PNG pixels per layout pixel: sharp on a projector and in print
SLIDE_FONT = {"family": "Inter, Helvetica, Arial, sans-serif", "size": 24}
FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "html": "text/html"}


class ExportError(Exception):
    """A static image cannot be rendered (usually: no Chromium for kaleido); the message says what to do."""


# The published numbers were read from the tables of the first preprint, not from the NeurIPS version.
PAPER_VERSION = "Wang et al., arXiv 2403.11497v1"
SCORE_TABLES = "Tables 3-16"  # every table the scores of results/paper/ were read from


def paper_source(tables: Iterable[str] = ()) -> str:
    """The paper version and the tables a figure's numbers come from, e.g. "…2403.11497v1, Tables 3, 13".

    Args:
        tables: the `source` values of the rows shown ("Table 3"); empty means every table with scores.
    """
    numbers = sorted({t.removeprefix("Table").strip() for t in tables if t}, key=lambda n: (len(n), n))  # 3 before 13
    if not numbers:
        return f"{PAPER_VERSION}, {SCORE_TABLES}"
    return f"{PAPER_VERSION}, {'Table' if len(numbers) == 1 else 'Tables'} {', '.join(numbers)}"


CAPTION_BREAK = "<br>"  # between the lines of a caption (Plotly annotation text)
CAPTION_LINE_PX = 22  # height of one caption line on a slide (16 px type)


def provenance(what: str, setup: str, models: int, tables: Iterable[str] = (), details: Sequence[str] = ()) -> str:
    """The caption that says where a figure comes from; `tables` as for `paper_source`; `details`: further lines
    under it (e.g. a chart's fit statistics)."""
    line = (
        f"CounterAnimal Explorer {__version__} · {what} · {setup} · {models} models · {date.today().isoformat()} · "
        f"data: {paper_source(tables)}"
    )
    return CAPTION_BREAK.join([line, *details])


def for_slides(fig: go.Figure, caption: str | None = None) -> go.Figure:
    """A copy with slide-sized fonts and, if given, the provenance caption under the plot (the bottom margin grows
    with its lines)."""
    slide = go.Figure(fig)
    slide.update_layout(font=SLIDE_FONT, title_font_size=30, width=SLIDE_WIDTH, height=SLIDE_HEIGHT)
    if caption:
        extra_lines = caption.count(CAPTION_BREAK)
        margin_bottom = max(slide.layout.margin.b or 0, 130) + CAPTION_LINE_PX * extra_lines
        slide.update_layout(margin={"b": margin_bottom})
        slide.add_annotation(
            text=caption, xref="paper", yref="paper", x=0, y=0, yshift=-margin_bottom + 10, showarrow=False,
            xanchor="left", yanchor="bottom", align="left", font={"size": 16, "color": "#555555"},
        )  # fmt: skip
    return slide


# A page's zip renders many images with one Chromium; one zip at a time per server process (viewers are threads).
_BROWSER = threading.Lock()


@contextlib.contextmanager
def _browser() -> Iterator[None]:
    import kaleido

    with _BROWSER, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The kopts argument is ignored")  # plotly's, harmless here
        kaleido.start_sync_server(silence_warnings=True)
        try:
            yield
        finally:
            kaleido.stop_sync_server(silence_warnings=True)


def _render(slide: go.Figure, fmt: str) -> bytes:
    if fmt == "html":
        return pio.to_html(slide, include_plotlyjs=True, full_html=True).encode()
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    try:
        return pio.to_image(slide, format=fmt, scale=PNG_SCALE if fmt == "png" else 1)
    except Exception as error:  # kaleido reports a missing browser in several ways
        raise ExportError(
            f"Cannot render {fmt.upper()} ({type(error).__name__}: {str(error).strip()[:200]}). Static "
            "exports need Chromium: `sudo apt-get install -y chromium`. The HTML export works without it."
        ) from error


def render(fig: go.Figure, fmt: str, caption: str | None = None) -> bytes:
    """The figure as slide-ready bytes: png (3x), svg, pdf, or html (interactive, Plotly and data embedded)."""
    return _render(for_slides(fig, caption), fmt)  # one image: a browser of its own starts faster than the server


def page_zip(figures: dict[str, go.Figure], table: pd.DataFrame | None, caption: str | None) -> bytes:
    """Every figure of a page in every format, and its table as CSV, in one zip."""
    buffer = io.BytesIO()
    with _browser(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, fig in figures.items():
            slide = for_slides(fig, caption)
            for fmt in FORMATS:
                archive.writestr(f"{name}.{fmt}", _render(slide, fmt))
        if table is not None:
            archive.writestr("table.csv", table.to_csv(index=False))
    return buffer.getvalue()
