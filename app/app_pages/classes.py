"""Classes: the 45 animals, their backgrounds, and per-class drops of the models the paper reports per class."""

import streamlit as st

from app import cached, charts, export, selections
from app.widgets import pickers, presenter
from app.widgets.export_menu import export_menu
from app.widgets.navigation import end_page
from engine.runs.format import SETUP_LABELS, SETUPS

sources = cached.sources()
st.title("Classes and backgrounds")
chosen_a = st.session_state.get("classes_model_a")  # ("run", run id, setup) when a run is shown: its dataset
pickers.follow_run(
    sources, "classes_model_a", chosen_a[1] if isinstance(chosen_a, tuple | list) and chosen_a[0] == "run" else None
)
dataset, paper_data = pickers.dataset_picker(sources)
runs = pickers.dataset_runs(sources, dataset)
classes = cached.classes(sources) if paper_data else pickers.dataset_classes(sources, runs)
st.caption(
    f"{dataset}: {len(classes)} classes, {classes['n_common'].sum():,} common-background and "
    f"{classes['n_counter'].sum():,} counter-background photos. The common background is where the curating model did "
    "best, the counter background where it did worst."
)
# The per-class charts are the page; the classes' table opens on request (drawn only then: a table grid ahead of the
# charts held them back a quarter of a second in a new tab, bench/browser_latency.py). Kept open across pages.
with st.expander(f"Table of the {len(classes)} classes", key="classes_list_open", on_change="rerun") as table:
    if table.open:
        st.dataframe(
            classes.rename(columns={"label": "class", "common_background": "common", "counter_background": "counter"})[
                ["class", "common", "counter", "n_common", "n_counter", "class_id", "name"]
            ],
            hide_index=True,
        )

st.subheader("Per-class drop")
# Published per-class numbers, and every run evaluated here (in the setups it has, with photo counts).
published = cached.per_class_models(sources)
published = published if paper_data else published.iloc[:0]  # the paper's per-class numbers are CounterAnimal's
options = [("paper", row.model_id, row.setup) for row in published.itertuples()]
options += [("run", row.run_id, setup) for row in runs.itertuples() for setup in SETUPS if setup in set(row.setups)]
names = {("paper", r.model_id, r.setup): r.name for r in published.itertuples()}
names |= {("run", r.run_id, s): f"{r.name} (run {r.run_id})" for r in runs.itertuples() for s in SETUPS}
run_names = dict(zip(runs["run_id"], runs["name"], strict=True))
if not options:
    st.info("No per-class numbers: none are published, and no run is evaluated yet.")
    end_page()
if lacking := " ".join(note for s in SETUPS if (note := selections.absent_runs_note(runs, s))):
    st.caption(lacking)


def keep_run_in_its_setups(key: str) -> None:
    """A run kept (from a link) in a setup it has no answers in moves to one it has, saying so; a choice this dataset
    does not offer at all (another dataset was chosen) is forgotten, so each picker takes its own default again."""
    kept = st.session_state.get(key)
    if not kept or tuple(kept) in options:
        return
    has = [o for o in options if kept[0] == "run" and o[:2] == tuple(kept[:2])]
    if not has:
        st.session_state.pop(key)
        return
    st.session_state[key] = has[0]
    run = runs.set_index("run_id").loc[kept[1]]
    note = selections.missing_setups_note(run["name"], run["family"], run["setups"])
    st.info(f"{note} Showing {SETUP_LABELS[has[0][2]]}.", icon=":material/info:")


def per_class(option: tuple[str, str, str]):
    kind, key, setup = option
    if kind == "paper":
        return cached.per_class_scores(sources, key, setup)
    return cached.run_per_class(sources, key, setup)


figures = {}
shared_order = st.toggle("Same class order in both charts (the left model's)", key="classes_shared_order")
left_rows, flags, setups = None, set(), []
for column, key, default in zip(st.columns(2), ("classes_model_a", "classes_model_b"), (0, 1), strict=True):
    with column:
        keep_run_in_its_setups(key)
        chosen = st.selectbox(
            "Model",
            options,
            format_func=lambda o: f"{names[o]} · {SETUP_LABELS.get(o[2], o[2])}",
            key=key,
            **({} if key in st.session_state else {"index": min(default, len(options) - 1)}),
        )
        if chosen[0] == "run":  # a dataset chosen next is not pulled back to this run's (`pickers.follow_run`)
            pickers.shown(key, chosen[1])
        rows = per_class(chosen)
        if shared_order and left_rows is not None:
            rows = selections.in_order_of(rows, left_rows)
        left_rows = rows if left_rows is None else left_rows
        flags |= set(rows["flag"]) - {""}
        setups.append(SETUP_LABELS.get(chosen[2], chosen[2]))
        name = f"per-class-{key[-1]}"
        # The setup first and a run's id on a line of its own: a half-width chart cuts a long title at its end.
        kind, model, _ = chosen
        title = f"{setups[-1]} · {run_names[model] if kind == 'run' else names[chosen]}"
        shown_rows, title = presenter.fitting_rows(rows, title)
        figures[name] = charts.per_class_dumbbell(shown_rows, title, f"run {model}" if kind == "run" else "")
        presenter.chart(figures[name], key=f"classes_chart_{key[-1]}")  # the same model may be picked twice
if flags:
    notes = "; ".join(selections.FLAG_NOTES.get(flag, flag) for flag in sorted(flags))
    st.caption(
        f"† the printed drop or counter is inconsistent with common − counter here: {notes}. Kept as printed "
        "(see About)."
    )
caption = export.provenance("per-class accuracy", " and ".join(dict.fromkeys(setups)), len(figures))
export_menu("classes", figures, classes, caption)
