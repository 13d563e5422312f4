"""Slide exports through kaleido and the system Chromium: real files, checked as files."""

import io
import zipfile

import pandas as pd
import plotly.graph_objects as go
import pytest
from PIL import Image

from app import export

FIGURE = go.Figure(go.Scatter(x=[60, 80], y=[40, 70], mode="markers"), layout={"title": {"text": "Snow to grass"}})
CAPTION = export.provenance("published numbers", "1 vs 1000", 2)


def test_png_is_a_3x_slide():
    png = export.render(FIGURE, "png", CAPTION)
    assert Image.open(io.BytesIO(png)).size == (3 * export.SLIDE_WIDTH, 3 * export.SLIDE_HEIGHT)


def test_svg_carries_the_title_and_the_caption_only_when_asked():
    with_caption = export.render(FIGURE, "svg", CAPTION).decode()
    without = export.render(FIGURE, "svg", None).decode()
    assert (
        with_caption.startswith("<svg") and "Snow to grass" in with_caption and "CounterAnimal Explorer" in with_caption
    )
    assert "CounterAnimal Explorer" not in without


def test_pdf_is_a_slide_page_with_the_title_and_caption():
    from pypdf import PdfReader

    (page,) = PdfReader(io.BytesIO(export.render(FIGURE, "pdf", CAPTION))).pages
    assert [float(v) for v in page.mediabox[2:]] == [export.SLIDE_WIDTH * 0.75, export.SLIDE_HEIGHT * 0.75]  # pt
    text = page.extract_text()
    assert "Snow to grass" in text and "CounterAnimal Explorer" in text


def test_caption_names_the_preprint_version_and_its_tables_not_the_neurips_version():
    assert "arXiv 2403.11497v1, Tables 3-16" in CAPTION and "NeurIPS" not in CAPTION
    shown = export.provenance("published numbers", "1 vs 20", 2, tables=["Table 13", "Table 3", "Table 13"])
    assert shown.endswith("data: Wang et al., arXiv 2403.11497v1, Tables 3, 13")
    assert export.paper_source(["Table 9"]) == "Wang et al., arXiv 2403.11497v1, Table 9"


def test_html_works_without_a_server():
    html = export.render(FIGURE, "html").decode()
    assert "Snow to grass" in html and "plotly" in html.lower() and "<script" in html
    assert 'src="https://cdn.plot.ly' not in html and len(html) > 1_000_000  # Plotly itself is embedded


def test_page_zip_holds_every_chart_in_every_format_and_the_table():
    table = pd.DataFrame({"model": ["a", "b"], "drop": [20.0, 9.5]})
    archive = zipfile.ZipFile(io.BytesIO(export.page_zip({"overview": FIGURE}, table, CAPTION)))
    assert sorted(archive.namelist()) == sorted([f"overview.{f}" for f in export.FORMATS] + ["table.csv"])
    assert pd.read_csv(archive.open("table.csv")).equals(table)


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown format"):
        export.render(FIGURE, "bmp")
