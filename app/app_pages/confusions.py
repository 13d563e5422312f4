"""Confusions: what a class's photos on one background are predicted as instead, with the photos one click away."""

from pathlib import Path

import streamlit as st

from app import cached
from app.widgets import photos, pickers
from app.widgets.navigation import end_page

sources = cached.sources()
st.title("Confusions")
run = pickers.run_picker(pickers.require_runs(sources, follow="confusions_run"), "confusions_run")
left, middle, right = st.columns([2, 1, 1])
class_id, classes = pickers.class_picker(sources, run.run_id, "confusions_class", left)
split = middle.radio("Photos", ("common", "counter"), key="confusions_split", horizontal=True)
setup = pickers.run_setup_picker(run, "confusions_setup", right)

wrong = cached.confusions(sources, run.run_id, class_id, split, setup)
background = classes.loc[class_id, f"{split}_background"]
if wrong.empty:
    st.success(f"Every {split} ({background}) photo of this class is classified correctly.")
    end_page()
summary = ", ".join(f"{row.label} {row.photos}" for row in wrong.head(8).itertuples())
st.subheader(f"{split} ({background}): {summary}")
choice = pickers.picked_row(
    wrong[["label", "photos", "predicted"]], key=f"confusions_table_{run.run_id}_{class_id}_{split}_{setup}"
)
st.caption(f"Photos predicted as **{wrong.iloc[choice].label}** (select another row above to see its photos).")
photos.thumbnail_grid(
    Path(run.dataset_root),
    list(wrong.iloc[choice].image_ids),
    columns=6,
    key=f"confusions_photos_{run.run_id}_{class_id}_{split}_{setup}_{choice}",
)
