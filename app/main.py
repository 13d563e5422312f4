"""Dashboard entry point: `counteranimal serve` (or `streamlit run app/main.py --server.enableStaticServing true`)."""

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app import cached, job_client, stories, url_state
from app.queries import DataError, Sources
from app.widgets import navigation, pickers, presenter

# An emoji tab icon: a `:material/` one is fetched from a font CDN, so offline it is missing.
st.set_page_config(page_title="CounterAnimal Explorer", page_icon="🐾", layout="wide")

pickers.keep_choices()
job_client.resume_jobs()

pages = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/scatter_plot:", default=True),
    st.Page("app_pages/scaling.py", title="Scaling", icon=":material/bar_chart:"),
    st.Page("app_pages/classes.py", title="Classes", icon=":material/pets:"),
    st.Page("app_pages/gallery.py", title="Gallery", icon=":material/photo_library:"),
    st.Page("app_pages/confusions.py", title="Confusions", icon=":material/swap_horiz:"),
    st.Page("app_pages/flips.py", title="Flips", icon=":material/compare:"),
    st.Page("app_pages/curate.py", title="Curate", icon=":material/filter_alt:"),
    st.Page("app_pages/theory.py", title="Theory", icon=":material/science:"),
    st.Page("app_pages/evaluate.py", title="Evaluate", icon=":material/play_circle:"),
    st.Page("app_pages/about.py", title="About", icon=":material/info:"),
]


def forget_unknown_address(known: list[st.Page]) -> None:
    """An unknown address (`/nosuchpage`) opens the default page plainly: Streamlit would open it under a "Page not
    found" dialog. Streamlit has no public hook for this, so the intent is reset on its page manager, if it has one."""
    manager = getattr(get_script_run_ctx(), "pages_manager", None)
    asked = getattr(manager, "intended_page_name", None)
    if asked and not manager.intended_page_script_hash and asked not in {p.url_path for p in known}:
        manager.set_script_intent("", "")


def story_position(sources: Sources) -> tuple[stories.Story, int, stories.Step] | None:
    """The story being stepped through, the index of its step shown and that step; None when none is."""
    steps = presenter.story_steps(sources)
    index = st.session_state.get("story_step", -1)
    if not 0 <= index < len(steps):
        return None
    story = next(s for s in stories.load_stories(sources.results) if s.name == st.session_state["story"])
    return story, index, steps[index]


def open_story_link(sources: Sources) -> list[str]:
    """`story=KEY&step=K` (K from 1) opens that story step, on a session's first run; returns notices for a story or
    step that does not exist (the page opens as usual)."""
    key, number = navigation.take_story_link()
    if (key is None and number is None) or "story" in st.session_state:
        return []
    try:
        story = stories.story_by_key(stories.load_stories(sources.results), key or "")
        st.session_state["story"] = story.name
        steps = presenter.story_steps(sources)
        index = stories.step_index(number or "", len(steps))
    except ValueError as notice:
        st.session_state.pop("story", None)
        return [str(notice)]
    st.session_state["story_step"] = index
    navigation.go_to(steps[index].page, steps[index].params)
    return []


forget_unknown_address(pages)
page = st.navigation(pages)
sources = cached.sources()
link_notices = open_story_link(sources)
position = story_position(sources)
if target := st.session_state.pop("goto", None):  # a story step or a button chose another view
    page_path, params = target
    if position and (position[2].page, position[2].params) == target:  # a story step: the same view from any step
        navigation.forget_unset_choices(position[2])
    st.switch_page(navigation.PAGE_FILES[page_path], query_params=params)
asked, notices = url_state.restore(page.url_path)  # a shared link's view
notices += link_notices
presenter.meeting_controls(sources, page.title)
try:
    page.run()
except navigation.PageEnd:  # the page ended early (`end_page`), its link still to publish
    pass
except DataError as error:  # a missing or malformed results file: say what and how to fix it, no traceback
    st.error(f"**The dashboard cannot read its data.** {error}")
finally:  # also after an early end: the link always shows the view
    url_state.publish(page.url_path, asked, notices)
    if position and position[2].page == page.url_path:
        navigation.show_story_position(position[0], position[1])
