"""Run queries against hand-written runs with known answers."""

import pyarrow as pa
import pytest

from app import run_queries
from app.queries import Sources
from engine.runs import store
from engine.runs.format import predictions_table
from tests.conftest import run_manifest

CLIP_PAPER = {"labels": {"classnames": "wordnet", "templates": ["A photo of {}."]}}


def manifest(run_id, model_id, family, labels=None, started="2026-11-01T00:00:00"):
    labels = labels if labels is not None else {"classnames": "wordnet", "templates": None}
    model = {"spec": model_id, "family": family}
    return run_manifest(run_id, model=model, labels=labels, started_at=started, images={"evaluated": 9})


def predictions(rows):
    """rows: (image_id, class_id, split, pred_1vs1000, pred_1vs20)."""
    top = pa.list_(pa.int16(), 5)
    probs = pa.list_(pa.float32(), 5)
    return predictions_table(
        {
            "image_id": [r[0] for r in rows],
            "class_id": pa.array([r[1] for r in rows], pa.int16()),
            "split": [r[2] for r in rows],
            "background": ["snow" if r[2] == "common" else "grass" for r in rows],
            "pred_1vs1000": pa.array([r[3] for r in rows], pa.int16()),
            "correct_1vs1000": [r[3] == r[1] for r in rows],
            "pred_1vs20": pa.array([r[4] for r in rows], pa.int16()),
            "correct_1vs20": [r[4] == r[1] for r in rows],
            "top5_ids": pa.array([[r[3], 1, 2, 3, 4] for r in rows], top),
            "top5_probs": pa.array([[0.6, 0.1, 0.1, 0.1, 0.1] for _ in rows], probs),
            "top5_1vs20_ids": pa.array([[r[4], 1, 2, 3, 4] for r in rows], top),
            "top5_1vs20_probs": pa.array([[0.9, 0.1, 0.0, 0.0, 0.0] for _ in rows], probs),
        }
    )


# Ice bear (296): 2 common photos, both right in run A; 2 counter photos, A: one right, one an Arctic fox (279).
# Run B (ImageNet, a published model): common 1 of 2, counter 2 of 2.
A_ROWS = [("c1.jpg", 296, "common", 296, 296), ("c2.jpg", 296, "common", 296, 296)]
A_ROWS += [("k1.jpg", 296, "counter", 296, 296), ("k2.jpg", 296, "counter", 279, 279)]
B_ROWS = [("c1.jpg", 296, "common", 296, 296), ("c2.jpg", 296, "common", 150, 296)]
B_ROWS += [("k1.jpg", 296, "counter", 296, 296), ("k2.jpg", 296, "counter", 296, 296)]
# Ostrich (9), the same answers in both runs, in groups of other sizes: common 1 of 4 right, counter 1 of 1. Run A's
# class-balanced accuracy is then common (100 + 25) / 2 = 62.5 and counter (50 + 100) / 2 = 75, not the per-image
# 3 / 6 = 50 and 2 / 3 = 66.7.
OSTRICH = [(f"o{i}.jpg", 9, "common", 9 if i == 1 else 130, 9) for i in range(1, 5)] + [("ok.jpg", 9, "counter", 9, 9)]
A_ROWS += OSTRICH
B_ROWS += OSTRICH
RESNET = "torchvision:resnet50/IMAGENET1K_V1"


@pytest.fixture
def sources(tmp_path, paper_copy, monkeypatch):
    monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(tmp_path))
    store.write_run(
        tmp_path, manifest("run-a", "open_clip:mine@/w.pt", "CLIP", CLIP_PAPER["labels"]), predictions(A_ROWS)
    )
    store.write_run(tmp_path, manifest("run-b", RESNET, "ImageNet", started="2026-11-02"), predictions(B_ROWS))
    return Sources.current()


def test_runs_are_listed_with_the_variant_they_reproduce(sources):
    runs = run_queries.run_list(sources).set_index("run_id")
    assert runs.loc["run-a", "variant"] == "default" and runs.loc["run-b", "variant"] == "default"
    assert runs.loc["run-b", "name"] == "RN50"  # a zoo model is named as in the paper
    assert runs.loc["run-a", "name"] == "mine · w"  # outside the zoo: architecture and weight file, no path


def test_run_scores_are_class_balanced_and_described_by_the_zoo(sources):
    scores = run_queries.run_scores(sources, "1vs1000", "default").set_index("run_id")
    assert (scores.loc["run-a", "common"], scores.loc["run-a", "counter"]) == (62.5, 75.0)
    assert scores.loc["run-a", "drop"] == -12.5
    assert scores.loc["run-b", "common"] == pytest.approx(37.5) and scores.loc["run-b", "counter"] == 100.0
    assert scores.loc["run-b", "backbone"] == "RN50" and scores.loc["run-b", "params_m"] > 20
    assert scores.loc["run-a", "source"] == "evaluated here"


def test_an_80_prompt_run_is_not_the_papers_protocol(sources, tmp_path):
    labels = {"classnames": "wordnet", "templates": [f"t{i} {{}}" for i in range(80)]}
    store.write_run(tmp_path, manifest("run-c", "open_clip:x@/y.pt", "CLIP", labels), predictions(A_ROWS))
    assert run_queries.run_scores(sources, "1vs1000", "openai_80_prompt_ensemble")["run_id"].tolist() == ["run-c"]
    assert "run-c" not in set(run_queries.run_scores(sources, "1vs1000", "default")["run_id"])


