"""Classes: the 45 animals, their backgrounds, and per-class drops of the models the paper reports per class."""

import streamlit as st

from app import charts, data, queries, widgets

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
    key="classes_table",
)

st.subheader("Per-class drop")
models = data.query(queries.per_class_models)
if models.empty:
    st.info("No per-class numbers are published.")
    st.stop()

labels = [f"{row.name} · {widgets.SETUP_LABELS.get(row.setup, row.setup)}" for row in models.itertuples()]
for column, key, default in zip(st.columns(2), ("classes_model_a", "classes_model_b"), (0, 1), strict=True):
    with column:
        index = st.selectbox(
            "Model", range(len(models)), format_func=labels.__getitem__, index=min(default, len(models) - 1), key=key
        )
        chosen = models.iloc[index]
        rows = data.query(queries.per_class_scores, model_id=chosen["model_id"], setup=chosen["setup"])
        st.plotly_chart(charts.per_class_dumbbell(rows, chosen["name"]), theme=None, key=f"{key}_chart")
