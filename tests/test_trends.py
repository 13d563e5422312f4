import numpy as np
import pandas as pd
import pytest

from app.trends import (
    HIGH_QUALITY_GROUP,
    SCALES,
    effective_robustness,
    fit_trend,
    fit_trends,
    place_on_trends,
    trend_groups,
)


@pytest.mark.parametrize("scale", list(SCALES))
def test_scale_inverse_undoes_forward(scale):
    acc = np.array([1.0, 12.5, 50.0, 87.3, 99.0])
    np.testing.assert_allclose(SCALES[scale].inverse(SCALES[scale].forward(acc)), acc, rtol=1e-9)


def test_probit_and_logit_match_hand_values():
    # probit(84.1345%) = 1 (one standard deviation), logit(75%) = ln 3
    np.testing.assert_allclose(SCALES["probit"].forward(np.array([50.0, 84.13447460685429])), [0.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(SCALES["logit"].forward(np.array([50.0, 75.0])), [0.0, np.log(3)], atol=1e-12)


def test_transforms_stay_finite_at_0_and_100_percent():
    for scale in ("probit", "logit"):
        assert np.isfinite(SCALES[scale].forward(np.array([0.0, 100.0]))).all()


@pytest.mark.parametrize("scale", list(SCALES))
def test_fit_equals_numpy_least_squares_in_axis_space(scale):
    common = np.array([60.0, 70.0, 75.0, 82.0, 90.0])
    counter = np.array([40.0, 48.0, 57.0, 63.0, 80.0])
    x, y = SCALES[scale].forward(common), SCALES[scale].forward(counter)
    slope, intercept = np.polyfit(x, y, 1)
    trend = fit_trend("CLIP", common, counter, scale)
    assert trend.slope == pytest.approx(slope, rel=1e-9)
    assert trend.intercept == pytest.approx(intercept, rel=1e-9, abs=1e-12)
    assert trend.n == 5


def test_linear_fit_of_exact_line_recovers_it():
    common = np.array([50.0, 60.0, 70.0])
    trend = fit_trend("g", common, 0.5 * common + 10, "linear")
    assert (trend.slope, trend.intercept) == pytest.approx((0.5, 10.0))
    assert trend.predict(np.array([80.0])) == pytest.approx([50.0])


def points(rows):
    return pd.DataFrame(rows, columns=["family", "high_quality_data", "common", "counter"])


def test_trend_groups_split_curated_clips_only_when_asked():
    p = points([("CLIP", True, 1, 1), ("CLIP", False, 1, 1), ("ImageNet", False, 1, 1)])
    assert trend_groups(p, False).tolist() == ["CLIP", "CLIP", "ImageNet"]
    assert trend_groups(p, True).tolist() == [HIGH_QUALITY_GROUP, "CLIP", "ImageNet"]


def test_no_trend_for_fewer_than_three_models():
    p = points([("LVLM", False, 40, 30), ("LVLM", False, 48, 40)]).assign(trend_group="LVLM")
    assert fit_trends(p, "linear") == {}


def test_effective_robustness_is_counter_minus_trend_prediction():
    # counter = common - 20 exactly, except the last model which is 5 points above the line it shifts.
    p = points([("CLIP", False, 60, 40), ("CLIP", False, 70, 50), ("CLIP", False, 80, 60), ("LVLM", False, 50, 20)])
    p = p.assign(trend_group=p["family"])
    trends = fit_trends(p, "linear")
    er = effective_robustness(p, trends)
    np.testing.assert_allclose(er[:3], 0.0, atol=1e-9)
    assert np.isnan(er.iloc[3])  # no LVLM trend from one model
    shifted = p.assign(counter=[40, 50, 65, 20])
    line = fit_trend("CLIP", shifted["common"][:3].to_numpy(), shifted["counter"][:3].to_numpy(), "linear")
    er = effective_robustness(shifted, {"CLIP": line})
    assert er.iloc[2] == pytest.approx(65 - (line.slope * 80 + line.intercept))


# Three published CLIPs exactly on counter = common - 20 (a linear trend of slope 1, intercept -20).
ON_THE_LINE = [("CLIP", False, 60, 40), ("CLIP", False, 70, 50), ("CLIP", False, 80, 60)]


def test_models_on_their_trend_have_no_effective_robustness():
    placed, _, trends = place_on_trends(points(ON_THE_LINE), points([]), "linear", False)
    assert (trends["CLIP"].slope, trends["CLIP"].intercept) == pytest.approx((1.0, -20.0))
    np.testing.assert_allclose(placed["effective_robustness"], 0.0, atol=1e-9)
    assert placed["trend_group"].tolist() == ["CLIP"] * 3


def test_a_run_gets_its_distance_above_the_published_trend():
    runs = points([("CLIP", False, 75, 62), ("ImageNet", False, 70, 60)])
    _, placed, _ = place_on_trends(points(ON_THE_LINE), runs, "linear", False)
    assert placed["effective_robustness"].iloc[0] == pytest.approx(62 - (75 - 20))
    assert np.isnan(placed["effective_robustness"].iloc[1])  # no published ImageNet model, no trend


def test_runs_never_fit_a_trend():
    # A run far below the line leaves it where it was; two published LVLMs and a run make no LVLM trend.
    published = points([*ON_THE_LINE, ("LVLM", False, 40, 30), ("LVLM", False, 48, 40)])
    runs = points([("CLIP", False, 90, 10), ("LVLM", False, 60, 50)])
    _, placed, trends = place_on_trends(published, runs, "linear", False)
    assert list(trends) == ["CLIP"]
    assert (trends["CLIP"].slope, trends["CLIP"].intercept) == pytest.approx((1.0, -20.0))
    assert placed["effective_robustness"].iloc[0] == pytest.approx(10 - 70)
    assert np.isnan(placed["effective_robustness"].iloc[1])


def test_curated_runs_join_the_curated_trend_when_it_is_split():
    runs = points([("CLIP", True, 70, 55)])
    _, placed, _ = place_on_trends(points(ON_THE_LINE), runs, "linear", True)
    assert placed["trend_group"].tolist() == [HIGH_QUALITY_GROUP]
    assert np.isnan(placed["effective_robustness"].iloc[0])  # no published curated CLIP here


def test_no_runs_stay_no_runs():
    runs = points([])
    _, placed, _ = place_on_trends(points(ON_THE_LINE), runs, "linear", False)
    assert placed is runs


def test_only_the_rows_to_fit_make_the_trend_but_every_row_is_placed():
    # Three CLIPs on counter = common - 20 and one at (1, 1). Fitted, the outlier pulls the line (OLS on all four:
    # means 52.75 and 37.75, Sxy = 2735.75, Sxx = 3770.75, slope 0.7255); left out, the line is the exact one and the
    # outlier sits 1 - (1 - 20) = 20 points above it.
    published = points([*ON_THE_LINE, ("CLIP", False, 1, 1)])
    placed, _, trends = place_on_trends(published, points([]), "linear", False, fit=pd.Series([True] * 3 + [False]))
    assert (trends["CLIP"].slope, trends["CLIP"].intercept, trends["CLIP"].n) == pytest.approx((1.0, -20.0, 3))
    assert placed["effective_robustness"].iloc[3] == pytest.approx(20.0)
    assert placed["in_trend"].tolist() == [True, True, True, False]
    _, _, all_rows = place_on_trends(published, points([]), "linear", False)
    assert all_rows["CLIP"].n == 4 and all_rows["CLIP"].slope == pytest.approx(2735.75 / 3770.75)
