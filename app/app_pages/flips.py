"""Flips: two runs side by side on the same photos. Which counter-background photos does one get right and the other
wrong, and is the difference in their drops more than chance?"""

from pathlib import Path

import streamlit as st

from app import cached, intervals
from app.widgets import photos, pickers
from app.widgets.navigation import end_page
from engine.runs.format import SETUP_LABELS, SETUPS

sources = cached.sources()
st.title("Flips between two runs")
runs = pickers.require_runs(sources, 2)

left, right = st.columns(2)
with left:
    run_a = pickers.run_picker(runs, "flips_run_a", "Run A", index=0)
with right:
    run_b = pickers.run_picker(runs, "flips_run_b", "Run B", index=1)
shared_setups = [s for s in SETUPS if s in set(run_a.setups) & set(run_b.setups)]
if not shared_setups:
    st.warning("These runs have no setup in common.")
    end_page()
setup = st.radio("Candidate labels", shared_setups, format_func=SETUP_LABELS.get, key="flips_setup", horizontal=True)
if run_a.dataset_fingerprint != run_b.dataset_fingerprint:
    st.warning("The two runs used different copies or versions of the dataset; only photos with the same path count.")

counts = cached.paired_counts(sources, run_a.run_id, run_b.run_id, setup)
try:
    paired = intervals.paired_drop_difference(counts)
except ValueError:
    st.warning("These runs share no photos on both backgrounds, so they cannot be compared photo by photo.")
    end_page()
shared = int(counts[["both", "only_a", "only_b", "neither"]].to_numpy().sum())
metric_a, metric_b, metric_diff = st.columns(3)
metric_a.metric("Drop of A (points)", f"{paired['drop_a']:.2f}")
metric_b.metric("Drop of B (points)", f"{paired['drop_b']:.2f}")
metric_diff.metric(
    "Drop of A minus drop of B",
    f"{paired['difference']:+.2f}",
    help="Paired bootstrap over the same photos, resampled within each class and background; 95% interval.",
)
st.caption(
    f"95% interval of the difference: {paired['low']:+.2f} to {paired['high']:+.2f} ({intervals.RESAMPLES:,} "
    f"resamples over the {shared:,} photos both runs classified). Groups a model gets all right or all wrong add no "
    "spread."
)

table = cached.flips(sources, run_a.run_id, run_b.run_id, setup)
st.subheader("Counter-background photos: right in one run, wrong in the other")
shown = table[["label", "a_only", "b_only"]].rename(
    columns={"a_only": "A right, B wrong", "b_only": "B right, A wrong"}
)
chosen = table.iloc[pickers.picked_row(shown, key=f"flips_table_{run_a.run_id}_{run_b.run_id}_{setup}")]
root = Path(run_a.dataset_root)
for column, images, title in zip(
    st.columns(2), (chosen.a_only_images, chosen.b_only_images), ("A right, B wrong", "B right, A wrong"), strict=True
):
    with column:
        st.markdown(f"**{chosen.label}: {title}**")
        photos.thumbnail_grid(root, list(images)[:12], columns=4)
