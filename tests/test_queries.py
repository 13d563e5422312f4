"""The dashboard's SQL against the shipped tables and against hand-written and broken ones."""

import pandas as pd
import pytest

from app import queries
from app.queries import DataError, Sources


@pytest.fixture
def sources(paper_copy, results_dir) -> Sources:
    return Sources.current()


def write_csv(path, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_csv(path, index=False)


def test_sources_follow_the_environment(paper_copy, results_dir):
    sources = Sources.current()
    assert (sources.paper, sources.results) == (paper_copy, results_dir)


def test_model_scores_join_descriptions_and_scores(sources):
    rows = queries.model_scores(sources, "1vs1000", "default")
    assert len(rows) == 43 and rows["model_id"].is_unique
    rn50 = rows.set_index("model_id").loc["torchvision:resnet50/IMAGENET1K_V1"]
    assert (rn50["name"], rn50["common"], rn50["counter"], rn50["drop"]) == ("RN50", 81.44, 66.07, 15.37)
    assert rn50["params_m"] == pytest.approx(25.56, abs=0.01)
    assert rows.loc[rows["pretrain_data"] == "DFN5B", "high_quality_data"].all()


def test_setups_and_variants_put_the_papers_protocol_first(sources):
    assert queries.setups(sources) == ["1vs1000", "1vs20"]
    assert queries.variants(sources, "1vs1000")[0] == "default"
    assert queries.variants(sources, "1vs20") == ["default"]


def test_variants_that_are_not_measurements_are_hidden(sources):
    shown = set(queries.variants(sources, "1vs1000")) | set(queries.variants(sources, "1vs20"))
    assert shown.isdisjoint(queries.HIDDEN_VARIANTS)


def test_alternative_checkpoints_are_named_by_their_tag(sources):
    names = queries.model_scores(sources, "1vs1000", "alt_checkpoint")["name"]
    assert "CLIP-LAION400M-ViT/B/16 (E32)" in set(names)


def test_classes_carry_short_labels_and_counts(sources):
    classes = queries.classes(sources)
    assert len(classes) == 45
    bear = classes.set_index("class_id").loc[296]
    assert (bear["label"], bear["n_common"], bear["n_counter"]) == ("ice bear", 126, 110)


def test_per_class_scores_are_labelled_and_worst_first(sources):
    rows = queries.per_class_scores(sources, "open_clip:ViT-B-32/openai", "1vs1000")
    assert len(rows) == 45
    assert rows["drop"].is_monotonic_decreasing
    assert "ice bear (snow → grass)" in set(rows["label"])


def test_per_class_models_are_the_five_published(sources):
    assert len(queries.per_class_models(sources)) == 5


def test_a_new_file_is_read_on_the_next_query(sources, paper_copy):
    scores = pd.read_csv(paper_copy / "scores.csv")
    extra = {**scores.iloc[0].to_dict(), "common": 99.0, "counter": 98.0, "drop": 1.0, "variant": "mine"}
    write_csv(paper_copy / "scores.csv", [*scores.to_dict("records"), extra])
    assert "mine" in queries.variants(sources, "1vs1000")


def test_fingerprint_changes_when_a_file_changes(sources, paper_copy):
    with (paper_copy / "scores.csv").open("a") as f:
        f.write("\n")
    assert Sources.current().fingerprint != sources.fingerprint


def test_missing_file_is_named(sources, paper_copy):
    (paper_copy / "models.csv").unlink()
    with pytest.raises(DataError, match=r"models\.csv` is missing.*git checkout results/paper"):
        queries.model_scores(sources, "1vs1000", "default")


def test_missing_column_is_named(sources, paper_copy):
    scores = pd.read_csv(paper_copy / "scores.csv").drop(columns=["counter"])
    scores.to_csv(paper_copy / "scores.csv", index=False)
    with pytest.raises(DataError, match="lacks the column.*counter"):
        queries.model_scores(sources, "1vs1000", "default")


def test_malformed_number_is_a_data_error(sources, paper_copy):
    scores = pd.read_csv(paper_copy / "scores.csv", dtype=str)
    scores.loc[0, "common"] = "sixty-four"
    scores.to_csv(paper_copy / "scores.csv", index=False)
    with pytest.raises(DataError, match="malformed"):
        queries.model_scores(sources, "1vs1000", "default")


def test_binary_garbage_is_a_data_error(sources, paper_copy):
    (paper_copy / "classes.csv").write_bytes(b"\x00\xff\x10garbage\x00" * 50)
    with pytest.raises(DataError):
        queries.classes(sources)


def test_a_row_with_too_many_fields_is_named_by_line(sources, paper_copy):
    with (paper_copy / "scores.csv").open("a") as f:
        f.write("x,1vs1000,default,1,2,3,Table 3,,surplus\n")
    with pytest.raises(DataError, match="malformed"):
        queries.model_scores(sources, "1vs1000", "default")


def test_an_empty_file_is_named(sources, paper_copy):
    (paper_copy / "classes.csv").write_text("")
    with pytest.raises(DataError, match=r"classes\.csv` is empty"):
        queries.classes(sources)


def test_a_blank_score_is_a_data_error_not_a_crash_later(sources, paper_copy):
    scores = pd.read_csv(paper_copy / "scores.csv", dtype=str, keep_default_na=False)
    scores.loc[0, "common"] = ""
    scores.to_csv(paper_copy / "scores.csv", index=False)
    with pytest.raises(DataError, match=r"blank .*common.*open_clip:RN50/openai"):
        queries.model_scores(sources, "1vs1000", "default")


def test_a_blank_family_is_a_data_error(sources, paper_copy):
    models = pd.read_csv(paper_copy / "models.csv", dtype=str, keep_default_na=False)
    models.loc[0, "family"] = ""
    models.to_csv(paper_copy / "models.csv", index=False)
    with pytest.raises(DataError, match="blank"):
        queries.model_scores(sources, "1vs1000", "default")


def test_flagged_rows_are_counted_per_table(sources):
    counts = queries.flagged_rows(sources).set_index("table")["rows"].to_dict()
    assert counts == {"scores": 3, "per_class": 3}
