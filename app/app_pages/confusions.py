"""Confusions: what a class's photos on one background are predicted as instead, with the photos one click away."""

from pathlib import Path

import streamlit as st

from app import data, run_queries, widgets

st.title("Confusions")
run = widgets.run_picker(widgets.require_runs(), "confusions_run")
left, middle, right = st.columns([2, 1, 1])
class_id, classes = widgets.class_picker(run.run_id, "confusions_class", left)
split = middle.radio("Photos", ("common", "counter"), key="confusions_split", horizontal=True)
setup = widgets.run_setup_picker(run, "confusions_setup", right)

wrong = data.query(run_queries.confusions, run_id=run.run_id, class_id=class_id, split=split, setup=setup)
background = classes.loc[class_id, f"{split}_background"]
if wrong.empty:
    st.success(f"Every {split} ({background}) photo of this class is classified correctly.")
    st.stop()
summary = ", ".join(f"{row.label} {row.photos}" for row in wrong.head(8).itertuples())
st.subheader(f"{split} ({background}): {summary}")
choice = widgets.picked_row(
    wrong[["label", "photos", "predicted"]], key=f"confusions_table_{run.run_id}_{class_id}_{split}_{setup}"
)
st.caption(f"Photos predicted as **{wrong.iloc[choice].label}** (select another row above to see its photos).")
widgets.thumbnail_grid(Path(run.dataset_root), list(wrong.iloc[choice].image_ids)[:12], columns=6)
