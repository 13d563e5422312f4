"""Find a model: the Overview's search box rings and names published models and runs, kept in the link; and a
finished job's card on the Evaluate page shows its run's scores."""

import pytest
from streamlit.testing.v1 import AppTest

from app import job_client, queries, run_queries
from engine import jobs
from tests.conftest import APP_MAIN, open_link
from tests.test_app import figures, open_page

PUBLISHED = ("open_clip:RN50/openai", "CLIP-OpenAI-RN50")


def open_overview(query: dict | None = None) -> AppTest:
    return open_link(**(query or {}))


def found_traces(at: AppTest) -> dict:
    """Ring traces of the models found, by the name they show."""
    (figure,) = figures(at)
    return {trace.name.removeprefix("found: "): trace for trace in figure.data if trace.name.startswith("found: ")}


def first_run() -> tuple[str, str]:
    """(run id, display name) of a demo run shown in 1 vs 1000."""
    run = run_queries.run_scores(queries.Sources.current(), "1vs1000", "default").iloc[0]
    return run["run_id"], run["name"]


def test_a_published_model_and_a_run_found_are_ringed_and_named_inside_the_plot(with_runs):
    run_id, run_name = first_run()
    at = open_overview()
    at.multiselect(key="overview_find").set_value([PUBLISHED[0], run_id]).run()
    assert not at.exception, at.exception
    rings = found_traces(at)
    assert sorted(rings) == sorted([PUBLISHED[1], run_name])
    (figure,) = figures(at)
    lo, hi = figure.layout.xaxis.range
    middle = (lo + hi) / 2
    for name, ring in rings.items():
        assert ring.mode == "markers+text" and ring.marker.symbol == "circle-open"
        assert list(ring.text) == [f"<b>{name}</b>"]
        # The label leans towards the plot's centre, so it stays inside the axes.
        vertical, horizontal = ring.textposition.split()
        assert horizontal == ("left" if ring.x[0] > middle else "right")
        assert vertical == ("bottom" if ring.y[0] > middle else "top")


def test_a_ring_sits_on_the_published_point(with_runs):
    at = open_overview({"overview_find": PUBLISHED[0]})
    ring = found_traces(at)[PUBLISHED[1]]
    (figure,) = figures(at)
    points = [t for t in figure.data if t.customdata is not None and PUBLISHED[0] in [row[6] for row in t.customdata]]
    (trace,) = points
    index = [row[6] for row in trace.customdata].index(PUBLISHED[0])
    assert (ring.x[0], ring.y[0]) == (trace.x[index], trace.y[index])


def test_the_choice_round_trips_through_the_link(with_runs):
    run_id, run_name = first_run()
    at = open_overview()
    at.multiselect(key="overview_find").set_value([run_id, PUBLISHED[0]]).run()
    link = {name: at.query_params[name] for name in at.query_params}
    assert link["overview_find"] == f"{run_id},{PUBLISHED[0]}"
    opened = open_overview(link)
    assert opened.multiselect(key="overview_find").value == [run_id, PUBLISHED[0]]
    assert sorted(found_traces(opened)) == sorted([PUBLISHED[1], run_name])


def test_an_unknown_id_in_the_link_is_dropped_with_a_notice(paper_copy, results_dir):
    opened = open_overview({"overview_find": f"nosuchmodel,{PUBLISHED[0]}"})
    assert opened.multiselect(key="overview_find").value == [PUBLISHED[0]]
    assert any("overview_find=nosuchmodel" in toast.value for toast in opened.toast)
    assert list(found_traces(opened)) == [PUBLISHED[1]]


def test_a_model_hidden_by_the_filters_is_not_ringed_and_said_so(paper_copy, results_dir):
    at = open_overview({"overview_find": PUBLISHED[0], "overview_family": "ImageNet"})
    assert found_traces(at) == {}
    assert any("1 of the models found is hidden by the filters" in c.value for c in at.caption)


def test_the_highlighted_run_found_too_is_ringed_once(with_runs):
    run_id, run_name = first_run()
    at = open_overview({"overview_run": run_id, "overview_find": run_id})
    (figure,) = figures(at)
    assert [t.name for t in figure.data if run_name in t.name] == [f"highlighted: {run_name}"]


def test_a_finished_jobs_card_shows_its_runs_common_counter_and_drop(with_unequal_run, monkeypatch):
    monkeypatch.setattr(job_client, "engine_installed", lambda: False)  # no form: the job list is the point here
    job = jobs.submit(with_unequal_run, {"model": "timm:test_resnet@/w.pt", "name": "unequal", "setups": []})
    jobs.finish(with_unequal_run, job, jobs.DONE, run_id="unequal")
    at = open_page(AppTest.from_file(APP_MAIN, default_timeout=60), "evaluate")
    (scores,) = [m.value for m in at.markdown if "common **" in m.value]
    # The hand-written run (tests/conftest.py, UNEQUAL_GROUPS): class-balanced common 50, counter 25, drop 25.
    for setup in ("1 vs 1000", "1 vs 20"):
        assert f"{setup}: common **50.0%**, counter **25.0%**, drop **25.0** points" in scores
    assert at.button(key=f"job_overview_{job.id}")  # next to its links


@pytest.mark.parametrize(
    ("name", "note"),
    [("it's again", ", now named “it's again”: its predictions were kept"), ("", ": its predictions were kept")],
)
def test_a_job_that_found_an_identical_run_says_the_run_now_carries_its_name(with_unequal_run, monkeypatch, name, note):
    monkeypatch.setattr(job_client, "engine_installed", lambda: False)
    job = jobs.submit(with_unequal_run, {"model": "timm:test_resnet@/w.pt", "name": name, "setups": []})
    jobs.finish(with_unequal_run, job, jobs.DONE, run_id="unequal", skipped=True)
    at = open_page(AppTest.from_file(APP_MAIN, default_timeout=60), "evaluate")
    (line,) = [c.value for c in at.caption if "Run `unequal`" in c.value]
    assert f"(an identical run already existed{note})" in line
