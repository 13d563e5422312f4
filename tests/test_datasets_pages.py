"""Datasets as a dimension of the dashboard (the demo, curated sets, CounterAnimal; never mixed); the Curate page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import job_client
from app.widgets.chart import drawn_figures
from engine.zoo.catalog import load_zoo
from tests.conftest import APP_MAIN


@pytest.fixture
def mixed(demo_results: Path, paper_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's runs (dataset "demo"), plus a copy of its ResNet run that measured CounterAnimal."""
    results = shutil.copytree(demo_results, tmp_path / "results")
    source = next(
        p for p in results.glob("runs/*/run.json") if "demo-resnet" in p.read_text() and '"demo"' in p.read_text()
    )
    shutil.copytree(source.parent, results / "runs" / "ca-run")
    run = json.loads((results / "runs" / "ca-run" / "run.json").read_text())
    del run["dataset"]["name"]
    run |= {"run_id": "ca-run", "started_at": "2026-01-01T00:00:00"}
    (results / "runs" / "ca-run" / "run.json").write_text(json.dumps(run))
    monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(results))
    monkeypatch.setenv("COUNTERANIMAL_CACHE", str(tmp_path / "cache"))
    return results


def opened_overview_table(at: AppTest) -> AppTest:
    """The Overview with its tables (every model; the runs evaluated here) opened, as clicks do."""
    at.session_state["overview_models_open"] = True
    at.session_state["overview_runs_open"] = True
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP_MAIN, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def test_the_demo_alone_opens_on_its_own_runs_without_the_papers_numbers(demo_results, paper_copy, monkeypatch):
    monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(demo_results))
    at = open_page("overview")
    assert at.sidebar.selectbox(key="dataset").value == "demo"
    assert any("Runs on demo only" in c.value for c in at.caption)
    table = opened_overview_table(at).dataframe[0].value
    assert set(table["family"]) <= {"ImageNet", "CLIP"} and len(table) == 2  # the two demo runs, no paper model


def test_counteranimal_shows_the_paper_with_its_runs_only(mixed):
    at = open_page("overview")
    assert at.sidebar.selectbox(key="dataset").value == "CounterAnimal"  # it has a run: it is the default
    published, evaluated = (frame.value for frame in opened_overview_table(at).dataframe)
    assert len(published) > 40  # the paper's models, and the one run on CounterAnimal, not the demo's two
    assert len(evaluated) == 1


def test_the_run_pickers_offer_the_chosen_datasets_runs_only(mixed):
    assert [o.split(" · ")[-1] for o in open_page("gallery").selectbox(key="gallery_run").options] == ["ca-run"]
    options = open_page("gallery", dataset="demo").selectbox(key="gallery_run").options
    assert len(options) == 2 and "ca-run" not in options
    flips = open_page("flips")  # one run on CounterAnimal: Flips needs two of the same dataset
    assert any("compares 2 runs" in i.value and "on CounterAnimal" in i.value for i in flips.info)


def test_a_curated_sets_runs_are_labelled_with_their_own_backgrounds(demo_results, paper_copy, tmp_path, monkeypatch):
    """A run on the demo's curated set: the Classes page lists its classes with the pairs curation chose."""
    import torch

    from engine.dataset.reader import load_dataset
    from engine.inference.evaluator import EvalOptions, Evaluator

    results = shutil.copytree(demo_results, tmp_path / "results")
    spec = f"timm:test_resnet@{demo_results.parent / 'models' / 'demo-resnet.safetensors'}"
    options = EvalOptions(results, demo_results.parent / "cache", torch.device("cpu"), workers=1, progress=False)
    Evaluator(load_dataset(demo_results.parent / "curated"), options).evaluate(spec)
    monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(results))
    at = open_page("classes", dataset="demo curated")
    report = json.loads((demo_results.parent / "curated" / "curation.json").read_text())
    expected = {f"{c['name']} ({c['common']} → {c['counter']})" for c in report["classes"] if c["kept"]}
    at.session_state["classes_list_open"] = True  # as a click opens the table
    at.run()
    assert set(at.dataframe[0].value["class"]) == expected
    assert at.selectbox(key="classes_model_a").value[0] == "run"  # no published per-class model on this dataset


