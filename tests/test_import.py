"""`counteranimal import`: predictions made elsewhere become a run that every page shows like an evaluation, and a
file that does not fit the dataset is refused in words, with nothing written."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from engine.dataset.reader import load_dataset
from engine.inference.labels import default_candidates_path, load_candidates
from engine.runs.imports import ImportOptions, PredictionsFileError, import_predictions
from engine.runs.views import run_metrics

METRICS = ["setup", "common", "counter", "drop", "common_unbalanced", "counter_unbalanced", "images", "classes"]


@pytest.fixture(scope="module")
def engine_run(tmp_path_factory, dataset_dir, tiny_timm) -> Path:
    """A results folder holding one engine run of timm's tiny ResNet, both setups."""
    from engine.inference.evaluator import EvalOptions, Evaluator

    root = tmp_path_factory.mktemp("engine-run")
    options = EvalOptions(
        results=root / "results", cache=root / "cache", device=torch.device("cpu"), workers=1, progress=False
    )
    with Evaluator(load_dataset(dataset_dir), options) as evaluator:
        return evaluator.evaluate(f"timm:test_resnet@{tiny_timm}").path


@pytest.fixture
def results(tmp_path, engine_run) -> Path:
    """A copy of the engine run's results folder, to import into."""
    return Path(shutil.copytree(engine_run.parents[1], tmp_path / "results"))


def exported(engine_run: Path) -> pd.DataFrame:
    """The engine run's predictions as plain columns, as code of one's own would write them."""
    table = pq.read_table(engine_run / "predictions.parquet").to_pandas()
    return table.assign(split=table["split"].astype(str), background=table["background"].astype(str))


def options(results: Path, **overrides) -> ImportOptions:
    base = {
        "results": results,
        "name": "Imported ResNet",
        "family": "ImageNet",
        "candidates": load_candidates(),
        "candidates_file": str(default_candidates_path()),
    }
    return ImportOptions(**(base | overrides))


def metrics(results: Path, run_id: str) -> list[dict]:
    rows = run_metrics(results)
    return rows[rows["run_id"] == run_id][METRICS].to_dict("records")


def import_file(path: Path, dataset_dir: Path, results: Path, **overrides):
    return import_predictions(path, load_dataset(dataset_dir), options(results, **overrides))


def runs(results: Path) -> list[str]:
    return sorted(p.name for p in (results / "runs").iterdir())


# ---- an engine run's predictions, imported, measure the same ---------------------------------------------------


def test_a_run_s_own_predictions_file_reimports_with_identical_metrics(results, engine_run, dataset_dir):
    done = import_file(engine_run / "predictions.parquet", dataset_dir, results)
    assert not done.skipped and done.setups == ("1vs1000", "1vs20") and done.rows == 24
    assert metrics(results, done.run_id) == metrics(results, engine_run.name)
    assert len(metrics(results, done.run_id)) == 2
    mine, theirs = (pq.read_table(p / "predictions.parquet") for p in (done.path, engine_run))
    assert mine.equals(theirs)  # the same table, top-5 scores and probabilities included


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    lists = {c: frame[c].map(lambda ids: " ".join(str(i) for i in ids)) for c in ("top5_ids", "top5_1vs20_ids")}
    frame.assign(**lists)[["image_id", "pred_1vs1000", "pred_1vs20", *lists]].to_csv(path, index=False)
    return path


def write_jsonl(frame: pd.DataFrame, path: Path) -> Path:
    columns = ["image_id", "pred_1vs1000", "pred_1vs20", "top5_ids", "top5_scores"]
    rows = frame[columns].assign(top5_ids=frame["top5_ids"].map(list), top5_scores=frame["top5_scores"].map(list))
    path.write_text("".join(json.dumps(r, default=float) + "\n" for r in rows.to_dict("records")))
    return path


@pytest.mark.parametrize("write", [write_csv, write_jsonl])
def test_a_csv_or_json_lines_file_of_the_same_predictions_gives_the_same_metrics(
    write, results, engine_run, dataset_dir, tmp_path
):
    path = write(exported(engine_run), tmp_path / ("preds.csv" if write is write_csv else "preds.jsonl"))
    done = import_file(path, dataset_dir, results)
    assert metrics(results, done.run_id) == metrics(results, engine_run.name)
    manifest = json.loads((done.path / "run.json").read_text())
    assert manifest["model"]["spec"] == f"imported:{path.name}" and manifest["model"]["name"] == "Imported ResNet"
    assert manifest["model"]["checkpoint"] | {"file": None} == {
        "source": "imported", "sha256": manifest["identity"]["imported"], "rows": 24, "file": None
    }  # fmt: skip


