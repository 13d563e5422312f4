"""Controls shared by several pages."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import data, export, gallery, queries, run_queries
from app.thumbnails import DETAIL_PX, GALLERY_PX, placeholder, thumbnail
from engine.config import cache_root

SETUP_LABELS = {"1vs1000": "1 vs 1000", "1vs20": "1 vs 20"}
VARIANT_LABELS = {
    "default": "Paper protocol",
    "openai_80_prompt_ensemble": "80-prompt ensemble (Table 10)",
    "unbalanced_accuracy": "Unbalanced accuracy (Tables 11-12)",
    "alt_checkpoint": "Alternative checkpoints (Table 9)",
}


def keep_choices() -> None:
    """Keep widget values across pages: Streamlit forgets a widget's value when its page is not shown, unless the
    value is re-assigned. Buttons and table selections (keys "zoom_*", "*_table*") cannot be assigned, nor need to."""
    for key in list(st.session_state):
        if (
            isinstance(key, str)
            and not key.startswith(
                ("zoom_", "story_back", "story_next", "present_exit", "job_", "upload_", "highlight_")
            )
            and ("_table" not in key)
        ):
            st.session_state[key] = st.session_state[key]


def setup_and_variant() -> tuple[str, str]:
    """Setup (candidate labels) and published variant pickers, shared by the pages; returns their values."""
    left, right = st.columns([1, 1])
    setup = left.radio(
        "Candidate labels",
        data.query(queries.setups),
        format_func=lambda s: SETUP_LABELS.get(s, s),
        horizontal=True,
        key="setup",
        help="1 vs 1000: all ImageNet classes compete. 1 vs 20: only the 20 labels most confusable with the class.",
    )
    variant = right.selectbox(
        "Variant",
        data.query(queries.variants, setup=setup),
        format_func=lambda v: VARIANT_LABELS.get(v, v),
        key="variant",
    )
    return setup, variant


NO_RUNS = "No evaluated runs yet. Evaluate a model with `counteranimal eval`, or try `counteranimal demo`."


def require_runs(minimum: int = 1) -> pd.DataFrame:
    """The runs (`run_queries.run_list`), or a note saying how to make them and the end of the page."""
    runs = data.query(run_queries.run_list)
    if len(runs) < minimum:
        st.info(NO_RUNS if runs.empty else f"This page compares {minimum} runs; there is only {len(runs)}. {NO_RUNS}")
        st.stop()
    return runs


def class_picker(run_id: str, key: str, where=st) -> tuple[int, pd.DataFrame]:
    """A class of the run's photos; returns its id and the run's classes (label, backgrounds) by id."""
    classes = data.query(run_queries.run_classes, run_id=run_id).set_index("class_id")
    class_id = where.selectbox("Class", classes.index, format_func=classes["label"].get, key=key)
    return int(class_id), classes


def run_picker(runs: pd.DataFrame, key: str, label: str = "Run", index: int = 0) -> pd.Series:
    """A run chosen by its model name, protocol, date and id; returns its row of `run_queries.run_list`."""
    names = {
        row.run_id: f"{row.name} · {row.variant} · {str(row.started_at)[:10]} · {row.run_id}"
        for row in runs.itertuples()
    }
    # A default index only before the first choice: afterwards the choice lives in session state.
    default = {} if key in st.session_state else {"index": min(index, len(names) - 1)}
    chosen = st.selectbox(label, list(names), format_func=names.get, key=key, **default)
    return runs.set_index("run_id", drop=False).loc[chosen]


def run_setup_picker(run: pd.Series, key: str, where=st) -> str:
    """The setups this run evaluated (a run made with `--setups 1vs1000` has no 1 vs 20 answers)."""
    setups = [s for s in ("1vs1000", "1vs20") if s in set(run.setups)]
    return where.radio("Candidate labels", setups, format_func=SETUP_LABELS.get, key=key, horizontal=True)


def picked_row(table: pd.DataFrame, key: str) -> int:
    """A table the user picks a row of; the picked row's position (the first row until one is picked). The key
    carries what the table shows, so a pick never outlives its table."""
    event = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key=key)
    rows = event.selection.rows if event else []
    return min(rows[0], len(table) - 1) if rows else 0


@st.dialog("Photo", width="large")
def photo_dialog(photo: Path, row: pd.Series, labels: dict[int, str]) -> None:
    """The photo larger, with its top-5 classes in both setups."""
    path = thumbnail(photo, DETAIL_PX, cache_root())
    if path is None:
        st.warning(f"{photo} is missing or unreadable.")
    else:
        st.image(str(path), caption=row.name)
    st.markdown(f"True class: **{labels.get(int(row['class_id']), row['class_id'])}**")
    for column, setup in zip(st.columns(2), ("1vs1000", "1vs20"), strict=True):
        with column:
            st.markdown(f"**{SETUP_LABELS[setup]}**")
            st.dataframe(gallery.top5(row, setup, labels), hide_index=True, column_config={
                "probability": st.column_config.ProgressColumn(format="%.2f", min_value=0.0, max_value=1.0)
            })  # fmt: skip


def thumbnail_grid(root: Path, image_ids: list[str], columns: int) -> None:
    """Thumbnails of photos under `root`, `columns` per row; a placeholder and a notice for missing ones."""
    if not image_ids:
        st.caption("No photos.")
        return
    cache, missing = cache_root(), 0
    for i, image_id in enumerate(image_ids):
        if i % columns == 0:
            grid = st.columns(columns)
        path = thumbnail(root / image_id, GALLERY_PX, cache)
        missing += path is None
        grid[i % columns].image(str(path or placeholder(GALLERY_PX, cache)), caption=Path(image_id).name)
    if missing:
        st.warning(f"{missing} photos are not under {root} (moved or deleted?); placeholders are shown.")


def export_menu(name: str, figures: dict[str, go.Figure], table: pd.DataFrame | None, caption: str) -> None:
    """An "Export" popover: each chart as PNG (3x), SVG, PDF or standalone HTML, and the whole page as a zip (every
    chart in every format and the table as CSV). Files are rendered only when their button is clicked."""
    with st.popover("Export", icon=":material/download:"):
        st.session_state.setdefault("export_caption", True)  # a default, not a value: keep_choices re-assigns it
        text = caption if st.checkbox("Provenance caption", key="export_caption") else None
        for chart, fig in figures.items():
            st.markdown(f"**{fig.layout.title.text or chart}**")
            for column, fmt in zip(st.columns(len(export.FORMATS)), export.FORMATS, strict=True):
                column.download_button(
                    fmt.upper(),
                    data=partial(export.render, fig, fmt, text),
                    file_name=f"{chart}.{fmt}",
                    mime=export.FORMATS[fmt],
                    on_click="ignore",
                )
        st.download_button(
            "Export this page (zip)",
            data=partial(export.page_zip, figures, table, text),
            file_name=f"counteranimal-{name}.zip",
            mime="application/zip",
            on_click="ignore",
            icon=":material/folder_zip:",
        )


# ---- meetings: stories and the presenter view --------------------------------------------------------------------

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


def highlighted_run(runs: pd.DataFrame, points: pd.DataFrame, setup: str) -> str | None:
    """The Overview's highlighted run (`overview_run`, set by a finished job's link), told in words above the chart:
    its scores, its effective robustness against its family's trend, and a way to its photos."""
    run_id = st.session_state.get("overview_run")
    if not run_id:
        return None
    rows = runs[runs["run_id"] == run_id] if len(runs) else runs
    if rows.empty:
        st.toast(f"Run {run_id} has no scores in this setup and variant.", icon=":material/link_off:")
        return None
    run = rows.iloc[0]
    er = run["effective_robustness"]
    fitted = points.loc[points["trend_group"] == run["trend_group"], "common"]
    outside = ""
    if len(fitted) and not fitted.min() <= run["common"] <= fitted.max():
        outside = (
            f" Its common accuracy lies outside the {fitted.min():.0f}-{fitted.max():.0f}% the trend was fitted on, "
            "so this is an extrapolation."
        )
    with st.container(border=True):
        text, gallery_link, clear = st.columns([7, 2, 1])
        text.markdown(
            f"**{run['name']}** ({SETUP_LABELS[setup]}): common {run['common']:.1f}%, counter {run['counter']:.1f}%, "
            f"a drop of {run['drop']:.1f} points. Effective robustness **{er:+.1f} points** against the "
            f"{run['trend_group']} trend: its counter accuracy minus the trend's at the same common accuracy.{outside}"
        )
        gallery_link.button(
            "Open its gallery", icon=":material/photo_library:", key="highlight_gallery",
            on_click=go_to, args=("gallery", {"gallery_run": run_id}),
        )  # fmt: skip
        clear.button("Clear", key="highlight_clear", on_click=lambda: st.session_state.pop("overview_run", None))
    return run_id