def test_the_curate_page_shows_the_report_and_queues_zoo_models_on_the_set(demo_results, paper_copy, monkeypatch):
    monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(demo_results))
    queued = []
    monkeypatch.setattr(
        job_client,
        "submit",
        lambda results, spec, name, data, setups: (
            queued.append((spec, data, setups)) or job_client.Submitted(job_id="j1")
        ),
    )
    at = open_page("curate")
    report = json.loads((demo_results.parent / "curated" / "curation.json").read_text())
    table = at.dataframe[0].value
    assert list(table["class_id"]) == [c["class_id"] for c in report["classes"]]
    assert set(table.loc[~table["kept"], "reason dropped"]) == {c["reason"] for c in report["classes"] if not c["kept"]}
    figure = drawn_figures(at)[0]
    bars = {t["name"] for t in figure["data"] if t["type"] == "bar"}
    assert bars == {"chosen as common", "chosen as counter", "other backgrounds"}
    model = next(m.loader for m in load_zoo() if m.loader and m.family == "CLIP")
    at.multiselect(key="curate_models").set_value([model]).run()
    at.button(key="job_curate_queue").click().run()
    assert queued == [(model, report["dataset"], ["1vs1000", "1vs20"])]
    assert any("queued as job j1" in s.value for s in at.success)


def test_the_curate_chart_keeps_projector_sized_lines_in_the_presenter_view(demo_results, paper_copy, monkeypatch):
    from app.widgets.presenter import PRESENTER_ROWS

    monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(demo_results))
    lines = len(drawn_figures(open_page("curate"))[0]["layout"]["yaxis"]["categoryarray"])
    presented = drawn_figures(open_page("curate", present="1"))[0]["layout"]
    assert lines > PRESENTER_ROWS >= len(presented["yaxis"]["categoryarray"]) > 0
    assert " · first " in presented["title"]["text"] and presented["title"]["text"].endswith("classes")


def test_the_curate_page_says_how_to_curate_without_a_curation(paper_copy, results_dir):
    at = open_page("curate")
    assert any("counteranimal curate --photos DIR --out DIR" in i.value for i in at.info)


@pytest.mark.parametrize(("page", "key"), [("gallery", "gallery_run"), ("classes", "classes_model_a")])
def test_switching_the_dataset_shows_its_runs_and_stays(mixed, page, key):
    at = open_page(page)
    at.sidebar.selectbox(key="dataset").set_value("demo").run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="dataset").value == "demo"  # the run shown before does not pull it back
    assert "ca-run" not in str(at.selectbox(key=key).value)
    at.run()
    assert at.sidebar.selectbox(key="dataset").value == "demo"


def test_a_link_to_a_run_opens_its_dataset(mixed):
    demo_run = next(r.name for r in (mixed / "runs").iterdir() if '"demo"' in (r / "run.json").read_text())
    at = open_page("gallery", gallery_run=demo_run)
    assert at.sidebar.selectbox(key="dataset").value == "demo"
    assert at.selectbox(key="gallery_run").value == demo_run


@pytest.mark.parametrize("page", ["flips", "classes"])
def test_a_page_showing_two_runs_lets_the_dataset_change(mixed, page):
    at = open_page(page, dataset="demo")  # two demo runs shown side by side
    at.sidebar.selectbox(key="dataset").set_value("CounterAnimal").run()
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="dataset").value == "CounterAnimal"


def test_classes_takes_its_defaults_again_after_a_dataset_change(mixed):
    at = open_page("classes")  # CounterAnimal: the paper's per-class models
    at.sidebar.selectbox(key="dataset").set_value("demo").run()
    a, b = at.selectbox(key="classes_model_a").value, at.selectbox(key="classes_model_b").value
    assert a[0] == b[0] == "run" and a != b  # the first and second choices, not the first one twice