def test_an_imported_file_s_metrics_are_the_paper_s_class_balanced_accuracy(results, engine_run, dataset_dir, tmp_path):
    # Right: 1 vs 1000 on the ice bears' common photos only; 1 vs 20 on every common photo. Wrong elsewhere: class 0
    # (tench) in 1 vs 1000, and in 1 vs 20 another of the class's candidates.
    frame, candidates = exported(engine_run), load_candidates()
    common, bear = frame["split"] == "common", frame["class_id"] == 296
    other = frame["class_id"].map(lambda c: next(i for i in candidates[c] if i != c))
    frame = frame.assign(
        pred_1vs1000=frame["class_id"].where(common & bear, 0), pred_1vs20=frame["class_id"].where(common, other)
    )
    path = tmp_path / "hits.csv"
    frame[["image_id", "pred_1vs1000", "pred_1vs20"]].to_csv(path, index=False)
    done = import_file(path, dataset_dir, results)
    found = {m["setup"]: (m["common"], m["counter"], m["drop"]) for m in metrics(results, done.run_id)}
    assert found == {"1vs1000": (pytest.approx(100 / 3), 0, pytest.approx(100 / 3)), "1vs20": (100, 0, 100)}


def test_paths_in_the_other_layout_and_below_the_dataset_folder_find_their_photos(
    results, engine_run, dataset_dir, tmp_path
):
    frame = exported(engine_run)
    # "100 black swan/common-water/0000.jpg" -> "/elsewhere/CounterAnimal/black swan/common-water/0000.jpg"
    named = frame["image_id"].str.replace(r"^\d+ ", "", regex=True)
    frame = frame.assign(path="/elsewhere/CounterAnimal/" + named).drop(columns="image_id")
    path = tmp_path / "named.parquet"
    frame[["path", "pred_1vs1000", "pred_1vs20"]].to_parquet(path)
    done = import_file(path, dataset_dir, results)
    assert metrics(results, done.run_id) == metrics(results, engine_run.name)


def test_a_setup_not_in_the_file_stays_empty(results, engine_run, dataset_dir, tmp_path):
    path = tmp_path / "only1000.csv"
    exported(engine_run)[["image_id", "pred_1vs1000"]].to_csv(path, index=False)
    done = import_file(path, dataset_dir, results)
    assert done.setups == ("1vs1000",) and json.loads((done.path / "run.json").read_text())["setups"] == ["1vs1000"]
    table = pq.read_table(done.path / "predictions.parquet").to_pandas()
    assert table["pred_1vs20"].isna().all() and table["top5_1vs20_ids"].isna().all()
    assert [ids[0] for ids in table["top5_ids"]] == table["pred_1vs1000"].tolist()  # the prediction, then unknowns
    assert table["top5_ids"].map(lambda ids: pd.isna(ids[1:]).all()).all()
    assert table["top5_probs"].map(lambda probs: np.isnan(probs).all()).all()  # unknown numbers
    assert [m["setup"] for m in metrics(results, done.run_id)] == ["1vs1000"]


def test_importing_the_same_file_again_writes_nothing_and_takes_the_new_name(results, engine_run, dataset_dir):
    first = import_file(engine_run / "predictions.parquet", dataset_dir, results)
    before = (first.path / "predictions.parquet").stat().st_mtime_ns
    again = import_file(engine_run / "predictions.parquet", dataset_dir, results, name="Renamed")
    assert (again.skipped, again.renamed, again.run_id) == (True, True, first.run_id)
    assert (first.path / "predictions.parquet").stat().st_mtime_ns == before
    assert json.loads((first.path / "run.json").read_text())["model"]["name"] == "Renamed"


def test_a_few_missing_photos_are_allowed_when_asked_and_recorded_as_skipped(
    results, engine_run, dataset_dir, tmp_path
):
    frame = exported(engine_run)
    path = tmp_path / "one-missing.csv"
    frame.iloc[1:][["image_id", "pred_1vs1000"]].to_csv(path, index=False)
    done = import_file(path, dataset_dir, results, allow_missing=True)
    manifest = json.loads((done.path / "run.json").read_text())
    assert manifest["skipped_files"] == [{"image_id": frame["image_id"][0], "reason": "not in the imported file"}]
    assert manifest["images"]["evaluated"] == 23


