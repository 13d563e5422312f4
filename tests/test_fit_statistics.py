"""Fit statistics of the trend lines (issue 12): slope, intercept, R², n and a 95% confidence band, on the chart and in
the export caption when the Overview's toggle is on."""

import math

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app import charts, export, selections
from app.trends import SCALES, describe_fit, fit_trend, t_quantile
from tests.conftest import APP_MAIN
from tests.test_app import figures
from tests.test_charts import overview

COMMON = np.array([60.0, 70.0, 75.0, 82.0, 90.0])
COUNTER = np.array([40.0, 48.0, 57.0, 63.0, 80.0])


@pytest.mark.parametrize("scale", list(SCALES))
def test_statistics_equal_numpy_polyfit_and_its_residuals(scale):
    x, y = SCALES[scale].forward(COMMON), SCALES[scale].forward(COUNTER)
    (slope, intercept), (sse,), *_ = np.polyfit(x, y, 1, full=True)
    trend = fit_trend("CLIP", COMMON, COUNTER, scale)
    assert (trend.slope, trend.intercept) == pytest.approx((slope, intercept), rel=1e-9, abs=1e-12)
    assert trend.r_squared == pytest.approx(1 - sse / np.sum((y - y.mean()) ** 2), rel=1e-9)
    assert trend.r_squared == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-9)  # simple regression: R² = r²
    assert trend.residual_se == pytest.approx(math.sqrt(sse / (len(x) - 2)), rel=1e-9)
    assert (trend.x_mean, trend.x_ss) == pytest.approx((x.mean(), np.sum((x - x.mean()) ** 2)), rel=1e-9)


def test_statistics_of_a_hand_computed_linear_fit():
    # x 1..4, y 2, 4, 5, 4: means 2.5 and 3.75, Sxx = 5, Sxy = 3.5, so slope 0.7 and intercept 2.0; residuals
    # -0.7, 0.6, 0.9, -0.8 give SSE 2.3 against SST 4.75.
    trend = fit_trend("g", np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 5, 4]), "linear")
    assert (trend.slope, trend.intercept, trend.n) == pytest.approx((0.7, 2.0, 4))
    assert trend.r_squared == pytest.approx(1 - 2.3 / 4.75, abs=1e-12)
    assert trend.residual_se == pytest.approx(math.sqrt(2.3 / 2), abs=1e-12)
    assert (trend.x_mean, trend.x_ss) == pytest.approx((2.5, 5.0))


@pytest.mark.parametrize(
    ("df", "expected"),  # two-sided 95%: the 97.5th percentile of Student's t, from printed tables (scipy's values)
    [(1, 12.706204736174698), (2, 4.302652729749464), (5, 2.570581835636314), (26, 2.0555294386428713),
     (30, 2.042272456301238)],
)  # fmt: skip
def test_t_quantile_matches_the_tables(df, expected):
    assert t_quantile(0.95, df) == pytest.approx(expected, abs=1e-10)


def test_t_quantile_tends_to_the_normal_one():
    assert t_quantile(0.95, 3) > t_quantile(0.95, 40) > t_quantile(0.95, 2000) > 1.959963984540054
    assert t_quantile(0.95, 2000) == pytest.approx(1.959963984540054, abs=2e-3)


@pytest.mark.parametrize("scale", list(SCALES))
def test_band_at_the_mean_of_x_is_t_times_se_over_root_n_and_wider_away_from_it(scale):
    trend = fit_trend("CLIP", COMMON, COUNTER, scale)
    at_mean = trend.band_half_width(np.array([trend.x_mean]))[0]
    assert at_mean == pytest.approx(t_quantile(0.95, 3) * trend.residual_se / math.sqrt(5), abs=1e-9)
    offsets = np.array([0.0, 0.1, 0.5, 1.0, 2.0])
    for side in (-1, 1):
        widths = trend.band_half_width(trend.x_mean + side * offsets)
        assert (np.diff(widths) > 0).all()
    lower, upper = trend.band_in_axis(np.array([trend.x_mean]))
    line = trend.slope * trend.x_mean + trend.intercept
    assert (line - lower[0], upper[0] - line) == pytest.approx((at_mean, at_mean), abs=1e-12)


@pytest.mark.parametrize("scale", list(SCALES))
def test_band_in_accuracy_is_the_axis_band_mapped_back_around_the_trend(scale):
    trend = fit_trend("CLIP", COMMON, COUNTER, scale)
    common = np.array([55.0, 72.0, 95.0])
    lower, upper = trend.band(common)
    axis_lower, axis_upper = trend.band_in_axis(SCALES[scale].forward(common))
    np.testing.assert_allclose(lower, SCALES[scale].inverse(axis_lower), rtol=1e-12)
    np.testing.assert_allclose(upper, SCALES[scale].inverse(axis_upper), rtol=1e-12)
    assert (lower < trend.predict(common)).all() and (trend.predict(common) < upper).all()


def test_two_points_give_no_band_and_no_standard_error():
    trend = fit_trend("g", np.array([50.0, 60.0]), np.array([30.0, 45.0]), "linear")
    assert math.isnan(trend.residual_se) and np.isnan(trend.band_half_width(np.array([55.0]))).all()


