"""Vision-language (LVLM) runs on the pages: scored in 1 vs 20 only, drawn as their family next to the paper's LVLM
points, and never an empty view in 1 vs 1000."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from engine.runs import store
from engine.runs.format import LVLM_ANSWER, LVLM_QUESTION, ONE_VS_20, predictions_table
from tests.conftest import APP_MAIN, run_manifest
from tests.test_app import figures, open_overview_tables, open_page, served_files  # noqa: F401  (a fixture)

PAPER_PROTOCOL = {"question": LVLM_QUESTION, "answer": LVLM_ANSWER, "score": "mean"}
# Ice bear (296): both common photos right, one of two counter photos taken for an Arctic fox (279), in 1 vs 20.
ROWS = [("296/common/a.jpg", "common", 296), ("296/common/b.jpg", "common", 296)]
ROWS += [("296/counter/c.jpg", "counter", 296), ("296/counter/d.jpg", "counter", 279)]


def write_run(results: Path, run_id: str, family: str, setups: list[str], lvlm: dict | None = None) -> None:
    """A hand-written run answering `ROWS` in `setups` (the others all null, as the engine writes them)."""
    labels = {"classnames": "wordnet", "templates": None} | ({"lvlm": lvlm} if lvlm else {})
    spec = "hf:/models/tiny-llava" if family == "LVLM" else "timm:test_resnet@/w.pt"
    manifest = run_manifest(
        run_id, model={"spec": spec, "family": family}, labels=labels, setups=setups, images={"evaluated": len(ROWS)}
    )
    columns = {
        "image_id": [r[0] for r in ROWS],
        "class_id": pa.array([296] * len(ROWS), pa.int16()),
        "split": [r[1] for r in ROWS],
        "background": ["snow" if r[1] == "common" else "grass" for r in ROWS],
    }
    for setup in setups:
        suffix = "" if setup != ONE_VS_20 else "_1vs20"
        columns |= {
            f"pred_{setup}": pa.array([r[2] for r in ROWS], pa.int16()),
            f"correct_{setup}": [r[2] == 296 for r in ROWS],
            f"top5{suffix}_ids": pa.array([[r[2], 279, 1, 2, 3] for r in ROWS], pa.list_(pa.int16(), 5)),
            f"top5{suffix}_probs": pa.array([[0.6, 0.1, 0.1, 0.1, 0.1] for _ in ROWS], pa.list_(pa.float32(), 5)),
        }
    store.write_run(results, manifest, predictions_table(columns))


@pytest.fixture
def app(results_dir, paper_copy, cache_dir) -> AppTest:
    """The app over one vision-language run of the paper's protocol, and one ImageNet run of both setups."""
    write_run(results_dir, "llava-run", "LVLM", [ONE_VS_20], PAPER_PROTOCOL)
    write_run(results_dir, "resnet-run", "ImageNet", ["1vs1000", ONE_VS_20])
    return AppTest.from_file(APP_MAIN, default_timeout=60)


def captions(app: AppTest) -> str:
    return " ".join(c.value for c in app.caption)


def infos(app: AppTest) -> str:
    return " ".join(i.value for i in app.info)


def test_the_1vs20_overview_draws_an_lvlm_run_as_its_family_next_to_the_papers_lvlms(app):
    app.query_params["setup"] = ONE_VS_20
    open_page(app)
    (figure,) = figures(app)
    traces = {trace.name: trace for trace in figure.data}
    assert len(traces["LVLM"].x) == 2  # MiniGPT4-Viccuna7B and LLaVA1.5-7B, published
    lvlm_runs = traces["evaluated here · LVLM"]
    assert len(lvlm_runs.x) == 1 and lvlm_runs.marker.symbol == "star-diamond"
    assert lvlm_runs.marker.color == "#CC79A7"  # the paper's LVLM colour
    assert len(traces["evaluated here"].x) == 1  # the ImageNet run, a black star as before
    runs = open_overview_tables(app).dataframe[-1].value.set_index("run_id")
    assert runs.loc["llava-run", "family"] == "LVLM" and runs.loc["llava-run", "protocol"] == "default"
    assert (runs.loc["llava-run", "common"], runs.loc["llava-run", "counter"]) == (100.0, 50.0)


