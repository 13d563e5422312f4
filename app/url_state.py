"""Shareable links: each page's choices live in the URL's query parameters. Opening a link restores the view;
unknown or invalid values are ignored with a short notice, never an error.

Widgets keep their values in session state under these keys; the URL mirrors them. Streamlit itself resets a
restored value that is not among a widget's options, which is how an invalid value is noticed: it did not stick.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

# key -> (to text, from text). Lists are comma-separated; model picks ("paper"/"run", id, setup) "|"-separated.
_TEXT: tuple[Callable, Callable] = (str, str)
_FLAG = (lambda v: "1" if v else "0", lambda t: {"1": True, "0": False}[t])
_INT = (str, int)
_FLOAT = (str, float)  # str(0.3) == "0.3": a value picked from a list of round options comes back equal
_LIST = (lambda v: ",".join(v), lambda t: [s for s in t.split(",") if s])
_PICK = (lambda v: "|".join(v), lambda t: tuple(t.split("|")))

KEYS: dict[str, tuple[Callable, Callable]] = {
    "present": _FLAG,  # the presenter view, on every page: a meeting's link opens ready to present
    "setup": _TEXT,
    "variant": _TEXT,
    "dataset": _TEXT,  # the dataset the pages show (CounterAnimal, the demo, a curated set)
    "overview_scale": _TEXT,
    "overview_split_hq": _FLAG,
    "overview_fit_flagged": _FLAG,  # fit trends to flagged rows too (copies, near-chance checkpoints)
    "overview_fit_stats": _FLAG,  # each trend's 95% confidence band and slope, intercept, R², n
    "overview_family": _LIST,
    "overview_backbone": _LIST,
    "overview_data": _LIST,
    "overview_run": _TEXT,  # the run to highlight (a finished job links here)
    "overview_find": _LIST,  # models (ids) and runs (run ids) found by name: ringed and named on the chart
    "scaling_data": _TEXT,
    "scaling_backbone": _TEXT,
    "scaling_tab": _TEXT,
    "classes_model_a": _PICK,
    "classes_model_b": _PICK,
    "classes_shared_order": _FLAG,
    "gallery_run": _TEXT,
    "gallery_class": _INT,
    "gallery_setup": _TEXT,
    "gallery_filter": _TEXT,
    "gallery_order": _TEXT,
    "gallery_page": _INT,
    "confusions_run": _TEXT,
    "confusions_class": _INT,
    "confusions_split": _TEXT,
    "confusions_setup": _TEXT,
    "flips_run_a": _TEXT,
    "flips_run_b": _TEXT,
    "flips_setup": _TEXT,
    "curate_report": _TEXT,  # the curated dataset whose report is shown (its folder)
    "theory_p": _FLOAT,  # the theory lab's world: background agreement in training
    "theory_q": _FLOAT,  # share of captions naming the background
    "theory_object_noise": _FLOAT,
    "theory_background_noise": _FLOAT,
    "theory_n_train": _INT,
    "theory_seed": _INT,
}
# Which keys a page's link carries (by the page's URL path).
PAGE_KEYS = {
    "": ("present", "dataset", "setup", "variant", "overview_"),
    "scaling": ("present", "setup", "variant", "scaling_"),
    "classes": ("present", "dataset", "classes_"),
    "gallery": ("present", "dataset", "gallery_"),
    "confusions": ("present", "dataset", "confusions_"),
    "flips": ("present", "dataset", "flips_"),
    "curate": ("present", "curate_"),
    "theory": ("present", "theory_"),
    "about": ("present",),
    "evaluate": ("present",),
}


def page_keys(page: str) -> list[str]:
    prefixes = PAGE_KEYS.get(page, ())
    return [key for key in KEYS if any(key == p or (p.endswith("_") and key.startswith(p)) for p in prefixes)]


def restore(page: str) -> tuple[dict[str, object], list[str]]:
    """Put the link's values into session state (first visit of the page in this session only); returns what was
    asked for and notices about parameters that cannot be used."""
    asked, notices = {}, []
    keys = page_keys(page)
    for name, text in st.query_params.items():
        if name not in keys:
            notices.append(f"Ignored the link's unknown parameter `{name}`.")
            continue
        try:
            value = KEYS[name][1](text)
        except (ValueError, KeyError):
            notices.append(f"Ignored `{name}={text}`: not a value it takes.")
            continue
        if name not in st.session_state:
            st.session_state[name] = value
            asked[name] = value
    return asked, notices


def publish(page: str, asked: dict[str, object], notices: list[str]) -> None:
    """Mirror the page's current choices into the URL, and say which asked-for values did not stick."""
    keys = [k for k in page_keys(page) if k in st.session_state]
    notices += [
        f"Ignored `{k}={KEYS[k][0](v)}`: not a choice here." for k, v in asked.items() if st.session_state.get(k) != v
    ]
    st.query_params.from_dict({k: KEYS[k][0](st.session_state[k]) for k in keys})
    for notice in notices:
        st.toast(notice, icon=":material/link_off:")
