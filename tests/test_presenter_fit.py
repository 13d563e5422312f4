"""The presenter view fits the screen: each page's main chart, axis titles included, lies inside a 1280x720 and a
1920x1080 viewport without scrolling, in projector-sized type, with high-contrast captions."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from app.charts import overview_scatter, per_class_dumbbell, score_bars
from app.charts.style import PROJECTOR_TEXT_PX, for_projector
from tests.conftest import ARTIFACTS

SCREENS = [(1280, 720), (1920, 1080)]
CHART_PAGES = ["", "scaling", "classes"]  # URL paths of the pages with charts ("" is the Overview)
MIN_TEXT_PX = 18  # the smallest chart text allowed at 1920x1080

# The page's first chart once Plotly has drawn it at the height the page gives it (it first draws at a default height,
# then again when the presenter style sheet's height reaches it), with the rectangles of its parts.
FIRST_CHART = """() => {
    const box = document.querySelector('.ca-chart');
    const plot = box && box.querySelector('.js-plotly-plot .main-svg');
    const titles = box ? [...box.querySelectorAll('.g-xtitle text, .g-ytitle text')] : [];
    const ticks = box ? [...box.querySelectorAll('.xtick text, .ytick text')] : [];
    if (!plot || !titles.length || !ticks.length) return null;
    if (Math.abs(plot.getBoundingClientRect().height - box.getBoundingClientRect().height) > 2) return null;
    const rect = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
    return {chart: rect(box), plot: rect(plot), titles: titles.map(rect), ticks: ticks.map(rect),
            scrolled: document.querySelector('section.stMain')?.scrollTop ?? window.scrollY};
}"""
# Every drawn text of every chart on the page (ticks, legend, annotations, titles, colour bar), with its font size.
CHART_TEXT = """() => [...document.querySelectorAll('.js-plotly-plot svg text')]
    .filter(t => t.textContent.trim() && t.getBoundingClientRect().width > 0)
    .map(t => [t.textContent.trim(), parseFloat(getComputedStyle(t).fontSize)])"""


def open_presenter_view(browser, url: str, path: str, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{url}/{path}?present=1")
    parts = page.wait_for_function(FIRST_CHART, timeout=120_000).json_value()
    page.wait_for_timeout(300)  # a last relayout (fonts, legend) must not move it: read again
    return context, page, page.evaluate(FIRST_CHART) or parts


def inside(rect: list[float], width: int, height: int) -> bool:
    left, top, right, bottom = rect
    return left >= 0 and top >= 0 and right <= width + 0.5 and bottom <= height + 0.5


@pytest.mark.browser
@pytest.mark.parametrize("width,height", SCREENS, ids=[f"{w}x{h}" for w, h in SCREENS])
@pytest.mark.parametrize("path", CHART_PAGES, ids=["overview", "scaling", "classes"])
def test_the_main_chart_fits_the_screen_with_its_axis_titles(server_url, browser, path, width, height):
    context, page, parts = open_presenter_view(browser, server_url, path, width, height)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"presenter_{path or 'overview'}_{width}x{height}.png")
    context.close()
    assert parts["scrolled"] == 0
    for name, rect in [("chart", parts["chart"]), ("plot", parts["plot"])] + [
        (part, rect) for part in ("titles", "ticks") for rect in parts[part]
    ]:
        assert inside(rect, width, height), (name, rect, (width, height))
    chart_height = parts["chart"][3] - parts["chart"][1]
    assert chart_height >= 0.75 * height  # the chart takes the screen, not a corner of it


@pytest.mark.browser
@pytest.mark.parametrize("path", CHART_PAGES, ids=["overview", "scaling", "classes"])
def test_chart_text_is_projector_sized_at_1080p(server_url, browser, path):
    context, page, _ = open_presenter_view(browser, server_url, path, 1920, 1080)
    texts = page.evaluate(CHART_TEXT)
    context.close()
    assert len(texts) > 10
    small = [(text, size) for text, size in texts if size < MIN_TEXT_PX]
    assert not small, small


@pytest.mark.browser
def test_captions_are_black_in_the_presenter_view(server_url, browser):
    context, page, _ = open_presenter_view(browser, server_url, "", 1920, 1080)
    colours = page.eval_on_selector_all(
        '[data-testid="stCaptionContainer"]', "cs => cs.map(c => getComputedStyle(c.querySelector('p') || c).color)"
    )
    context.close()
    assert colours and set(colours) == {"rgb(0, 0, 0)"}


# ---- the figure for a projector, without a browser ----------------------------------------------------------------


def font_sizes(node, path: str = "") -> list[tuple[str, float]]:
    """Every explicit font size in a figure's JSON, with where it is."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("font") and isinstance(value, dict) and "size" in value:
                sizes = value["size"] if isinstance(value["size"], list) else [value["size"]]
                found += [(f"{path}.{key}", size) for size in sizes]
            found += font_sizes(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += font_sizes(item, f"{path}[{i}]")
    return found


def test_for_projector_raises_every_small_font_and_leaves_the_height_to_the_page(paper_copy):
    from app import queries

    sources = queries.Sources.current()
    rows = queries.per_class_scores(sources, queries.per_class_models(sources)["model_id"].iloc[0], "1vs1000")
    figures = [per_class_dumbbell(rows, "per class"), score_bars(rows.assign(family="CLIP"), "label", "bars", "flag")]
    points = queries.model_scores(sources, "1vs1000", "default")
    figures.append(overview_scatter(points, "linear", {}, "overview"))
    for figure in figures:
        assert any(size < PROJECTOR_TEXT_PX for _, size in font_sizes(figure.to_plotly_json()))  # the input has some
        projected = for_projector(figure).to_plotly_json()
        assert all(size >= PROJECTOR_TEXT_PX for _, size in font_sizes(projected)), font_sizes(projected)
        assert projected["layout"]["hoverlabel"]["font"]["size"] >= PROJECTOR_TEXT_PX
        assert "height" not in projected["layout"] and projected["layout"]["autosize"] is True


def test_for_projector_keeps_the_figure_it_was_given():
    figure = go.Figure(go.Scatter(x=[1], y=[1], text=["a"], mode="text", textfont={"size": 9}), {"height": 300})
    for_projector(figure)
    assert figure.data[0].textfont.size == 9 and figure.layout.height == 300
