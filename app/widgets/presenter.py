"""Meetings: the presenter view (large type, no controls) and stories (saved views stepped through in order)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app import cached, stories
from app.queries import Sources
from app.widgets.navigation import go_to

# Presenter view: large type, high contrast, no sidebar and no controls (the presenter bar stays).
PRESENTER_CSS = """
<style>
html, .stMarkdown, .stCaption { font-size: 22px !important; color: #000000 !important; }
section[data-testid="stSidebar"], div[data-testid="stSidebarCollapsedControl"], header { display: none !important; }
div[data-testid="stRadio"], div[data-testid="stSelectbox"], div[data-testid="stMultiSelect"],
div[data-testid="stCheckbox"], div[data-testid="stNumberInput"], div[data-testid="stPopover"],
div[data-testid="stDownloadButton"], div[data-testid="stToggle"] { display: none !important; }
</style>
"""


def presenting() -> bool:
    return bool(st.session_state.get("present"))


def chart(fig: go.Figure, key: str | None = None) -> None:
    """A chart on the page; in the presenter view with projector-sized, high-contrast type.

    Args:
        key: the chart's place on the page. A page that draws charts from the user's choices passes one: without it
            Streamlit names a chart by its figure, and two equal figures (the same choice twice) would clash.
    """
    if presenting():
        fig = go.Figure(fig)
        fig.update_layout(font={"size": 24, "color": "#000000"}, title_font_size=30)
    st.plotly_chart(fig, theme=None, key=key)


def story_steps(sources: Sources) -> list[stories.Step]:
    """The chosen story's steps (empty when none is chosen)."""
    chosen = st.session_state.get("story", "(none)")
    story = next((s for s in stories.load_stories(sources.results) if s.name == chosen), None)
    if story is None:
        return []
    runs = cached.run_list(sources)
    return stories.playable(story, runs["run_id"].iloc[-1] if len(runs) else None)


def meeting_controls(sources: Sources) -> None:
    """Sidebar: the presenter-view switch and the story picker. In the presenter view, a bar on the page instead."""
    names = ["(none)"] + [s.name for s in stories.load_stories(sources.results)]
    with st.sidebar:
        st.toggle("Presenter view", key="present", help="Large type, high contrast, no controls; Exit on the page.")
        st.selectbox("Story", names, key="story", help="Step through saved views in order.")
    steps = story_steps(sources)
    if presenting():
        st.markdown(PRESENTER_CSS, unsafe_allow_html=True)
    if steps or presenting():
        _step_bar(steps)


def _go_to_step(steps: list[stories.Step], index: int) -> None:
    step = steps[index]
    st.session_state["story_step"] = index
    go_to(step.page, step.params)


def _step_bar(steps: list[stories.Step]) -> None:
    index = st.session_state.get("story_step", -1)
    back, title, forward, leave = st.columns([1, 6, 1, 1])
    if steps:
        back.button("◀ Previous", on_click=_go_to_step, args=(steps, index - 1), disabled=index <= 0, key="story_back")
        forward.button(
            "Next ▶", on_click=_go_to_step, args=(steps, index + 1), disabled=index >= len(steps) - 1, key="story_next"
        )
        label = f"Step {index + 1} of {len(steps)}: {steps[index].title}" if index >= 0 else "Press Next to start."
        title.markdown(f"**{label}**")
    if presenting():
        leave.button("Exit", on_click=lambda: st.session_state.update(present=False), key="present_exit")