def test_fit_is_described_with_typographic_minus_and_two_decimals():
    trend = fit_trend("g", np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 5, 4]) - 3, "linear")  # intercept -1.0
    assert describe_fit(trend) == "slope 0.70, intercept −1.00, R² 0.52, n = 4"


def bands(fig):
    return [t for t in fig.data if "band" in (t.meta or {})]


def test_band_traces_exist_only_with_the_toggle():
    plain, points, trends = overview("probit")
    assert bands(plain) == []
    assert all("slope" not in t.name for t in plain.data)
    with_stats = charts.overview_scatter(points, "probit", trends, "t", fit_statistics=True)
    assert sorted(t.meta["band"] for t in bands(with_stats)) == sorted(trends)
    assert len(with_stats.data) == len(plain.data) + len(trends)


def test_band_edges_follow_the_fit_and_share_the_lines_legend_entry():
    _, points, trends = overview("logit")
    fig = charts.overview_scatter(points, "logit", trends, "t", fit_statistics=True)
    for band in bands(fig):
        trend = trends[band.meta["band"]]
        x = np.asarray(band.x, dtype=float)
        half = len(x) // 2  # upper edge left to right, then the lower edge back
        lower, upper = trend.band_in_axis(x[:half])
        np.testing.assert_allclose(np.asarray(band.y[:half], dtype=float), upper, rtol=1e-9)
        np.testing.assert_allclose(np.asarray(band.y[half:], dtype=float), lower[::-1], rtol=1e-9)
        assert band.fill == "toself" and band.showlegend is False
        (line,) = [t for t in fig.data if (t.meta or {}).get("group") == trend.group and "slope" in t.meta]
        assert line.legendgroup == band.legendgroup
        assert line.name == f"{trend.group} trend: {describe_fit(trend)}"


def test_caption_lines_name_the_scale_the_band_and_each_trend():
    trends = {g: fit_trend(g, COMMON, COUNTER - i, "probit") for i, g in enumerate(["CLIP", "ImageNet"])}
    head, clip, imagenet = selections.fit_statistics_lines(trends, "probit")
    assert "probit" in head and "95% confidence band" in head
    assert clip == f"CLIP trend: {describe_fit(trends['CLIP'])}"
    assert imagenet.startswith("ImageNet trend: slope ")
    assert selections.fit_statistics_lines({}, "probit") == ["Fit statistics: no trend shown"]


def test_export_caption_puts_details_on_lines_of_their_own_and_the_slide_makes_room():
    one_line = export.provenance("published numbers", "1 vs 1000", 2)
    caption = export.provenance("published numbers", "1 vs 1000", 2, details=["a", "b"])
    assert caption == one_line + "<br>a<br>b"
    fig, _, _ = overview("linear")
    plain, taller = export.for_slides(fig, one_line), export.for_slides(fig, caption)
    assert taller.layout.margin.b == plain.layout.margin.b + 2 * export.CAPTION_LINE_PX


@pytest.fixture
def app(paper_copy, results_dir, monkeypatch) -> tuple[AppTest, list[str]]:
    """The Overview, with the captions its export menu is given."""
    captions: list[str] = []
    monkeypatch.setattr("app.widgets.export_menu.export_menu", lambda name, figs, table, text: captions.append(text))
    at = AppTest.from_file(APP_MAIN, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at, captions


def test_turning_fit_statistics_on_shows_the_clip_and_imagenet_numbers(app):
    at, exported = app
    assert "slope" not in exported[-1] and not any(t.meta and "band" in t.meta for t in figures(at)[0].data)
    at.toggle(key="overview_fit_stats").set_value(True).run()
    assert not at.exception, at.exception
    (fig,) = figures(at)
    legend = {t.meta["group"]: t.name for t in fig.data if t.meta and "slope" in t.meta}
    assert sorted(legend) == ["CLIP", "ImageNet"]
    shown = " ".join(c.value for c in at.caption)
    for group, name in legend.items():
        numbers = name.removeprefix(f"{group} trend: ")
        assert numbers.startswith("slope ") and "R² " in numbers and ", n = " in numbers
        assert f"{group} trend: {numbers}" in exported[-1] and f"{group} trend: {numbers}" in shown
    assert "CLIP trend: slope" in exported[-1] and ", n = 28" in legend["CLIP"] and ", n = 15" in legend["ImageNet"]
    assert sorted(t.meta["band"] for t in fig.data if t.meta and "band" in t.meta) == ["CLIP", "ImageNet"]


def test_models_all_at_one_common_accuracy_get_no_trend():
    import pandas as pd

    from app.trends import fit_trends

    same = pd.DataFrame({"common": [50.0] * 4, "counter": [10.0, 20.0, 30.0, 40.0], "trend_group": ["CLIP"] * 4})
    assert fit_trends(same, "linear") == {}
    clipped = same.assign(common=[100.0] * 4)  # probit and logit clip 100 % to one value
    assert fit_trends(clipped, "probit") == {} and fit_trends(clipped, "logit") == {}
    spread = same.assign(common=[40.0, 50.0, 60.0, 70.0])
    assert set(fit_trends(spread, "linear")) == {"CLIP"}
