"""Curate: how a curated dataset was made (`counteranimal curate`): per class, the reference model's accuracy on each
background, the pair chosen, the classes dropped and why; and the evaluation of zoo models on the new set."""

import pandas as pd
import streamlit as st

from app import cached, export, job_client
from app.charts.curation import background_bars
from app.widgets import evaluate_gate, presenter
from app.widgets.export_menu import export_menu
from app.widgets.navigation import end_page
from engine.runs.format import ONE_VS_1000, SETUPS
from engine.zoo.catalog import load_zoo

sources = cached.sources()
st.title("Curate a counter set")
reports = {r["dataset"]: r for r in cached.curation_reports(sources)}
if not reports:
    st.info(
        "No curated dataset yet. Group photos by class and background (`<class>/<background>/*`, or a CSV manifest), "
        "then run `counteranimal curate --photos DIR --out DIR`; `counteranimal backgrounds suggest` labels "
        "backgrounds for you to review. `counteranimal demo` curates a small synthetic collection."
    )
    end_page()

folder = st.selectbox(
    "Curated dataset", list(reports), format_func=lambda d: f"{reports[d]['name']} · {d}", key="curate_report"
)
report = reports[folder]
rules, reference = report["rules"], report["reference"]
st.caption(
    f"{report['kept']} of {report['kept'] + report['dropped']} classes kept from {report['source']['images']:,} photos "
    f"in {report['source']['photos']}. Reference model {reference['model']} (run {reference['run_id']}, 1 vs 1000, "
    f'"A photo of {{}}."): per class, its most accurate background with at least {rules["min_photos"]} photos is '
    f"common, its least accurate counter; classes varying by less than {rules['min_gap']:g} points are dropped"
    + (", and those whose pair's intervals overlap." if rules["drop_overlapping"] else ".")
)
shown = presenter.fitting_groups(
    report["classes"], lambda c: len(c["backgrounds"]), f"{report['name']}: accuracy per background", "classes"
)
figure = background_bars(*shown)
presenter.chart(figure, key="curate_chart")

table = pd.DataFrame(
    {
        "class": c["name"], "class_id": c["class_id"], "kept": c["kept"], "common": c["common"],
        "counter": c["counter"], "gap (points)": c["gap"], "reason dropped": c["reason"],
        "backgrounds": ", ".join(f"{b['background']} {b['accuracy']:.0f}% ({b['photos']})" for b in c["backgrounds"]),
    }
    for c in report["classes"]
)  # fmt: skip
st.dataframe(table, hide_index=True, column_config={"gap (points)": st.column_config.NumberColumn(format="%.1f")})
caption = export.provenance(f"curation of {report['name']}", "1 vs 1000 (reference model)", 1)
export_menu("curate", {"curation": figure}, table, caption)

st.subheader("Evaluate models on this set")
evaluate_gate.require_access()  # a shared dashboard: queueing jobs needs the operator's token
zoo = {m.loader: m.name for m in load_zoo() if m.loader and m.family != "LVLM"}
chosen = st.multiselect("Zoo models", list(zoo), format_func=zoo.get, key="curate_models", placeholder="choose")
# 1 vs 20 needs each class's 20 candidate labels: the published ones cover CounterAnimal's 45 classes only.
covered = {c["class_id"] for c in report["classes"] if c["kept"]} <= set(cached.classes(sources)["class_id"])
offered = list(SETUPS) if covered else [ONE_VS_1000]
setups = st.multiselect("Setups", offered, default=offered, key="curate_setups")
if not covered:
    st.caption(
        "1 vs 1000 only: this set has classes outside CounterAnimal's 45, which have no published 1 vs 20 candidates "
        "(make them with `counteranimal candidates build`, and evaluate from the command line)."
    )
if st.button("Queue their evaluation", disabled=not (chosen and setups), key="job_curate_queue"):
    for spec in chosen:
        done = job_client.submit(sources.results, spec, zoo[spec], folder, setups)
        if done.error:
            st.error(f"{zoo[spec]}: {done.error}")
        else:
            st.success(f"{zoo[spec]}: queued as job {done.job_id}; follow it on the Evaluate page.")
