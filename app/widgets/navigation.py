"""Moving between pages from a button or a story step: the page files by URL path, and the switch itself; and how
a page ends early."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from app import stories, url_state

# URL path of a page ("" is the Overview) -> its file, relative to app/main.py as st.switch_page wants it.
PAGE_FILES = {
    "": "app_pages/overview.py",
    "scaling": "app_pages/scaling.py",
    "classes": "app_pages/classes.py",
    "gallery": "app_pages/gallery.py",
    "confusions": "app_pages/confusions.py",
    "flips": "app_pages/flips.py",
    "curate": "app_pages/curate.py",
    "theory": "app_pages/theory.py",
    "about": "app_pages/about.py",
    "evaluate": "app_pages/evaluate.py",
}


def go_to(page: str, params: dict[str, str]) -> None:
    """Button callback: open a page (by URL path) with these link parameters as its choices; main.py switches."""
    for key, text in params.items():
        st.session_state[key] = url_state.KEYS[key][1](text)
    st.session_state["goto"] = (page, params)


def forget_unset_choices(step: stories.Step) -> None:
    """Before a story step opens: the choices of its page that it does not set are forgotten, so each widget shows its
    own default (defined once, where the page draws the widget) whichever step came before."""
    for key in stories.unset_keys(step, url_state.page_keys(step.page)):
        st.session_state.pop(key, None)
    for key in [k for k in st.session_state if str(k).startswith("followed_")]:  # a run the step names opens its
        st.session_state.pop(key)  # dataset, even if named before


def take_story_link() -> tuple[str | None, str | None]:
    """The link's `story` and `step`, taken out of the query on every run: they name a story step, not a choice of
    the view, so `url_state` does not own them; `show_story_position` puts them back."""
    return st.query_params.pop("story", None), st.query_params.pop("step", None)


def show_story_position(story: stories.Story, index: int) -> None:
    """While a story is stepped through, the URL says where (step counted from 1): a link copied mid-story reopens
    the same step."""
    st.query_params.update(story=story.key, step=str(index + 1))


class PageEnd(Exception):
    """A page has said all it has to say (`end_page`); app/main.py catches it."""


def end_page() -> NoReturn:
    """End the page here, as `st.stop()` would, but leave main.py free to publish the page's link afterwards:
    after `st.stop()`, Streamlit stops the next Streamlit call too, so the link would keep the previous view."""
    raise PageEnd
