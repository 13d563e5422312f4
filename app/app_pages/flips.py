"""Flips: two runs side by side on the same photos. Which counter-background photos does one get right and the other
wrong, and is the difference in their drops more than chance?"""

from pathlib import Path

import streamlit as st

from app import data, intervals, run_queries, widgets

st.title("Flips between two runs")
runs = data.query(run_queries.run_list)
if len(runs) < 2:
    st.info("Flips compare two runs; evaluate at least two models with `counteranimal eval` (or `counteranimal demo`).")
    st.stop()

left, right = st.columns(2)
with left:
    run_a = widgets.run_picker(runs, "flips_run_a", "Run A", index=0)
with right:
    run_b = widgets.run_picker(runs, "flips_run_b", "Run B", index=1)
setup = st.radio(
    "Candidate labels", run_queries.SETUPS, format_func=widgets.SETUP_LABELS.get, key="flips_setup", horizontal=True
)

counts = data.query(run_queries.paired_counts, run_a=run_a.run_id, run_b=run_b.run_id, setup=setup)
if counts.empty:
    st.warning("These runs share no photos (different datasets?), so they cannot be compared photo by photo.")
    st.stop()
paired = intervals.paired_drop_difference(counts)
st.metric(
    "Drop of A minus drop of B (points)",
    f"{paired['difference']:+.2f}",
    help="Paired bootstrap over the same photos, resampled within each class and background; 95% interval.",
)
st.caption(f"95% interval {paired['low']:+.2f} to {paired['high']:+.2f} ({intervals.RESAMPLES:,} resamples).")

table = data.query(run_queries.flips, run_a=run_a.run_id, run_b=run_b.run_id, setup=setup)
st.subheader("Counter-background photos: right in one run, wrong in the other")
picked = st.dataframe(
    table[["label", "a_only", "b_only"]].rename(columns={"a_only": "A right, B wrong", "b_only": "B right, A wrong"}),
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="flips_table",
)
rows = picked.selection.rows if picked else []
chosen = table.iloc[rows[0] if rows else 0]
st.caption(f"**{chosen.label}**: photos A gets right and B gets wrong.")
widgets.thumbnail_grid(Path(run_a.dataset_root), list(chosen.a_only_images)[:12], columns=6)