def test_the_1vs20_runs_csv_lists_the_lvlm_run_with_its_family_and_protocol(app, request):
    files = request.getfixturevalue("served_files")  # by name: the fixture is imported from test_app
    app.query_params["setup"] = ONE_VS_20
    open_page(app)
    (button,) = [b for b in app.get("download_button") if b.proto.label.startswith("Download evaluated runs")]
    csv = pd.read_csv(io.BytesIO(files[Path(button.proto.url).stem])).set_index("run_id")
    assert csv.loc["llava-run", ["family", "protocol", "setup"]].tolist() == ["LVLM", "default", ONE_VS_20]


def test_the_1vs1000_overview_says_the_lvlm_run_is_scored_in_1vs20_only(app):
    app.query_params["setup"] = "1vs1000"
    open_page(app)
    assert "1 vision-language run is scored in 1 vs 20 only, so it has no 1 vs 1000 answers" in captions(app)
    (figure,) = figures(app)
    assert "evaluated here · LVLM" not in {trace.name for trace in figure.data}


@pytest.mark.parametrize("page", ["gallery", "confusions"])
def test_a_per_run_page_in_1vs1000_says_the_lvlm_run_has_none_and_shows_1vs20(app, page):
    app.query_params |= {f"{page}_run": "llava-run", f"{page}_setup": "1vs1000"}  # e.g. a link made for another run
    open_page(app, page)
    assert "This run has no 1 vs 1000 answers: vision-language models are scored in 1 vs 20 only. Showing 1 vs 20." in (
        infos(app)
    )
    assert app.radio(key=f"{page}_setup").value == ONE_VS_20
    assert not app.error and "None" not in captions(app)


def test_the_gallery_in_1vs20_shows_the_lvlm_runs_answers_with_a_note(app):
    app.query_params |= {"gallery_run": "llava-run"}
    open_page(app, "gallery")
    assert app.radio(key="gallery_setup").options == ["1 vs 20"] and not app.info
    assert "This run has no 1 vs 1000 answers" in captions(app)
    marks = [m.value for m in app.markdown if m.value.startswith(":")]
    assert len(marks) == 4 and sum("✗" in m for m in marks) == 1  # the counter photo taken for an Arctic fox


def test_the_classes_page_offers_the_lvlm_run_in_1vs20_only(app):
    app.query_params["classes_model_a"] = "run|llava-run|1vs1000"
    open_page(app, "classes")
    offered = [o for o in app.selectbox(key="classes_model_a").options if "llava-run" in o]
    assert offered == ["tiny-llava (hf) (run llava-run) · 1 vs 20"]
    assert "tiny-llava (hf) has no 1 vs 1000 answers: vision-language models are scored in 1 vs 20 only" in infos(app)
    assert "1 vision-language run is scored in 1 vs 20 only" in captions(app)
    assert app.selectbox(key="classes_model_a").value == ("run", "llava-run", ONE_VS_20)


def test_flips_of_an_lvlm_run_compare_in_1vs20_and_say_why(app):
    app.query_params |= {"flips_run_a": "resnet-run", "flips_run_b": "llava-run", "flips_setup": "1vs1000"}
    open_page(app, "flips")
    assert "Run B (tiny-llava (hf)) has no 1 vs 1000 answers" in infos(app)
    assert app.radio(key="flips_setup").value == ONE_VS_20


def test_a_custom_question_lvlm_run_is_custom_and_its_protocol_names_the_question(app, results_dir):
    question = {"question": "Which animal is this?", "answer": "It is a {}", "score": "sum"}
    write_run(results_dir, "asked-run", "LVLM", [ONE_VS_20], question)
    app.query_params["setup"] = ONE_VS_20
    open_page(app)
    runs = open_overview_tables(app).dataframe[-1].value.set_index("run_id")
    protocol = 'custom: question "Which animal is this?", answer "It is a {}", sum loss'
    assert runs.loc["asked-run", "protocol"] == protocol
    assert runs.loc["llava-run", "protocol"] == "default"
    open_page(app, "gallery")
    assert any("asked-run" in o and "· custom ·" in o for o in app.selectbox(key="gallery_run").options)
