"""Overview: the paper's Figure 2, interactive, with the table of every model."""

import streamlit as st

from app import cached, charts, export, selections
from app.trends import place_on_trends
from app.widgets import pickers, presenter
from app.widgets.export_menu import export_menu
from app.widgets.highlight import find_models, highlighted_run
from app.widgets.navigation import end_page
from engine.runs.format import SETUP_LABELS

sources = cached.sources()
st.title("Common vs counter backgrounds")
pickers.follow_run(sources, "overview_run", st.session_state.get("overview_run"))
dataset, paper_data = pickers.dataset_picker(sources)
setup, variant = pickers.setup_and_variant(sources)
st.caption(selections.overview_intro(variant))
# A row that wraps rather than cutting labels short: each control takes the width of its label.
controls = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
scale = controls.radio(
    "Axis scale",
    ["linear", "probit", "logit"],
    horizontal=True,
    key="overview_scale",
    help="Trend lines are least-squares fits in the chosen axis space.",
)
split_high_quality = controls.toggle(
    "DataComp/DFN trend",
    key="overview_split_hq",
    help="The CLIPs pre-trained on curated data (DataComp, DFN) get a trend line of their own.",
)
fit_flagged = controls.toggle(
    "Fit flagged rows too",
    key="overview_fit_flagged",
    help="Flagged rows (a likely copy error, a near-chance score) are drawn, ringed, and by default not fitted.",
)
fit_statistics = controls.toggle(
    "Fit statistics",
    key="overview_fit_stats",
    help="Each trend's 95% confidence band (shaded) and its slope, intercept, R² and n, in the axis space of the fit.",
)

# Trends and effective robustness come from the published models of the setup and variant (filters only choose what
# is shown; flagged rows only if asked); the models evaluated here are placed against the same trends.
published = cached.model_scores(sources, setup, variant)
published = published if paper_data else published.iloc[:0]  # the paper's numbers are CounterAnimal's
dataset_runs = pickers.dataset_runs(sources, dataset)
run_scores = cached.run_scores(sources, setup, variant)
points, runs, trends = place_on_trends(
    published,
    run_scores[run_scores["dataset"] == dataset] if len(run_scores) else run_scores,
    scale,
    split_high_quality,
    selections.rows_to_fit(published, fit_flagged),
)
if len(runs) and variant != "unbalanced_accuracy":  # intervals are for the class-balanced metric
    runs = runs.merge(cached.run_intervals(sources, setup), on="run_id", how="left")

with st.sidebar:
    st.header("Filters")
    families = st.multiselect("Family", sorted(points["family"].unique()), key="overview_family", placeholder="all")
    backbones = st.multiselect(
        "Backbone", sorted(points["backbone"].dropna().unique()), key="overview_backbone", placeholder="all"
    )
    datasets = st.multiselect(
        "Pre-training data", sorted(points["pretrain_data"].dropna().unique()), key="overview_data", placeholder="all"
    )
shown = selections.filter_points(points, families, backbones, datasets)
shown_runs = selections.filter_points(runs, families, backbones, datasets) if len(runs) else runs
found = find_models(points, runs)
if hidden := [key for key in found if key not in {*shown["model_id"], *shown_runs.get("run_id", ())}]:
    st.caption(f"{len(hidden)} of the models found {'is' if len(hidden) == 1 else 'are'} hidden by the filters.")
if shown.empty and shown_runs.empty:
    st.info("No published model matches these filters." if paper_data else f"No run on {dataset} in this setup.")
    end_page()

title = f"{dataset}, {SETUP_LABELS.get(setup, setup)} · {pickers.VARIANT_LABELS.get(variant, variant)}"
shown_trends = {group: trend for group, trend in trends.items() if group in set(shown["trend_group"])}
highlight = highlighted_run(runs, points, setup, set(dataset_runs["run_id"]))
figure = charts.overview_scatter(shown, scale, shown_trends, title, shown_runs, highlight, fit_statistics, found)
fit_lines = selections.fit_statistics_lines(shown_trends, scale) if fit_statistics else []
presenter.chart(figure)
about_chart = (
    f"{len(shown)} of {len(points)} published models, {len(shown_runs)} evaluated here (stars, with 95% bootstrap "
    "intervals; dotted: from the paper's number for the same model). Marker size: backbone parameters; CLIP colour: "
    "pre-training pairs; outlined: curated data (DataComp, DFN). Effective robustness: counter accuracy minus the "
    f"model's trend line ({scale} fit over {selections.trend_sizes(trends)}) at its common accuracy."
)
if not paper_data:
    about_chart = (
        f"Runs on {dataset} only: the paper's numbers, and the trends effective robustness is measured against, are "
        f"CounterAnimal's. {len(shown_runs)} runs (stars, with 95% bootstrap intervals)."
    )
st.caption(f"{about_chart} {'; '.join(fit_lines)}." if fit_lines else about_chart)
if absent := selections.absent_runs_note(dataset_runs, setup):  # vision-language runs: 1 vs 20 only
    st.caption(absent)

# Extrapolation is judged against the ranges the trends were fitted on, whatever the filters show.
ranges = selections.fitted_common_ranges(points)
table = selections.overview_table(shown, shown_runs, ranges)
number = st.column_config.NumberColumn(format="%.2f")
# The chart is the page; the table of its models opens on request (drawn only then: a table grid drawn with the chart
# held it back a quarter of a second in a new tab, bench/browser_latency.py). Kept open across pages once opened.
with st.expander(f"Table of the {len(table)} models shown", key="overview_models_open", on_change="rerun") as listing:
    if listing.open:
        shown_table = selections.for_display(table.drop(columns=["model_id", "run_id"]))
        numbers = ["params (M)", "common", "counter", "drop", "eff. robustness"]
        config = selections.number_columns(shown_table, numbers, number)
        st.dataframe(shown_table, hide_index=True, column_config=config)
csv_table = table.assign(setup=setup, variant=variant, scale=scale)
what = "published numbers and runs evaluated here" if paper_data else f"runs evaluated here on {dataset}"
caption = export.provenance(what, SETUP_LABELS[setup], len(shown) + len(shown_runs), details=fit_lines)
export_menu("overview", {"overview": figure}, csv_table, caption)
st.download_button(
    "Download table (CSV)",
    csv_table.to_csv(index=False),
    file_name=f"counteranimal_{setup}_{variant}_{scale}.csv",
    mime="text/csv",
)

if len(shown_runs):
    st.subheader("Evaluated here")
    evaluated = selections.runs_table(shown_runs, points, ranges)
    label = f"Table of the {len(evaluated)} runs, with 95% intervals"  # on request, as the table above
    with st.expander(label, key="overview_runs_open", on_change="rerun") as runs_listing:
        if runs_listing.open:
            shown_runs_table = selections.for_display(evaluated.drop(columns=selections.INTERVAL_BOUNDS))
            numbers = ["common", "counter", "drop", "eff. robustness", "gap common", "gap counter"]
            config = selections.number_columns(shown_runs_table, numbers, number)
            st.dataframe(shown_runs_table, hide_index=True, column_config=config)
    st.download_button(
        "Download evaluated runs (CSV, with 95% interval bounds)",
        evaluated.assign(setup=setup, variant=variant, scale=scale).to_csv(index=False),
        file_name=f"counteranimal_runs_{setup}_{variant}_{scale}.csv",
        mime="text/csv",
        key="overview_runs_table_csv",  # "_table": pickers.keep_choices must not re-assign a download button
    )
    st.page_link("app_pages/gallery.py", label="See their photos in the gallery", icon=":material/photo_library:")
