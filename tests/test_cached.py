"""The pages' cached queries: an unchanged file is read once, a changed one again on the next rerun."""

import pandas as pd
import pytest

from app import cached, queries


def test_a_changed_file_is_read_on_the_next_rerun(paper_copy, results_dir):
    assert "mine" not in cached.variants(cached.sources(), "1vs1000")
    scores = pd.read_csv(paper_copy / "scores.csv")
    extra = {**scores.iloc[0].to_dict(), "variant": "mine"}
    pd.DataFrame([*scores.to_dict("records"), extra]).to_csv(paper_copy / "scores.csv", index=False)
    assert "mine" in cached.variants(cached.sources(), "1vs1000")


def test_an_unchanged_file_is_not_read_again(paper_copy, results_dir, monkeypatch):
    first = cached.model_scores(cached.sources(), "1vs1000", "default")
    monkeypatch.setattr(queries, "model_scores", lambda *args: pytest.fail("the query ran again"))
    assert cached.model_scores(cached.sources(), "1vs1000", "default").equals(first)
