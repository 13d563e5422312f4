"""Curation (`counteranimal curate`, `backgrounds suggest`): pairs chosen from a reference model's accuracy per
background, the curated dataset and its report. The reference model is the demo's ResNet, whose read-out was fitted
on each demo class's common-background photos only, so it is most accurate on that background."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from engine.cli import main
from engine.curation.select import Rules, background_scores, choose_pair, choose_pairs
from engine.curation.write import CURATION_FILE, CurationError, list_reports
from engine.dataset.collection import load_collection
from engine.dataset.reader import DatasetError, load_dataset, paper_classes
from engine.dataset.synthetic import write_collection
from engine.inference.curation import curate
from engine.inference.demo import DEMO_CLASSES, FEW_PHOTOS_CLASS, LONE_CLASS
from engine.inference.evaluator import EvalOptions, Evaluator
from engine.runs.format import ONE_VS_1000
from engine.runs.views import run_metrics
from engine.zoo.specs import spec_for


@pytest.fixture(scope="module")
def demo(demo_results: Path) -> Path:
    return demo_results.parent


def resnet(demo: Path) -> str:
    return f"timm:test_resnet@{demo / 'models' / 'demo-resnet.safetensors'}"


def options(results: Path, cache: Path) -> EvalOptions:
    return EvalOptions(results, cache, torch.device("cpu"), workers=1, progress=False, batch_size=64)


def tree_state(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file's bytes (hashed) and modification time."""
    return {
        p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_demo_curation_picks_the_background_the_model_leans_on(demo: Path) -> None:
    report = json.loads((demo / "curated" / CURATION_FILE).read_text())
    outcome = {c["class_id"]: c for c in report["classes"]}
    for class_id in DEMO_CLASSES:  # the read-out was fitted on this background: the most accurate
        assert outcome[class_id]["common"] == paper_classes()[class_id]["common_background"]
        assert outcome[class_id]["kept"] and outcome[class_id]["gap"] >= 5
    assert outcome[LONE_CLASS]["reason"] == "photos on 1 background only: a pair needs two"
    assert outcome[FEW_PHOTOS_CLASS]["reason"] == "0 background(s) with at least 5 photos: a pair needs two"
    dataset = load_dataset(demo / "curated")
    assert dataset.name == "demo curated"
    assert {c.class_id for c in dataset.classes} == set(DEMO_CLASSES)
    for folder in dataset.classes:
        assert (folder.common_background, folder.counter_background) == (
            outcome[folder.class_id]["common"],
            outcome[folder.class_id]["counter"],
        )
    assert [r["name"] for r in list_reports(demo / "results")] == ["demo curated"]


def test_pairs_agree_with_the_kept_runs_predictions(demo: Path) -> None:
    report = json.loads((demo / "curated" / CURATION_FILE).read_text())
    predictions = pd.read_parquet(demo / "results" / "runs" / report["reference"]["run_id"] / "predictions.parquet")
    predictions["background"] = predictions["background"].astype(str)
    accuracy = predictions.groupby(["class_id", "background"])["correct_1vs1000"].agg(["mean", "size"])
    for choice in report["classes"]:
        per_background = accuracy.loc[choice["class_id"]]
        for score in choice["backgrounds"]:
            assert score["accuracy"] == pytest.approx(100 * per_background.loc[score["background"], "mean"])
            assert score["photos"] == per_background.loc[score["background"], "size"]
            assert score["low"] <= score["accuracy"] <= score["high"]
        if choice["kept"]:
            eligible = per_background[per_background["size"] >= report["rules"]["min_photos"]]
            assert 100 * eligible["mean"].max() == pytest.approx(100 * per_background.loc[choice["common"], "mean"])
            assert 100 * eligible["mean"].min() == pytest.approx(100 * per_background.loc[choice["counter"], "mean"])
            assert choice["gap"] == pytest.approx(100 * (eligible["mean"].max() - eligible["mean"].min()))


def test_the_source_is_unchanged_and_a_rerun_is_a_no_op(demo: Path, tmp_path: Path) -> None:
    collection = shutil.copytree(demo / "collection", tmp_path / "photos", copy_function=shutil.copy2)
    before = tree_state(collection)
    opts = options(tmp_path / "results", demo / "cache")
    first = curate(collection, tmp_path / "curated", resnet(demo), Rules(min_photos=5), opts)
    curated = tree_state(tmp_path / "curated")
    second = curate(collection, tmp_path / "curated", resnet(demo), Rules(min_photos=5), opts)
    assert first.written and not second.written
    assert tree_state(collection) == before
    assert tree_state(tmp_path / "curated") == curated
    assert first.run_id == second.run_id and len(list((tmp_path / "results" / "runs").iterdir())) == 1
    photo = next((tmp_path / "curated").glob("*/common-*/*.jpg"))  # a hard link to the source photo
    assert photo.stat().st_nlink == 2


def test_a_manifest_gives_the_same_pairs_as_folders(demo: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "photos.csv"
    with manifest.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "class", "background"])
        for photo in sorted((demo / "collection").glob("*/*/*.jpg")):  # absolute paths, classes by name
            writer.writerow([photo, photo.parent.parent.name.split(" ", 1)[1], photo.parent.name])
    done = curate(manifest, tmp_path / "curated", resnet(demo), Rules(min_photos=5), options(tmp_path, demo / "cache"))
    expected = json.loads((demo / "curated" / CURATION_FILE).read_text())["classes"]
    assert json.loads(json.dumps([c.to_json() for c in done.choices])) == expected


