"""Pickers shared by the pages: setup and variant, a run, a class, a table row; and the values they keep across
pages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import cached, job_client, selections
from app.queries import Sources
from app.widgets.navigation import end_page
from engine.dataset.reader import COUNTERANIMAL
from engine.runs.format import SETUP_LABELS, SETUPS

VARIANT_LABELS = {
    "default": "Paper protocol",
    "openai_80_prompt_ensemble": "80-prompt ensemble (Table 10)",
    "unbalanced_accuracy": "Unbalanced accuracy (Tables 11-12)",
    "alt_checkpoint": "Alternative checkpoints (Table 9)",
}
NO_RUNS = "No evaluated runs yet."
MORE_RUNS = "Evaluate a model with `counteranimal eval`, or try `counteranimal demo`."
MORE_RUNS_NO_ENGINE = (
    "Making runs (`counteranimal eval`, or `counteranimal demo` to try the pages) needs the engine, which this "
    "installation lacks: run `make engine`, or `pip install -e '.[engine]'`."
)


def keep_choices() -> None:
    """Keep widget values across pages: Streamlit forgets a widget's value when its page is not shown, unless the
    value is re-assigned. Buttons, download buttons and table selections (keys "zoom_*", "*_table*") cannot be
    assigned, nor need to."""
    for key in list(st.session_state):
        if (
            isinstance(key, str)
            and not key.startswith(
                ("zoom_", "story_back", "story_next", "present_exit", "job_", "upload_", "highlight_")
            )
            and ("_table" not in key)
            and not key.endswith("_export_menu")  # an Export menu is closed when its page is opened again
        ):
            st.session_state[key] = st.session_state[key]


def setup_and_variant(sources: Sources) -> tuple[str, str]:
    """Setup (candidate labels) and published variant pickers, shared by the pages; returns their values."""
    left, right = st.columns([1, 1])
    setup = left.radio(
        "Candidate labels",
        cached.setups(sources),
        format_func=lambda s: SETUP_LABELS.get(s, s),
        horizontal=True,
        key="setup",
        help="1 vs 1000: all ImageNet classes compete. 1 vs 20: only the 20 labels most confusable with the class.",
    )
    variant = right.selectbox(
        "Variant",
        cached.variants(sources, setup),
        format_func=lambda v: VARIANT_LABELS.get(v, v),
        key="variant",
    )
    return setup, variant


def dataset_picker(sources: Sources) -> tuple[str, bool]:
    """The dataset the page shows (sidebar, kept across pages and in the link as `dataset`), and whether it is
    CounterAnimal, the one the published numbers are for. Runs of different datasets never share a chart or table.
    Until one is chosen: CounterAnimal when it has runs (or no dataset has), else the dataset of the latest run."""
    table = cached.datasets(sources).set_index("dataset")
    if st.session_state.get("dataset") not in table.index:
        st.session_state["dataset"] = _default_dataset(table)

    def label(key: str) -> str:
        runs = f"{table.loc[key, 'runs']} run{'s' if table.loc[key, 'runs'] != 1 else ''}"
        return f"{key} (published numbers, {runs})" if table.loc[key, "name"] == COUNTERANIMAL else f"{key} ({runs})"

    chosen = st.sidebar.selectbox(
        "Dataset", list(table.index), format_func=label, key="dataset",
        help="Runs are grouped by the dataset they measured: CounterAnimal (with the paper's numbers), the demo, each "
        "curated set. Charts and tables show one dataset at a time.",
    )  # fmt: skip
    return chosen, table.loc[chosen, "name"] == COUNTERANIMAL


def _default_dataset(table: pd.DataFrame) -> str:
    paper = table[table["name"] == COUNTERANIMAL]
    if paper["runs"].sum() > 0 or table["runs"].sum() == 0:
        return paper["runs"].idxmax()
    return table["latest"].idxmax()


FOLLOWED = "followed_"  # + a run choice's key: the run whose dataset was last shown for that choice


def follow_run(sources: Sources, key: str, run_id: object) -> None:
    """Show the dataset of the run a link, a story step or a finished job puts in the choice `key` (call before
    `dataset_picker`), once per run: a dataset chosen afterwards stands, even while the page still holds that run."""
    if not isinstance(run_id, str) or not run_id or st.session_state.get(FOLLOWED + key) == run_id:
        return
    shown(key, run_id)
    runs = cached.run_list(sources)
    measured = runs.loc[runs["run_id"] == run_id, "dataset"]
    if len(measured):
        st.session_state["dataset"] = measured.iloc[0]


def shown(key: str, run_id: str) -> None:
    """The run choice `key` shows this run (of the dataset shown): `follow_run` leaves the dataset alone for it."""
    st.session_state[FOLLOWED + key] = run_id


def dataset_runs(sources: Sources, dataset: str) -> pd.DataFrame:
    """The runs (`run_queries.run_list`) that measured the dataset."""
    runs = cached.run_list(sources)
    return runs[runs["dataset"] == dataset]


def require_runs(sources: Sources, minimum: int = 1, follow: str | None = None) -> pd.DataFrame:
    """The runs of the chosen dataset (`dataset_picker`), or a note saying how to make them and the end of the page.
    `follow`: the page's run choice, whose dataset is shown when a link or story sets it (`follow_run`)."""
    if follow:
        follow_run(sources, follow, st.session_state.get(follow))
    dataset, _ = dataset_picker(sources)
    runs = dataset_runs(sources, dataset)
    if len(runs) < minimum:
        how = MORE_RUNS if job_client.engine_installed() else MORE_RUNS_NO_ENGINE
        have = NO_RUNS if runs.empty else f"This page compares {minimum} runs; there is only {len(runs)}."
        if others := len(cached.run_list(sources)) - len(runs):
            how = f"{others} run(s) measured other datasets: choose one under Dataset in the sidebar. {how}"
        st.info(f"{have.rstrip('.')} on {dataset}. {how}")
        end_page()
    return runs


