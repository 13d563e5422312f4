"""The whole dashboard in headless Chromium: served by `counteranimal serve`, driven like a user would."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from app import queries
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

POINTS = ".js-plotly-plot .scatterlayer .trace .points path"


def published_models(setup: str) -> int:
    return len(queries.model_scores(queries.Sources.current(), setup, "default"))


def wait_until_idle(page) -> None:
    """Until no script run is going on (Streamlit's status widget is shown only during one): a click that lands during
    a rerun can be lost, e.g. in a popover the rerun redraws."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)


def wait_for_points(page, expected: int) -> None:
    page.wait_for_function(
        "([selector, n]) => document.querySelectorAll(selector).length === n", arg=[POINTS, expected], timeout=30_000
    )


def test_overview_shows_every_model_and_switches_setup(server_url, page):
    page.goto(server_url)
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    wait_for_points(page, published_models("1vs1000"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "overview_1vs1000.png", full_page=True)

    page.get_by_text("1 vs 20", exact=True).click()
    wait_for_points(page, published_models("1vs20"))
    page.screenshot(path=ARTIFACTS / "overview_1vs20.png", full_page=True)


def test_charts_draw_with_plotly_basic_loaded_once_per_tab(server_url, page):
    """Every chart of a page draws from the dashboard's own plotly.js bundle, fetched once per tab, and Streamlit's
    4.7 MB Plotly chunk is never loaded (it was most of a fresh load's time)."""
    scripts = []
    page.on("request", lambda request: scripts.append(request.url) if request.resource_type == "script" else None)
    page.goto(f"{server_url}/classes")
    page.wait_for_function("() => document.querySelectorAll('.ca-chart .xtick').length > 0", timeout=60_000)
    page.get_by_role("link", name="Overview").click()
    wait_for_points(page, published_models("1vs1000"))
    assert sum("plotly-basic" in url for url in scripts) == 1
    assert not [url for url in scripts if "PlotlyChart" in url]


def test_a_chart_takes_its_containers_width_when_its_tab_opens(server_url, page):
    """A chart drawn in a hidden tab (zero width: Plotly falls back to 700 px) follows its container once shown."""
    page.goto(f"{server_url}/scaling")
    page.wait_for_function("() => document.querySelectorAll('.ca-chart .xtick').length > 0", timeout=60_000)
    page.get_by_role("tab", name="CLIP vs ImageNet").click()
    widths = """() => [...document.querySelectorAll('.ca-chart')].filter(c => c.offsetWidth > 0)
        .map(c => [c.offsetWidth, c.querySelector('.main-svg')?.getBoundingClientRect().width ?? 0])"""
    page.wait_for_function(f"() => ({widths})().some(([box, svg]) => svg > 0)", timeout=30_000)
    page.wait_for_function(f"() => ({widths})().every(([box, svg]) => Math.abs(box - svg) < 2)", timeout=10_000)


def test_a_chart_goes_full_screen_at_the_screens_height_and_back(server_url, page):
    page.goto(server_url)
    wait_for_points(page, published_models("1vs1000"))
    plot_height = "() => document.querySelector('.ca-chart .main-svg').getBoundingClientRect().height"
    own = page.evaluate(plot_height)
    full_screen = page.locator('.ca-chart .modebar-btn[data-title="Full screen"]')
    page.locator(".ca-chart").hover()  # the mode bar shows on hover
    full_screen.click()
    page.wait_for_function("() => document.fullscreenElement?.classList.contains('ca-chart')", timeout=10_000)
    page.wait_for_function(f"() => Math.abs(({plot_height})() - window.innerHeight) < 2", timeout=10_000)
    page.locator(".ca-chart").hover()
    full_screen.click()  # the same button returns
    page.wait_for_function("() => !document.fullscreenElement", timeout=10_000)
    page.wait_for_function(f"() => Math.abs(({plot_height})() - {own}) < 2", timeout=10_000)


IMAGES = '[data-testid="stImage"] img'


def wait_for_loaded_images(page, expected: int) -> None:
    page.wait_for_function(
        """([selector, n]) => {
            const images = [...document.querySelectorAll(selector)];
            return images.length === n && images.every(i => i.complete && i.naturalWidth > 0);
        }""",
        arg=[IMAGES, expected],
        timeout=60_000,
    )


def test_gallery_loads_thumbnails_pages_forward_and_filters_errors(demo_server_url, page):
    page.goto(f"{demo_server_url}/gallery")
    wait_for_loaded_images(page, 24)  # 12 per background on the first page
    widths = page.eval_on_selector_all(IMAGES, "images => images.map(i => i.naturalWidth)")
    assert max(widths) <= 224  # thumbnails, not the photos
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "gallery_page1.png", full_page=True)

    page.get_by_test_id("stNumberInputStepUp").click()
    wait_for_loaded_images(page, 2)  # 13 photos per background: one left for page 2

    page.get_by_test_id("stNumberInputStepDown").click()
    page.get_by_text("errors only", exact=True).click()
    page.wait_for_function(
        """() => {
            const marks = [...document.querySelectorAll('[data-testid=stMarkdownContainer]')]
                .map(m => m.innerText.trim()).filter(t => t.startsWith('✓') || t.startsWith('✗'));
            return marks.length > 0 && marks.every(t => t.startsWith('✗'));
        }""",
        timeout=30_000,
    )
    page.screenshot(path=ARTIFACTS / "gallery_errors.png", full_page=True)


def test_overview_exports_a_png_and_the_page_zip(server_url, browser):
    import zipfile

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(server_url)
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    wait_until_idle(page)
    page.get_by_text("Export", exact=True).click()
    menu = page.get_by_test_id("stPopoverBody")
    with page.expect_download(timeout=90_000) as png:
        menu.get_by_role("button", name="PNG").click()
    assert png.value.suggested_filename == "overview.png"
    assert png.value.path().read_bytes().startswith(b"\x89PNG")
    with page.expect_download(timeout=180_000) as bundle:  # 3 Chromium renders: 25-40 s, over 90 s once in a slow phase
        menu.get_by_role("button", name="Export this page (zip)").click()
    names = zipfile.ZipFile(bundle.value.path()).namelist()
    assert {"overview.png", "overview.svg", "overview.pdf", "overview.html", "table.csv"} == set(names)
    context.close()


def test_a_shared_link_restores_the_view(server_url, page):
    page.goto(f"{server_url}/?setup=1vs20&overview_scale=logit")
    wait_for_points(page, published_models("1vs20"))  # the two LVLMs only exist in 1 vs 20
    # The radios may be redrawn by a rerun right after the chart: wait for them rather than read them once.
    checked = "[...document.querySelectorAll('label:has(input[type=radio]:checked)')].map(l => l.innerText.trim())"
    page.wait_for_function(f"() => {checked}.includes('1 vs 20') && {checked}.includes('logit')", timeout=30_000)
    assert "overview_scale=logit" in page.url


def test_a_story_steps_through_views(server_url, page):
    page.goto(f"{server_url}/?setup=1vs20")
    wait_for_points(page, published_models("1vs20"))
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Story").click()
    page.get_by_role("option", name="The paper in four views, then your model").click()
    page.get_by_role("button", name="Next ▶").click()
    page.get_by_text("Step 1 of 5").wait_for(timeout=30_000)
    wait_for_points(page, published_models("1vs1000"))  # step 1 shows 1 vs 1000
    page.get_by_role("button", name="Next ▶").click()
    page.get_by_text("Step 2 of 5").wait_for(timeout=30_000)
    assert "overview_scale=logit" in page.url
    page.get_by_role("button", name="Next ▶").click()
    page.get_by_text("Step 3 of 5").wait_for(timeout=30_000)
    page.wait_for_url("**/scaling**", timeout=30_000)
    selected = page.locator('[role="tab"][aria-selected="true"]').inner_text()
    assert selected == "Same backbone, other data"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "story_step3.png", full_page=True)