def test_curated_dataset_evaluates_like_any_other(demo: Path, tmp_path: Path) -> None:
    dataset = load_dataset(demo / "curated")
    outcome = Evaluator(dataset, options(tmp_path, demo / "cache")).evaluate(resnet(demo))
    metrics = run_metrics(tmp_path).set_index("setup")
    manifest = json.loads((outcome.path / "run.json").read_text())
    assert manifest["dataset"]["name"] == "demo curated"
    assert metrics.loc[ONE_VS_1000, "classes"] == len(DEMO_CLASSES)
    assert metrics.loc[ONE_VS_1000, "common"] > metrics.loc[ONE_VS_1000, "counter"]  # the curated pairs are hard


def test_an_unknown_class_is_a_clear_error_and_writes_nothing(tmp_path: Path, capsys) -> None:
    write_collection(tmp_path / "photos", {296: {"snow": 1}})
    (tmp_path / "photos" / "unicorn" / "grass").mkdir(parents=True)
    shutil.copy(next((tmp_path / "photos").glob("*/snow/*.jpg")), tmp_path / "photos" / "unicorn" / "grass")
    code = main(["curate", "--photos", str(tmp_path / "photos"), "--out", str(tmp_path / "out"), "--model", "x"])
    assert code == 2
    assert "Class 'unicorn' is not an ImageNet-1K class" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_out_folder_holding_something_else_is_refused(demo: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(CurationError, match="holds other files"):
        curate(
            demo / "collection", tmp_path / "out", resnet(demo), Rules(min_photos=5), options(tmp_path, demo / "cache")
        )
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]


def test_a_class_whose_backgrounds_barely_differ_is_dropped_and_ties_go_to_more_photos() -> None:
    counts = pd.DataFrame({"background": ["snow", "grass", "rock"], "photos": [20, 30, 20], "correct": [18, 27, 17]})
    scores = background_scores(296, counts)
    choice = choose_pair(296, "ice bear", scores, Rules(min_photos=10, min_gap=5))
    assert (choice.common, choice.counter) == ("grass", "rock")  # snow and grass are both 90%: grass has more photos
    assert choice.kept and choice.gap == 5  # at the threshold: kept
    narrow = choose_pair(296, "ice bear", scores, Rules(min_photos=10, min_gap=6))
    assert narrow.reason == "accuracy varies by 5.0 points across backgrounds (< 6)"
    overlapping = choose_pair(296, "ice bear", scores, Rules(10, 1, drop_overlapping=True))
    assert overlapping.reason == "the common and counter accuracies' 95% intervals overlap"


def test_the_counter_among_equally_bad_backgrounds_is_the_best_measured() -> None:
    counts = pd.DataFrame(
        {"background": ["alpha", "beta", "delta", "gamma"], "photos": [30, 20, 10, 40], "correct": [30, 10, 5, 20]}
    )
    choice = choose_pair(1, "goldfish", background_scores(1, counts), Rules(min_photos=10))
    assert (choice.common, choice.counter) == ("alpha", "gamma")  # 50% on beta, delta, gamma: gamma has most photos


