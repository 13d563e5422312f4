"""Flips: two runs side by side on the same photos. Which counter-background photos does one get right and the other
wrong, and is the difference in their drops more than chance?"""

from pathlib import Path

import streamlit as st

from app import cached, intervals, selections
from app.widgets import photos, pickers
from app.widgets.navigation import end_page
from engine.runs.format import SETUPS


def points(value: float, signed: bool = False) -> str:
    """Accuracy points to two decimals with a typographic minus, as the charts write them ("−50.00", not "-50.00")."""
    return f"{value:{'+' if signed else ''}.2f}".replace("-", "\u2212")


sources = cached.sources()
st.title("Flips between two runs")
runs = pickers.require_runs(sources, 2, follow="flips_run_a")

left, right = st.columns(2)
with left:
    run_a = pickers.run_picker(runs, "flips_run_a", "Run A", index=0)
with right:
    run_b = pickers.run_picker(runs, "flips_run_b", "Run B", index=1)
if run_a.run_id == run_b.run_id:
    st.warning("Run A and run B are the same run, so every difference below is zero. Pick another run for B.")
shared_setups = [s for s in SETUPS if s in set(run_a.setups) & set(run_b.setups)]
if not shared_setups:
    st.warning("These runs have no setup in common.")
    end_page()
lacking = [
    selections.missing_setups_note(f"Run {side} ({run['name']})", run.family, run.setups)
    for side, run in zip("AB", (run_a, run_b), strict=True)
]
setup = pickers.offered_setup(shared_setups, "flips_setup", " ".join(note for note in lacking if note))
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
metric_a.metric("Drop of A (points)", points(paired["drop_a"]))
metric_b.metric("Drop of B (points)", points(paired["drop_b"]))
metric_diff.metric(
    "Drop of A minus drop of B",
    points(paired["difference"], signed=True),
    help="Paired bootstrap over the same photos, resampled within each class and background; 95% interval.",
)
st.caption(
    f"95% interval of the difference: {points(paired['low'], signed=True)} to {points(paired['high'], signed=True)} "
    f"({intervals.RESAMPLES:,} resamples over the {shared:,} photos both runs classified). Groups a model gets all "
    "right or all wrong add no spread."
)

table = cached.flips(sources, run_a.run_id, run_b.run_id, setup)
st.subheader("Counter-background photos: right in one run, wrong in the other")
shown = table[["label", "a_only", "b_only"]].rename(
    columns={"a_only": "A right, B wrong", "b_only": "B right, A wrong"}
)
picked = pickers.ticked_row(shown, key=f"flips_table_{run_a.run_id}_{run_b.run_id}_{setup}")
chosen = None if picked is None else table.iloc[picked]  # no photos until a class is ticked: none is implied
for column, images, title, side in zip(
    st.columns(2), ("a_only_images", "b_only_images"), ("A right, B wrong", "B right, A wrong"), "ab", strict=True
):
    with column:
        st.markdown(f"**{'No class ticked' if chosen is None else chosen.label}: {title}**")
        if chosen is None:
            st.caption("Tick a class in the table to see its photos.")
            continue
        key = f"flips_photos_{side}_{run_a.run_id}_{run_b.run_id}_{setup}_{picked}"
        photos.thumbnail_grid(Path(run_a.dataset_root), list(chosen[images]), columns=4, key=key)
