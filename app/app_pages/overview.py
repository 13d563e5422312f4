"""Overview: the paper's Figure 2, interactive, with the table of every model."""

import streamlit as st

from app import charts, data, queries, selections, widgets
from app.trends import effective_robustness, fit_trends, trend_groups

st.title("Common vs counter backgrounds")
st.caption(
    "Each point is a model: class-balanced accuracy on photos with the class's common background (x) and with its "
    "counter background (y). Below the dashed y = x line, a model loses accuracy when the background changes."
)

setup, variant = widgets.setup_and_variant("overview")
left, right = st.columns([1, 1])
scale = left.radio(
    "Axis scale",
    ["linear", "probit", "logit"],
    horizontal=True,
    key="overview_scale",
    help="Trend lines are least-squares fits in the chosen axis space.",
)
split_high_quality = right.toggle("Own trend for DataComp/DFN CLIPs", key="overview_split_hq")

points = data.query(queries.model_scores, setup=setup, variant=variant)
with st.sidebar:
    st.header("Filters")
    families = st.multiselect("Family", sorted(points["family"].unique()), key="overview_family", placeholder="all")
    backbones = st.multiselect(
        "Backbone", sorted(points["backbone"].dropna().unique()), key="overview_backbone", placeholder="all"
    )
    datasets = st.multiselect(
        "Pre-training data", sorted(points["pretrain_data"].dropna().unique()), key="overview_data", placeholder="all"
    )
points = selections.filter_points(points, families, backbones, datasets)
if points.empty:
    st.info("No published model matches these filters.")
    st.stop()

points = points.assign(trend_group=trend_groups(points, split_high_quality))
trends = fit_trends(points, scale)
points = points.assign(effective_robustness=effective_robustness(points, trends))

title = f"CounterAnimal, {widgets.SETUP_LABELS.get(setup, setup)} · {widgets.VARIANT_LABELS.get(variant, variant)}"
st.plotly_chart(charts.overview_scatter(points, scale, trends, title), theme=None, key="overview_chart")
st.caption(
    f"{len(points)} models. Marker size: backbone parameters; CLIP colour: pre-training pairs; outlined: curated data "
    "(DataComp, DFN). Effective robustness: counter accuracy minus the model's trend line at its common accuracy."
)

table = points[
    ["name", "family", "backbone", "params_m", "pretrain_data", "common", "counter", "drop", "effective_robustness"]
]
table = table.rename(
    columns={
        "params_m": "params (M)",
        "pretrain_data": "data",
        "effective_robustness": "eff. robustness",
    }
)
number = st.column_config.NumberColumn(format="%.2f")
st.dataframe(
    table,
    hide_index=True,
    key="overview_table",
    column_config={c: number for c in ["params (M)", "common", "counter", "drop", "eff. robustness"]},
)
st.download_button(
    "Download table (CSV)",
    table.to_csv(index=False),
    file_name=f"counteranimal_{setup}_{variant}_{scale}.csv",
    mime="text/csv",
    key="overview_download",
)
