"""Classes: the 45 animals, their backgrounds, and per-class drops of the models the paper reports per class."""

import streamlit as st

from app import charts, data, queries, selections, widgets

st.title("Classes and backgrounds")

classes = data.query(queries.classes)
st.caption(
    f"{len(classes)} classes, {classes['n_common'].sum():,} common-background and {classes['n_counter'].sum():,} "
    "counter-background photos. The common background is where a CLIP model did best, the counter background where "
    "it did worst."
)
st.dataframe(
    classes.rename(columns={"label": "class", "common_background": "common", "counter_background": "counter"})[
        ["class", "common", "counter", "n_common", "n_counter", "class_id", "name"]
    ],
    hide_index=True,
)

st.subheader("Per-class drop")
models = data.query(queries.per_class_models)
if models.empty:
    st.info("No per-class numbers are published.")
    st.stop()

options = list(zip(models["model_id"], models["setup"], strict=True))
names = dict(zip(options, models["name"], strict=True))
shared_order = st.toggle("Same class order in both charts (the left model's)", key="classes_shared_order")
left_rows, flagged = None, False
for column, key, default in zip(st.columns(2), ("classes_model_a", "classes_model_b"), (0, 1), strict=True):
    with column:
        chosen = st.selectbox(
            "Model",
            options,
            format_func=lambda o: f"{names[o]} · {widgets.SETUP_LABELS.get(o[1], o[1])}",
            index=min(default, len(options) - 1),
            key=key,
        )
        rows = data.query(queries.per_class_scores, model_id=chosen[0], setup=chosen[1])
        if shared_order and left_rows is not None:
            rows = selections.in_order_of(rows, left_rows)
        left_rows = rows if left_rows is None else left_rows
        flagged = flagged or rows["flag"].ne("").any()
        st.plotly_chart(charts.per_class_dumbbell(rows, names[chosen]), theme=None)
if flagged:
    st.caption("† the paper's printed drop differs from common − counter here; kept as printed (see About).")