def test_group_counts_feed_the_bootstrap(sources):
    counts = run_queries.group_counts(sources, "1vs1000").set_index(["run_id", "class_id", "split"])
    assert counts.loc[("run-a", 296, "counter"), ["images", "hits"]].tolist() == [2, 1]
    assert counts.loc[("run-a", 9, "common"), ["images", "hits"]].tolist() == [4, 1]


def test_per_class_of_a_run_with_counts(sources):
    bear, ostrich = run_queries.run_per_class(sources, "run-a", "1vs1000").itertuples()  # worst drop first
    assert (bear.label, bear.common, bear.counter, bear.drop) == ("ice bear (snow → grass)", 100.0, 50.0, 50.0)
    assert (bear.n_common, bear.n_counter) == (2, 2)
    assert (ostrich.class_id, ostrich.common, ostrich.counter, ostrich.drop) == (9, 25.0, 100.0, -75.0)
    assert (ostrich.n_common, ostrich.n_counter) == (4, 1)


def test_confusions_name_what_photos_are_taken_for(sources):
    (row,) = run_queries.confusions(sources, "run-a", 296, "counter", "1vs1000").itertuples()
    assert (row.label, row.photos, list(row.image_ids)) == ("Arctic fox", 1, ["k2.jpg"])


def test_flips_count_counter_photos_one_run_gets_right(sources):
    bear, ostrich = run_queries.flips(sources, "run-b", "run-a", "1vs1000").itertuples()
    assert (bear.class_id, bear.a_only, bear.b_only, list(bear.a_only_images)) == (296, 1, 0, ["k2.jpg"])
    assert (ostrich.class_id, ostrich.a_only, ostrich.b_only) == (9, 0, 0)  # the same answers in both runs


def test_paired_counts_split_photos_into_four_outcomes(sources):
    counts = run_queries.paired_counts(sources, "run-a", "run-b", "1vs1000").set_index(["class_id", "split"])
    outcomes = ["both", "only_a", "only_b", "neither"]
    assert counts.loc[(296, "common"), outcomes].tolist() == [1, 1, 0, 0]
    assert counts.loc[(296, "counter"), outcomes].tolist() == [1, 0, 1, 0]
    assert counts.loc[(9, "common"), outcomes].tolist() == [1, 0, 0, 3]


def test_gallery_rows_carry_both_setups(sources):
    rows = run_queries.gallery_rows(sources, "run-a", 296).set_index("image_id")
    assert rows.loc["k2.jpg", "pred_1vs1000"] == 279 and not rows.loc["k2.jpg", "correct_1vs20"]
    assert list(rows.loc["k2.jpg", "top5_1vs20_ids"])[0] == 279


def test_no_runs_no_rows(tmp_path, paper_copy, monkeypatch):
    monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(tmp_path / "empty"))
    sources = Sources.current()
    assert run_queries.run_list(sources).empty and run_queries.run_scores(sources, "1vs20", "default").empty


LVLM_PAPER = {"question": "What is the main object in the image?", "answer": "A {}", "score": "mean"}


def lvlm_run(tmp_path, run_id, spec, lvlm, classnames="wordnet"):
    """A vision-language run: 1 vs 20 only, its question, answer and score in `labels.lvlm`."""
    labels = {"classnames": classnames, "templates": None, "lvlm": lvlm}
    manifest = run_manifest(
        run_id, model={"spec": spec, "family": "LVLM"}, labels=labels, setups=["1vs20"], images={"evaluated": 9}
    )
    rows = predictions(A_ROWS).drop_columns(["pred_1vs1000", "correct_1vs1000", "top5_ids", "top5_probs"])
    store.write_run(tmp_path, manifest, predictions_table({n: rows[n].combine_chunks() for n in rows.column_names}))


def test_an_lvlm_run_of_the_papers_protocol_is_default_and_another_question_is_custom(sources, tmp_path):
    lvlm_run(tmp_path, "run-paper", "hf:/m/llava", LVLM_PAPER)
    lvlm_run(tmp_path, "run-sum", "hf:/m/llava", LVLM_PAPER | {"score": "sum"})
    lvlm_run(tmp_path, "run-asked", "hf:/m/llava", LVLM_PAPER | {"question": "Which animal?"})
    variants = run_queries.run_list(sources).set_index("run_id")["variant"]
    assert variants[["run-paper", "run-sum", "run-asked"]].tolist() == ["default", "custom", "custom"]
    scores = run_queries.run_scores(sources, "1vs20", "default").set_index("run_id")
    assert scores.loc["run-paper", "protocol"] == "default" and scores.loc["run-paper", "family"] == "LVLM"
    assert scores.loc["run-asked", "protocol"] == 'custom: question "Which animal?", answer "A {}", mean loss'
    assert scores.loc["run-sum", "protocol"].endswith("sum loss")


def test_a_run_of_a_zoo_lvlm_is_the_papers_model(sources, tmp_path):
    lvlm_run(tmp_path, "run-llava", "hf:llava-hf/llava-1.5-7b-hf", LVLM_PAPER)  # what `lvlm:llava-1.5-7b` records
    assert run_queries.run_list(sources).set_index("run_id").loc["run-llava", "name"] == "LLaVA1.5-7B"
    scores = run_queries.run_scores(sources, "1vs20", "default").set_index("run_id")
    assert scores.loc["run-llava", ["model_id", "name"]].tolist() == ["lvlm:llava-1.5-7b", "LLaVA1.5-7B"]