def test_an_interval_does_not_depend_on_the_other_classes() -> None:
    one = pd.DataFrame({"class_id": [1, 1], "background": ["a", "b"], "photos": [9, 9], "correct": [5, 2]})
    more = pd.concat([one, pd.DataFrame({"class_id": [0], "background": ["c"], "photos": [9], "correct": [4]})])
    (alone,) = choose_pairs(one, {0: "tench", 1: "goldfish"}, Rules(min_photos=1))
    with_other = choose_pairs(more, {0: "tench", 1: "goldfish"}, Rules(min_photos=1))[1]
    assert alone.backgrounds == with_other.backgrounds


@pytest.mark.parametrize(
    ("make_out", "name", "message"),
    [
        (lambda tmp: (tmp / "afile").write_text("x") and tmp / "afile", None, "is a file"),
        (lambda tmp: tmp / "photos" / "curated", None, "must not lie inside one another"),
        (lambda tmp: tmp / "CounterAnimal", None, "names the paper's dataset"),
        (lambda tmp: tmp / "out", "counteranimal", "names the paper's dataset"),
    ],
)
def test_an_out_or_name_curation_cannot_use_is_refused_before_evaluating(tmp_path, make_out, name, message) -> None:
    write_collection(tmp_path / "photos", {296: {"snow": 1}})
    with pytest.raises(CurationError, match=message):  # the model spec is never read: nothing is evaluated
        curate(tmp_path / "photos", make_out(tmp_path), "no:such-model", Rules(), options(tmp_path, tmp_path), name)


def test_backgrounds_suggest_writes_a_manifest_curate_reads(demo: Path, tmp_path: Path, capsys) -> None:
    clip = spec_for("local-dir", "", (demo / "models" / "demo-clip").resolve())
    out = tmp_path / "suggested.csv"
    args = ["backgrounds", "suggest", "--photos", str(demo / "collection"), "--model", clip, "--out", str(out)]
    assert main([*args, "--labels", "snow,grass,water,sand", "--cache", str(demo / "cache"), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(list((demo / "collection").glob("*/*/*.jpg")))
    assert {r["background"] for r in rows} <= {"snow", "grass", "water", "sand"}
    assert all(0 <= float(r["margin"]) <= 1 for r in rows)
    agree = sum(r["background"] == r["given"] for r in rows)
    assert f"agreement with the labels the photos came with: {agree}/{len(rows)}" in printed
    assert len(load_collection(out).images) == len(rows)  # the manifest is curate's input as it stands
    out.write_text(out.read_text() + "# reviewed\n")
    assert main([*args, "--cache", str(demo / "cache"), "--workers", "1"]) == 2  # an edited manifest is kept
    assert "exists (a manifest you may have edited)" in capsys.readouterr().err and "# reviewed" in out.read_text()


def test_a_manifest_naming_a_missing_photo_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,class,background\nnowhere.jpg,ice bear,snow\n")
    with pytest.raises(DatasetError, match="names 1 photo"):
        load_collection(tmp_path / "m.csv")


def test_a_damaged_report_copy_is_passed_over(demo: Path, tmp_path: Path) -> None:
    results = shutil.copytree(demo / "results" / "curations", tmp_path / "curations").parent
    (results / "curations" / "broken.json").write_text("{not json")
    (results / "curations" / "other.json").write_text("[1, 2]")
    assert [r["name"] for r in list_reports(results)] == ["demo curated"]


def test_nothing_kept_says_why_and_writes_nothing(demo: Path, tmp_path: Path) -> None:
    write_collection(tmp_path / "photos", {296: {"snow": 2, "grass": 2}})
    with pytest.raises(CurationError, match=r"No class was kept \(ice bear: 0 background\(s\) with at least 5 photos"):
        curate(
            tmp_path / "photos", tmp_path / "out", resnet(demo), Rules(min_photos=5), options(tmp_path, demo / "cache")
        )
    assert not (tmp_path / "out").exists()
