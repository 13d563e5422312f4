"""Moving between pages from a button or a story step: the page files by URL path, and the switch itself."""

from __future__ import annotations

import streamlit as st

from app import url_state

# URL path of a page ("" is the Overview) -> its file, relative to app/main.py as st.switch_page wants it.
PAGE_FILES = {
    "": "app_pages/overview.py",
    "scaling": "app_pages/scaling.py",
    "classes": "app_pages/classes.py",
    "gallery": "app_pages/gallery.py",
    "confusions": "app_pages/confusions.py",
    "flips": "app_pages/flips.py",
    "about": "app_pages/about.py",
    "evaluate": "app_pages/evaluate.py",
}


def go_to(page: str, params: dict[str, str]) -> None:
    """Button callback: open a page (by URL path) with these link parameters as its choices; main.py switches."""
    for key, text in params.items():
        st.session_state[key] = url_state.KEYS[key][1](text)
    st.session_state["goto"] = (page, params)
