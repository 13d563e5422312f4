"""Meetings: the presenter view (large type, no controls) and stories (saved views stepped through in order)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import cached, stories
from app.charts.style import for_projector
from app.queries import Sources
from app.widgets.chart import chart as draw
from app.widgets.navigation import go_to

# Presenter view: large type, high contrast, no sidebar and no controls (the presenter bar stays), and the page's
# charts first, right under the bar, sized to the screen: a chart fits 1280x720 and 1920x1080 without scrolling.
# Everything else of the page (captions, tables) follows below the charts. Pixel sizes, not rem: the root font grows.
PRESENTER_CSS = """
<style>
html, .stMarkdown, [data-testid="stCaptionContainer"] { font-size: 22px !important; color: #000000 !important; }
[data-testid="stCaptionContainer"] { font-size: 20px !important; }
section[data-testid="stSidebar"], div[data-testid="stSidebarCollapsedControl"], header { display: none !important; }
div[data-testid="stRadio"], div[data-testid="stSelectbox"], div[data-testid="stMultiSelect"],
div[data-testid="stCheckbox"], div[data-testid="stNumberInput"], div[data-testid="stPopover"],
div[data-testid="stDownloadButton"], div[data-testid="stToggle"] { display: none !important; }
/* Hidden controls and the page title (the bar names the page) leave no empty gap behind. */
.stElementContainer:has(> div[data-testid="stRadio"], > div[data-testid="stSelectbox"],
  > div[data-testid="stMultiSelect"], > div[data-testid="stCheckbox"], > div[data-testid="stNumberInput"],
  > div[data-testid="stDownloadButton"], > div[data-testid="stToggle"], h1),
.stElementContainer:has(> .stMarkdown style:only-child),
[data-testid="stLayoutWrapper"]:has(> div[data-testid="stPopover"]) { display: none !important; }
div[data-testid="stMainBlockContainer"] { padding: 8px 24px 48px !important; max-width: none !important; }
/* Charts side by side (Classes) only where each keeps ~900 px; on a smaller screen one under the other, full width. */
@media (max-width: 1599px) {
  div[data-testid="stHorizontalBlock"]:has(.ca-chart, .stPlotlyChart) { flex-wrap: wrap !important; }
  div[data-testid="stHorizontalBlock"]:has(.ca-chart, .stPlotlyChart) > div[data-testid="stColumn"] {
    flex: 1 1 100% !important; width: 100% !important; min-width: 100% !important; }
}
div[data-testid="stMainBlockContainer"] > div[data-testid="stVerticalBlock"] { gap: 12px; }
div[data-testid="stMainBlockContainer"] > div[data-testid="stVerticalBlock"] > * { order: 2; }
div[data-testid="stMainBlockContainer"] > div[data-testid="stVerticalBlock"] > :has(.st-key-present_exit) { order: 0; }
div[data-testid="stMainBlockContainer"] > div[data-testid="stVerticalBlock"] > :has(.ca-chart, .stPlotlyChart) {
  order: 1; }
.st-key-present_exit button, .st-key-story_back button, .st-key-story_next button { min-height: 40px; }
/* The screen below the bar (8 + 44 + 12 px) and a margin; in tabs, less their row of tab names. */
div[data-testid="stMainBlockContainer"] :is(.ca-chart-fill, .stPlotlyChart) { height: calc(100vh - 76px) !important; }
div[data-testid="stMainBlockContainer"] .stTabs :is(.ca-chart-fill, .stPlotlyChart) {
  height: calc(100vh - 156px) !important; }
</style>
"""

PRESENTER_ROWS = 15  # lines of a one-line-per-row chart in the presenter view: 20 px type, ~30 px apart at 720 px


def presenting() -> bool:
    return bool(st.session_state.get("present"))


def chart(fig: go.Figure, key: str | None = None) -> None:
    """A chart on the page; in the presenter view with projector-sized, high-contrast type.

    Args:
        key: the chart's place on the page. A page that draws charts from the user's choices passes one: without it
            Streamlit names a chart by its figure, and two equal figures (the same choice twice) would clash.
    """
    if presenting():  # projector type, and the height the presenter style sheet gives it (the screen's)
        draw(for_projector(fig), key=key, fill=True)
    else:
        draw(fig, key=key)


def fitting_rows(rows: pd.DataFrame, title: str) -> tuple[pd.DataFrame, str]:
    """A chart's rows (one a line, e.g. per-class drops, worst first) and title as the view can show them: in the
    presenter view the first `PRESENTER_ROWS`, so each line keeps projector-sized type on a 1280x720 screen, and the
    title says so."""
    if not presenting() or len(rows) <= PRESENTER_ROWS:
        return rows, title
    return rows.head(PRESENTER_ROWS), f"{title} · first {PRESENTER_ROWS} of {len(rows)}"


def fitting_groups(groups: list[dict], lines_of, title: str, noun: str) -> tuple[list[dict], str]:
    """As `fitting_rows`, for a chart whose groups take several lines each (a class, one line per background): in the
    presenter view the first groups whose lines fit in `PRESENTER_ROWS` (at least one), and the title says so."""
    if not presenting():
        return groups, title
    shown, lines = [], 0
    for group in groups:
        lines += lines_of(group)
        if lines > PRESENTER_ROWS and shown:
            break
        shown.append(group)
    if len(shown) == len(groups):
        return groups, title
    return shown, f"{title} · first {len(shown)} of {len(groups)} {noun}"


def story_steps(sources: Sources) -> list[stories.Step]:
    """The chosen story's steps (empty when none is chosen)."""
    chosen = st.session_state.get("story", "(none)")
    story = next((s for s in stories.load_stories(sources.results) if s.name == chosen), None)
    if story is None:
        return []
    runs = cached.run_list(sources)
    return stories.playable(story, runs["run_id"].iloc[-1] if len(runs) else None)


def meeting_controls(sources: Sources, page_title: str = "") -> None:
    """Sidebar: the presenter-view switch and the story picker. In the presenter view, a bar on the page instead, which
    names the story step or else the page (`page_title`: the page's own title is hidden there, for the chart's room)."""
    names = ["(none)"] + [s.name for s in stories.load_stories(sources.results)]
    with st.sidebar:
        st.toggle("Presenter view", key="present", help="Large type, high contrast, no controls; Exit on the page.")
        st.selectbox("Story", names, key="story", help="Step through saved views in order.")
    steps = story_steps(sources)
    if presenting():
        st.markdown(PRESENTER_CSS, unsafe_allow_html=True)
    if steps or presenting():
        _step_bar(steps, page_title)


def _go_to_step(steps: list[stories.Step], index: int) -> None:
    step = steps[index]
    st.session_state["story_step"] = index
    go_to(step.page, step.params)


def _step_bar(steps: list[stories.Step], page_title: str) -> None:
    index = st.session_state.get("story_step", -1)
    back, title, forward, leave = st.columns([3, 11, 2.5, 2])  # "◀ Previous" whole at 1280 px
    if steps:
        back.button("◀ Previous", on_click=_go_to_step, args=(steps, index - 1), disabled=index <= 0, key="story_back")
        forward.button(
            "Next ▶", on_click=_go_to_step, args=(steps, index + 1), disabled=index >= len(steps) - 1, key="story_next"
        )
        label = f"Step {index + 1} of {len(steps)}: {steps[index].title}" if index >= 0 else "Press Next to start."
        title.markdown(f"**{label}**")
    elif page_title:
        title.markdown(f"**{page_title}**")
    if presenting():
        leave.button("Exit", on_click=lambda: st.session_state.update(present=False), key="present_exit")