# ---- bad files: refused with their message, nothing written ------------------------------------------------------


def _unknown_path(frame):
    return pd.concat([frame, frame.iloc[:1].assign(image_id="296 ice bear/common-snow/not-a-photo.jpg")])


def _duplicate(frame):
    return pd.concat([frame, frame.iloc[2:3]])


def _out_of_range(frame):
    return frame.assign(pred_1vs1000=[1000] + frame["pred_1vs1000"].tolist()[1:])


def _not_a_candidate(frame):
    return frame.assign(pred_1vs20=[0] + frame["pred_1vs20"].tolist()[1:])  # tench: no animal's candidate


def _missing_photos(frame):
    return frame.iloc[2:]


def _top5_of_another_prediction(frame):
    return frame.assign(top5_ids=[[1, 2, 3, 4, 5]] + frame["top5_ids"].tolist()[1:])


def _top5_naming_a_class_twice(frame):
    first = frame["top5_ids"].iloc[0]
    return frame.assign(top5_ids=[[first[0], first[0], *first[2:]]] + frame["top5_ids"].tolist()[1:])


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_unknown_path, "paths that are not photos of the dataset (1): '296 ice bear/common-snow/not-a-photo.jpg'"),
        (_duplicate, "photos that appear more than once (1): 100 black swan/common-water/0002.jpg"),
        (_out_of_range, "not ImageNet-1K indices (whole numbers 0-999) (1): 100 black swan/common-water/0000.jpg"),
        (_not_a_candidate, "outside the 20 candidates of the photo's class (1): 100 black swan/common-water/0000.jpg"),
        (_missing_photos, "photos of the dataset missing from the file (2): 100 black swan/common-water/0000.jpg"),
        (_top5_of_another_prediction, "top-5 lists that are not up to 5 numbers, best first, starting with the"),
        (_top5_naming_a_class_twice, "names a class twice"),
    ],
)
def test_a_file_that_does_not_fit_the_dataset_is_refused_and_nothing_is_written(
    spoil, message, results, engine_run, dataset_dir, tmp_path
):
    path = tmp_path / "bad.parquet"
    columns = ["image_id", "pred_1vs1000", "pred_1vs20", "top5_ids"]
    spoil(exported(engine_run)[columns]).to_parquet(path)
    before = runs(results)
    with pytest.raises(PredictionsFileError, match="nothing was written") as refused:
        import_file(path, dataset_dir, results)
    assert message in str(refused.value)
    assert runs(results) == before and not list((results / ".partial").glob("*"))


def test_every_kind_of_problem_is_named_in_one_message(results, engine_run, dataset_dir, tmp_path):
    path = tmp_path / "bad.parquet"
    _out_of_range(_duplicate(_unknown_path(exported(engine_run)[["image_id", "pred_1vs1000"]]))).to_parquet(path)
    with pytest.raises(PredictionsFileError) as refused:
        import_file(path, dataset_dir, results)
    assert {"not photos of the dataset (1)", "more than once (1)", "not ImageNet-1K indices"} <= {
        part for part in ("not photos of the dataset (1)", "more than once (1)", "not ImageNet-1K indices")
        if part in str(refused.value)
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("preds.parquet", b"\x00garbage, not parquet", "Cannot read preds.parquet as Parquet"),
        ("preds.csv", b"file,label\na.jpg,3\n", "preds.csv has no image_id (or path) column; its columns: file, label"),
        (
            "preds.csv",
            b"image_id,score\na.jpg,3\n",
            "holds no predictions: none of its columns (image_id, score) is one of pred_1vs1000, top5_ids",
        ),
        ("preds.csv", b"path\na.jpg\n", "holds no predictions: none of its columns (path) is one of"),
        ("preds.csv", b"image_id,top5_scores\na.jpg,[0.5]\n", "none of its columns (image_id, top5_scores) is one of"),
        ("preds.csv", b"image_id,pred_1vs1000\na.jpg,\n", "holds no predictions: its prediction columns are empty"),
        ("preds.csv", b"image_id,pred_1vs1000\n", "preds.csv has no rows"),
        ("preds.txt", b"a.jpg 3\n", "give predictions as .csv, .parquet or .jsonl"),
        ("preds.jsonl", b"{not json\n", "Cannot read preds.jsonl as JSON lines"),
    ],
)
def test_an_unreadable_file_or_one_without_the_columns_is_refused(
    name, content, message, results, dataset_dir, tmp_path
):
    path = tmp_path / name
    path.write_bytes(content)
    before = runs(results)
    with pytest.raises(PredictionsFileError) as refused:
        import_file(path, dataset_dir, results)
    assert message in str(refused.value) and runs(results) == before