def class_picker(sources: Sources, run_id: str, key: str, where=st) -> tuple[int, pd.DataFrame]:
    """A class of the run's photos; returns its id and the run's classes (label, backgrounds) by id."""
    classes = cached.run_classes(sources, run_id).set_index("class_id")
    class_id = where.selectbox("Class", classes.index, format_func=classes["label"].get, key=key)
    return int(class_id), classes


def run_picker(runs: pd.DataFrame, key: str, label: str = "Run", index: int = 0) -> pd.Series:
    """A run chosen by its model name, protocol, date and id; returns its row of `run_queries.run_list`."""
    names = {
        row.run_id: f"{row.name} · {row.variant} · {str(row.started_at)[:10]} · {row.run_id}"
        for row in runs.itertuples()
    }
    if key in st.session_state and st.session_state[key] not in names:  # a run of a link that is not here
        del st.session_state[key]  # so this picker takes its own default, not the first run (B would equal A)
    # A default index only before the first choice: afterwards the choice lives in session state.
    default = {} if key in st.session_state else {"index": min(index, len(names) - 1)}
    chosen = st.selectbox(label, list(names), format_func=names.get, key=key, **default)
    shown(key, chosen)  # a dataset chosen next is not pulled back to this run's
    return runs.set_index("run_id", drop=False).loc[chosen]


def run_setup_picker(run: pd.Series, key: str, where=st) -> str:
    """The setups this run evaluated (a run made for one setup, or a vision-language run, has no answers in the
    other), with a note naming the ones it lacks."""
    setups = [s for s in SETUPS if s in set(run.setups)]
    return offered_setup(setups, key, selections.missing_setups_note("This run", run.family, run.setups), where)


def offered_setup(setups: list[str], key: str, note: str, where=st) -> str:
    """A setup among `setups`, and `note` saying why the others are not offered: a notice when the kept choice (made
    for another run, or a link's) is one of them and moves to the first offered setup, else a caption."""
    kept = st.session_state.get(key)
    moved = kept in SETUPS and kept not in setups
    if moved:  # before the widget exists, so the page shows the setup it says it shows
        st.session_state[key] = setups[0]
    chosen = where.radio("Candidate labels", setups, format_func=SETUP_LABELS.get, key=key, horizontal=True)
    if moved and note:
        st.info(f"{note} Showing {SETUP_LABELS[setups[0]]}.", icon=":material/info:")
    elif note:
        where.caption(note)
    return chosen


def picked_row(table: pd.DataFrame, key: str) -> int:
    """A table the user picks a row of; the picked row's position (the first row until one is picked). The key
    carries what the table shows, so a pick never outlives its table."""
    row = ticked_row(table, key)
    return 0 if row is None else row


def ticked_row(table: pd.DataFrame, key: str) -> int | None:
    """A table the user picks a row of; the picked row's position, or None until one is ticked."""
    event = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key=key)
    rows = event.selection.rows if event else []
    return min(rows[0], len(table) - 1) if rows else None


def dataset_classes(sources: Sources, runs: pd.DataFrame) -> pd.DataFrame:
    """The classes of a dataset other than CounterAnimal as its latest run saw them (label with backgrounds, photo
    counts), in the columns of `queries.classes`; no rows without a run."""
    columns = ["class_id", "label", "name", "common_background", "counter_background", "n_common", "n_counter"]
    if runs.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c.startswith("n_") else object) for c in columns})
    run = runs.sort_values("started_at").iloc[-1]
    rows = cached.run_per_class(sources, run.run_id, next(s for s in run.setups))
    backgrounds = cached.run_classes(sources, run.run_id).set_index("class_id")
    return rows.assign(
        name=rows["label"].str.split(" \\(").str[0],
        common_background=rows["class_id"].map(backgrounds["common_background"]),
        counter_background=rows["class_id"].map(backgrounds["counter_background"]),
    ).sort_values("class_id")[columns]