def presenting() -> bool:
    return bool(st.session_state.get("present"))


def chart(fig: go.Figure) -> None:
    """A chart on the page; in the presenter view with projector-sized, high-contrast type."""
    if presenting():
        fig = go.Figure(fig)
        fig.update_layout(font={"size": 24, "color": "#000000"}, title_font_size=30)
    st.plotly_chart(fig, theme=None)


def go_to(page: str, params: dict[str, str]) -> None:
    """Button callback: open a page (by URL path) with these link parameters as its choices; main.py switches."""
    from app import url_state

    for key, text in params.items():
        st.session_state[key] = url_state.KEYS[key][1](text)
    st.session_state["goto"] = (page, params)


def _go_to_step(steps: list, index: int) -> None:
    step = steps[index]
    st.session_state["story_step"] = index
    go_to(step.page, step.params)


def story_steps() -> list:
    """The chosen story's steps (empty when none is chosen)."""
    from app import stories

    chosen = st.session_state.get("story", "(none)")
    story = next(
        (s for s in stories.load_stories(queries.Sources.from_environment().results) if s.name == chosen), None
    )
    if story is None:
        return []
    runs = data.query(run_queries.run_list)
    return stories.playable(story, runs["run_id"].iloc[-1] if len(runs) else None)


def meeting_controls() -> None:
    """Sidebar: the presenter-view switch and the story picker. In the presenter view, a bar on the page instead."""
    from app import stories

    names = ["(none)"] + [s.name for s in stories.load_stories(queries.Sources.from_environment().results)]
    with st.sidebar:
        st.toggle("Presenter view", key="present", help="Large type, high contrast, no controls; Exit on the page.")
        st.selectbox("Story", names, key="story", help="Step through saved views in order.")
    steps = story_steps()
    if presenting():
        st.markdown(PRESENTER_CSS, unsafe_allow_html=True)
    if steps or presenting():
        _step_bar(steps)


def _step_bar(steps: list) -> None:
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