# ---- the command and the pages ------------------------------------------------------------------------------------


def test_the_command_prints_the_run_and_says_when_a_file_is_imported_already(capsys, results, engine_run, dataset_dir):
    from engine import cli

    args = ["import", "--predictions", str(engine_run / "predictions.parquet"), "--name", "Mine"]
    args += ["--data", str(dataset_dir), "--results", str(results), "--family", "ImageNet"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "imported 24 photos (1vs1000, 1vs20) as run" in out and "written to" in out
    assert cli.main(args) == 0 and "is already imported as run" in capsys.readouterr().out


def test_the_command_refuses_a_bad_file_in_one_line(capsys, results, dataset_dir, tmp_path):
    from engine import cli

    path = tmp_path / "preds.csv"
    path.write_text("image_id,pred_1vs1000\nnope.jpg,3\n")
    code = cli.main(["import", "--predictions", str(path), "--name", "x", "--data", str(dataset_dir)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: preds.csv was not imported") and len(err.splitlines()) == 1


@pytest.fixture
def app_on(paper_copy, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import APP_MAIN

    def opened(results: Path, page: str | None = None) -> AppTest:
        monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(results))
        monkeypatch.setenv("COUNTERANIMAL_CACHE", str(tmp_path / "cache"))
        app = AppTest.from_file(APP_MAIN, default_timeout=60)
        if page:
            app.switch_page(f"app_pages/{page}.py")
        app.run()
        assert not app.exception, app.exception
        return app

    return opened


def test_the_overview_shows_an_imported_run_with_the_engine_run_s_numbers(app_on, results, engine_run, dataset_dir):
    import_file(engine_run / "predictions.parquet", dataset_dir, results)
    app = app_on(results)
    from tests.test_app import open_overview_tables

    rows = open_overview_tables(app).dataframe[-1].value.set_index("model")  # the table of runs evaluated here
    numbers = ["family", "images", "common", "counter", "drop", "drop 95% CI", "eff. robustness", "protocol"]
    (engine_name,) = [n for n in rows.index if n != "Imported ResNet"]
    assert rows.loc["Imported ResNet", numbers].tolist() == rows.loc[engine_name, numbers].tolist()


@pytest.mark.parametrize("page", ["overview", "classes", "gallery", "confusions", "flips", "scaling", "evaluate"])
def test_every_page_shows_a_folder_with_an_imported_run(page, app_on, results, engine_run, dataset_dir, tmp_path):
    path = tmp_path / "only1000.csv"
    exported(engine_run)[["image_id", "pred_1vs1000"]].to_csv(path, index=False)
    import_file(path, dataset_dir, results, family="other")  # one setup, a family of its own
    import_file(engine_run / "predictions.parquet", dataset_dir, results, name="Same as the engine's")
    assert app_on(results, page).title


def test_the_evaluate_page_explains_imports_and_python_specs_for_the_terminal(app_on, results):
    app = app_on(results, "evaluate")
    (help_,) = [e for e in app.expander if e.label == "Other frameworks and your own code"]
    text = " ".join(m.value for m in help_.markdown)
    assert "counteranimal import --predictions" in text and "python:mypackage.models:build" in text
    assert "never runs code of yours" in text


@pytest.fixture
def imported_without_top5(tmp_path, engine_run, dataset_dir) -> Path:
    """A results folder with one import of predictions alone: no top-5, no probabilities."""
    path = tmp_path / "only-preds.csv"
    exported(engine_run)[["image_id", "pred_1vs1000", "pred_1vs20"]].to_csv(path, index=False)
    import_file(path, dataset_dir, tmp_path / "imported-only")
    return tmp_path / "imported-only"


def test_the_gallery_shows_an_import_without_top5_or_probabilities(app_on, imported_without_top5):
    app = app_on(imported_without_top5, "gallery")
    assert len(app.get("image")) == 8


def test_an_enlarged_photo_of_an_import_without_top5_shows_its_prediction(app_on, imported_without_top5):
    app = app_on(imported_without_top5, "gallery")
    picker = app.selectbox(key="zoom_pick")
    picker.select(picker.options[0]).run()
    assert not app.exception
