import numpy as np
import pandas as pd
import pytest

from app.intervals import balanced_intervals, paired_drop_difference, per_run


def groups(rows):
    return pd.DataFrame(rows, columns=["class_id", "split", "images", "hits"])


def test_a_perfect_run_has_no_uncertainty():
    out = balanced_intervals(groups([(1, "common", 10, 10), (1, "counter", 5, 5), (2, "common", 3, 3)]))
    assert (out["common_low"], out["common_high"], out["drop_low"], out["drop_high"]) == (100, 100, 0, 0)


def test_intervals_hold_the_estimate_and_narrow_with_more_photos():
    small = balanced_intervals(groups([(1, "common", 20, 16), (1, "counter", 20, 8)]))
    large = balanced_intervals(groups([(1, "common", 2000, 1600), (1, "counter", 2000, 800)]))
    for out in (small, large):
        assert out["common_low"] <= 80 <= out["common_high"] and out["drop_low"] <= 40 <= out["drop_high"]
    assert large["drop_high"] - large["drop_low"] < (small["drop_high"] - small["drop_low"]) / 5


def test_binomial_draws_equal_resampling_photos():
    # Brute force: resample each group's photos with replacement, recompute the class-balanced drop.
    rng = np.random.default_rng(1)
    photos = {("a", "common"): [1] * 7 + [0] * 3, ("a", "counter"): [1] * 2 + [0] * 6, ("b", "common"): [1] * 4}
    photos[("b", "counter")] = [1] * 5 + [0] * 5
    drops = []
    for _ in range(4000):
        acc = {k: np.mean(rng.choice(v, len(v))) for k, v in photos.items()}
        common, counter = acc["a", "common"] + acc["b", "common"], acc["a", "counter"] + acc["b", "counter"]
        drops.append(100 * (common - counter) / 2)
    brute = np.percentile(drops, [2.5, 97.5])
    table = groups([(c, s, len(v), sum(v)) for (c, s), v in photos.items()])
    out = balanced_intervals(table, resamples=4000)
    assert out["drop_low"] == pytest.approx(brute[0], abs=2.5) and out["drop_high"] == pytest.approx(brute[1], abs=2.5)


def test_the_same_seed_gives_the_same_interval():
    table = groups([(1, "common", 30, 20), (1, "counter", 30, 10)])
    assert balanced_intervals(table) == balanced_intervals(table)


def paired(rows):
    return pd.DataFrame(rows, columns=["class_id", "split", "both", "only_a", "only_b", "neither"])


def test_identical_runs_differ_by_exactly_nothing():
    out = paired_drop_difference(paired([(1, "common", 6, 0, 0, 4), (1, "counter", 3, 0, 0, 7)]))
    assert out == {"difference": 0.0, "low": 0.0, "high": 0.0, "drop_a": 30.0, "drop_b": 30.0}


def test_paired_difference_is_the_difference_of_drops():
    # A: common 8/10, counter 2/10 (drop 60). B: common 8/10, counter 7/10 (drop 10).
    out = paired_drop_difference(paired([(1, "common", 8, 0, 0, 2), (1, "counter", 2, 0, 5, 3)]))
    assert out["difference"] == pytest.approx(50.0)
    assert out["low"] > 0  # A's larger drop is not chance: B is right on every counter photo A gets right


def test_paired_draws_equal_resampling_photos_in_pairs():
    # Brute force: resample (A right, B right) pairs within each group, recompute both class-balanced drops.
    rng = np.random.default_rng(2)
    pairs = {("a", "common"): [(1, 1)] * 5 + [(1, 0)] * 3 + [(0, 0)] * 2, ("a", "counter"): [(0, 1)] * 4 + [(0, 0)] * 4}
    pairs[("b", "common")] = [(1, 1)] * 6 + [(0, 1)] * 2
    pairs[("b", "counter")] = [(1, 0)] * 3 + [(1, 1)] * 2 + [(0, 0)] * 5
    differences = []
    for _ in range(4000):
        acc = {k: np.mean(np.array(v)[rng.integers(0, len(v), len(v))], axis=0) for k, v in pairs.items()}
        drop = [(acc["a", "common"][i] + acc["b", "common"][i] - acc["a", "counter"][i] - acc["b", "counter"][i]) / 2
                for i in (0, 1)]  # fmt: skip
        differences.append(100 * (drop[0] - drop[1]))
    brute = np.percentile(differences, [2.5, 97.5])
    rows = [(c, s, v.count((1, 1)), v.count((1, 0)), v.count((0, 1)), v.count((0, 0))) for (c, s), v in pairs.items()]
    out = paired_drop_difference(paired(rows), resamples=4000)
    assert out["low"] == pytest.approx(brute[0], abs=3) and out["high"] == pytest.approx(brute[1], abs=3)


def test_per_run_gives_each_run_its_own_intervals():
    counts = pd.DataFrame(
        [("a", 1, "common", 10, 10), ("a", 1, "counter", 5, 5), ("b", 1, "common", 20, 16), ("b", 1, "counter", 20, 8)],
        columns=["run_id", "class_id", "split", "images", "hits"],
    )
    out = per_run(counts).set_index("run_id")
    assert out.index.tolist() == ["a", "b"]
    assert out.loc["a", ["common_low", "common_high", "drop_low", "drop_high"]].tolist() == [100, 100, 0, 0]
    assert out.loc["b"].to_dict() == balanced_intervals(counts[counts["run_id"] == "b"])


def test_per_run_of_no_runs_is_an_empty_table_with_the_columns():
    out = per_run(pd.DataFrame(columns=["run_id", "class_id", "split", "images", "hits"]))
    assert out.empty and out.columns.tolist()[:3] == ["run_id", "common_low", "common_high"]