# Texts of the main area's labels (widgets, radio options, toggles), buttons and tabs that end with an ellipsis.
CUT_LABELS = """() => [...document.querySelectorAll(
        '[data-testid="stMain"] :is(label, button, [role="tab"]) *')]
    .filter(e => getComputedStyle(e).textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth + 1)
    .map(e => e.textContent.trim())"""
# Every page of the dashboard on runs, each with an element it must show before it is read: the Overview in a story
# step (its bar's buttons), Evaluate with a finished job's card.
EVERY_PAGE = {
    "?story=the-paper-in-four-views-then-your-model&step=2": ".st-key-story_back button",
    **dict.fromkeys(["scaling", "classes", "gallery", "confusions", "flips", "curate", "theory", "about"], "h1"),
    "evaluate": '[class*="st-key-job_overview_"] button',
}


def test_no_label_or_button_is_cut_short_on_any_page_at_1280x720(demo_server_url, browser):
    """Labels were cut at 1280 px: the Overview's toggles ("Own trend for DataComp/DF..."), the story bar's
    "◀ Previous", a finished job's "Show on the Overview"."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    cut = {}
    for path, shown in EVERY_PAGE.items():
        page.goto(f"{demo_server_url}/{path}")
        page.locator(f'[data-testid="stMain"] {shown}').first.wait_for(timeout=60_000)
        wait_until_idle(page)
        page.wait_for_timeout(500)  # the last element's layout
        cut[path] = page.evaluate(CUT_LABELS)
    context.close()
    assert {path: texts for path, texts in cut.items() if texts} == {}


def test_upload_a_checkpoint_watch_it_run_and_find_it_on_the_overview(evaluate_server_url, page, tiny_timm, tmp_path):
    upload = tmp_path / "my tiny resnet.safetensors"
    upload.write_bytes(tiny_timm.read_bytes())
    page.goto(f"{evaluate_server_url}/evaluate")
    page.get_by_text("timm model", exact=True).click()
    # The architecture list comes from the dashboard's start-up listing, run at the lowest CPU priority: with another
    # test worker keeping both CPUs busy it can take a minute.
    page.get_by_label("Architecture", exact=True).fill("test_resnet", timeout=180_000)
    page.keyboard.press("Enter")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(upload)
    page.locator('[data-testid="stFileChipName"]').wait_for(timeout=30_000)
    page.get_by_label("Display name").fill("My tiny ResNet")
    page.keyboard.press("Enter")
    refused = page.locator('[data-testid="stAlertContentError"]')  # a failed check says why: show it, not a timeout
    outcome = page.get_by_text("fit the architecture").or_(refused).first
    for _ in range(3):  # a click that lands while the page is still rerunning can be lost: click again
        page.get_by_role("button", name="Check and evaluate").click()
        try:
            outcome.wait_for(timeout=45_000)
            break
        except PlaywrightTimeoutError:
            continue
    assert not refused.count(), refused.first.inner_text()
    done = page.get_by_role("button", name="Show on the Overview").first
    try:  # the job list refreshes itself every second until the job is done; a test worker beside it slows the job
        done.wait_for(timeout=240_000)
    except PlaywrightTimeoutError:
        text = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
        pytest.fail(f"the job did not finish within 4 minutes; the page ends with:\n{text[-1500:]}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "evaluate_done.png", full_page=True)

    highlight = page.get_by_text("My tiny ResNet (1 vs 1000):")
    for _ in range(3):  # a click that lands while the job list reruns (every few seconds) can be lost: click again
        if done.count():
            done.click()
        try:
            highlight.wait_for(timeout=30_000)
            break
        except PlaywrightTimeoutError:
            continue
    highlight.wait_for(timeout=30_000)
    names = page.wait_for_function(
        """() => { const plot = document.querySelector('.js-plotly-plot');
                   return plot && plot.data && plot.data.map(t => t.name); }""",
        timeout=30_000,
    ).json_value()
    assert "highlighted: My tiny ResNet" in names
    page.screenshot(path=ARTIFACTS / "overview_highlight.png", full_page=True)


def test_the_presenter_view_hides_the_controls_and_keeps_the_chart(server_url, page):
    page.goto(f"{server_url}/?present=1")
    wait_for_points(page, published_models("1vs1000"))
    radios = page.get_by_test_id("stRadio")  # "Candidate labels" and "Axis scale": on the page, not shown
    assert radios.count() == 2 and not radios.first.is_visible() and not radios.last.is_visible()
    assert not page.get_by_test_id("stSidebar").is_visible()
    assert page.locator(".js-plotly-plot").is_visible() and page.get_by_role("button", name="Exit").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "presenter_view.png", full_page=True)
