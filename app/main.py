"""Dashboard entry point: `counteranimal serve` (or `streamlit run app/main.py`)."""

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app import cached, job_client, url_state
from app.queries import DataError
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


forget_unknown_address(pages)
page = st.navigation(pages)
if target := st.session_state.pop("goto", None):  # a story step or a button chose another view
    page_path, params = target
    st.switch_page(navigation.PAGE_FILES[page_path], query_params=params)
asked, notices = url_state.restore(page.url_path)  # a shared link's view
presenter.meeting_controls(cached.sources())
try:
    page.run()
except navigation.PageEnd:  # the page ended early (`end_page`), its link still to publish
    pass
except DataError as error:  # a missing or malformed results file: say what and how to fix it, no traceback
    st.error(f"**The dashboard cannot read its data.** {error}")
finally:  # also after an early end: the link always shows the view
    url_state.publish(page.url_path, asked, notices)
