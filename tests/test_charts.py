import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from app import charts
from app.charts.style import COMMON_COLOR, COUNTER_COLOR, DRAWN_TRACES, PROJECTOR_TEXT_PX, for_projector
from app.trends import SCALES, fit_trends, trend_groups
from app.widgets.chart import BASIC_TRACES

POINTS = pd.DataFrame(
    {
        "model_id": [f"m{i}" for i in range(9)],
        "name": [f"model {i}" for i in range(9)],
        "family": ["CLIP"] * 5 + ["ImageNet"] * 3 + ["CLIP"],
        "backbone": ["RN50", "ViT/B/32", "ViT/B/16", "ViT/L/14", "ViT/H/14", "RN18", "RN50", "ViT/B/16", "ViT/B/16"],
        "params_m": [38.0, 88.0, 86.0, 304.0, 632.0, 11.7, 25.6, 86.6, 86.0],
        "pretrain_data": ["OpenAI", "LAION2B", "DFN2B", "DataComp1B", "DFN5B"] + ["ImageNet-1K"] * 3 + ["LAION400M"],
        "pretrain_size": ["400M", "2B", "2B", "1B", "5B"] + ["ImageNet-1k"] * 3 + ["400M"],
        "pretrain_pairs_m": [400, 2000, 2000, 1000, 5000, np.nan, np.nan, np.nan, 400],
        "high_quality_data": [False, False, True, True, True, False, False, False, False],
        "common": [64.0, 72.9, 85.0, 89.3, 91.2, 74.4, 81.4, 85.0, 73.1],
        "counter": [40.7, 48.7, 70.6, 79.9, 84.1, 56.1, 66.1, 75.0, 52.2],
        "drop": [23.3, 24.2, 14.4, 9.4, 7.1, 18.3, 15.3, 10.0, 20.9],
    }
)


def overview(scale: str, split: bool = False):
    points = POINTS.assign(trend_group=trend_groups(POINTS, split))
    trends = fit_trends(points, scale)
    return charts.overview_scatter(points, scale, trends, "title"), points, trends


def traces(fig, mode):
    """Traces drawing `mode`, without legend-only entries."""
    return [t for t in fig.data if t.mode == mode and not (t.meta or {}).get("legend_only")]


@pytest.mark.parametrize("scale", list(SCALES))
def test_identity_line_is_the_diagonal_of_the_shared_axis_range(scale):
    fig, _, _ = overview(scale)
    identity = next(t for t in fig.data if t.name.startswith("y = x"))
    assert list(identity.x) == list(identity.y) == list(fig.layout.xaxis.range) == list(fig.layout.yaxis.range)


@pytest.mark.parametrize("scale", list(SCALES))
@pytest.mark.parametrize("split", [False, True])
def test_one_trend_per_group_equal_to_numpy_least_squares(scale, split):
    fig, points, _ = overview(scale, split)
    lines = [t for t in traces(fig, "lines") if t.meta and "slope" in t.meta]
    assert sorted(t.meta["group"] for t in lines) == sorted(points["trend_group"].unique())
    for line in lines:
        rows = points[points["trend_group"] == line.meta["group"]]
        x, y = SCALES[scale].forward(rows["common"].to_numpy()), SCALES[scale].forward(rows["counter"].to_numpy())
        slope, intercept = np.polyfit(x, y, 1)
        assert line.meta["slope"] == pytest.approx(slope, rel=1e-9)
        assert line.meta["intercept"] == pytest.approx(intercept, rel=1e-9, abs=1e-12)
        # the drawn line is that fit: y = slope * x + intercept at its end points
        np.testing.assert_allclose(np.array(line.y), slope * np.array(line.x) + intercept, rtol=1e-9)


@pytest.mark.parametrize("scale", ["probit", "logit"])
def test_points_and_ticks_live_in_the_transformed_space(scale):
    fig, _, _ = overview(scale)
    xs = np.concatenate([np.asarray(t.x, dtype=float) for t in traces(fig, "markers")])
    np.testing.assert_allclose(np.sort(xs), np.sort(SCALES[scale].forward(POINTS["common"].to_numpy())))
    assert list(fig.layout.xaxis.ticktext) == [str(t) for t in charts.ACCURACY_TICKS]
    np.testing.assert_allclose(fig.layout.xaxis.tickvals, SCALES[scale].forward(np.array(charts.ACCURACY_TICKS)))


def test_linear_scale_plots_accuracies_unchanged():
    fig, _, _ = overview("linear")
    ys = np.concatenate([np.asarray(t.y, dtype=float) for t in traces(fig, "markers")])
    np.testing.assert_allclose(np.sort(ys), np.sort(POINTS["counter"].to_numpy()))
    assert fig.layout.xaxis.tickvals is None


def test_every_model_is_one_point_and_curated_clips_are_outlined():
    fig, _, _ = overview("linear")
    markers = {t.name: t for t in traces(fig, "markers")}
    assert sum(len(t.x) for t in markers.values()) == len(POINTS)
    assert len(markers["CLIP · DataComp/DFN"].x) == 3
    assert markers["CLIP · DataComp/DFN"].marker.line.width > markers["CLIP"].marker.line.width


def test_marker_size_grows_with_parameters():
    sizes = charts.marker_size(pd.Series([5.0, 11.7, 86.0, 304.0, 1844.9]))
    assert (np.diff(sizes) > 0).all()
    assert charts.marker_size(pd.Series([np.nan]))[0] == 10.0


def test_hover_names_the_model_and_its_scores():
    fig, _, _ = overview("linear")
    trace = traces(fig, "markers")[0]
    assert all(f"{k}: " in trace.hovertemplate for k in ("backbone", "data", "common", "counter", "drop"))
    assert trace.customdata[0][0] == "model 0"
    assert trace.customdata[0][2] == "OpenAI (400M)"


def test_hover_does_not_repeat_a_data_size_that_is_its_name():
    fig, _, _ = overview("linear")
    imagenet = next(t for t in traces(fig, "markers") if t.name == "ImageNet")
    assert imagenet.customdata[0][2] == "ImageNet-1K"


def test_clip_groups_get_a_legend_swatch_in_a_fixed_colour():
    fig, _, _ = overview("linear")
    swatches = [t for t in fig.data if (t.meta or {}).get("legend_only")]
    assert sorted(t.name for t in swatches) == ["CLIP", "CLIP · DataComp/DFN"]
    assert all(isinstance(t.marker.color, str) for t in swatches)


@pytest.mark.parametrize("scale", list(SCALES))
def test_axes_hold_every_point_even_near_zero(scale):
    points = POINTS.copy()
    points.loc[0, ["common", "counter"]] = [0.02, 0.01]  # Table 9's DataComp-S checkpoint
    points = points.assign(trend_group=trend_groups(points, False))
    fig = charts.overview_scatter(points, scale, fit_trends(points, scale), "t")
    lo, hi = fig.layout.xaxis.range
    values = np.concatenate([np.asarray(t.x, dtype=float) for t in traces(fig, "markers")])
    assert lo <= values.min() and values.max() <= hi


def test_figure_survives_json_round_trip():
    fig, _, _ = overview("probit", split=True)
    assert len(pio.from_json(fig.to_json()).data) == len(fig.data)


def test_charts_look_as_plotly_white_for_every_trace_type_they_draw():
    white = pio.templates["plotly_white"]
    fig, _, _ = overview("linear", split=True)
    figures = [fig, charts.score_bars(POINTS.head(3), "backbone", "t")]
    assert set(DRAWN_TRACES) == BASIC_TRACES  # every type the chart element draws keeps plotly_white's defaults
    for figure in figures:
        template = figure.layout.template
        assert template.layout == white.layout
        assert all(template.data[kind] == white.data[kind] for kind in DRAWN_TRACES)
        assert not template.data.heatmap  # the types never drawn are not carried in every figure's JSON


def test_score_bars_write_each_drop_above_its_pair():
    rows = POINTS.head(3)
    fig = charts.score_bars(rows, "backbone", "t")
    assert [t.name for t in fig.data] == ["common", "counter"]
    assert [a.text for a in fig.layout.annotations] == ["−23.30", "−24.20", "−14.40"]
    assert [a.x for a in fig.layout.annotations] == rows["backbone"].tolist()


def test_a_negative_drop_reads_as_a_gain():
    assert (charts.accuracy_change(23.31, 1), charts.accuracy_change(-1.24, 1)) == ("−23.3", "+1.2")


def test_per_class_dumbbell_keeps_row_order_and_labels():
    rows = pd.DataFrame(
        {"label": ["ice bear (snow → grass)", "ostrich (ground → water)"], "common": [90.0, 70.0],
         "counter": [50.0, 60.0], "drop": [40.0, 10.0], "n_common": [126, 206], "n_counter": [110, 113]}
    )  # fmt: skip
    fig = charts.per_class_dumbbell(rows, "t")
    common = next(t for t in fig.data if t.name == "common")
    assert list(common.y) == rows["label"].tolist()
    assert fig.layout.yaxis.autorange == "reversed"  # first row (worst drop) on top
    assert list(next(t for t in fig.data if t.name == "drop").text) == ["−40.0", "−10.0"]


def test_runs_are_stars_with_asymmetric_intervals_and_a_line_from_the_paper():
    runs = POINTS.head(1).assign(
        run_id="r1", common=66.0, counter=41.0, drop=25.0,
        common_low=64.0, common_high=67.0, counter_low=38.0, counter_high=45.0,
    )  # fmt: skip
    points = POINTS.assign(trend_group=trend_groups(POINTS, False))
    fig = charts.overview_scatter(points, "probit", {}, "t", runs)
    stars = next(t for t in fig.data if t.name == "evaluated here")
    forward = SCALES["probit"].forward
    assert stars.error_x.array[0] == pytest.approx(forward(np.array([67.0]))[0] - forward(np.array([66.0]))[0])
    assert stars.error_y.arrayminus[0] == pytest.approx(forward(np.array([41.0]))[0] - forward(np.array([38.0]))[0])
    gap = next(t for t in fig.data if t.name == "paper → here")
    assert list(gap.x)[:2] == pytest.approx(list(forward(np.array([64.0, 66.0]))))  # paper model 0, then the run
    assert list(gap.y)[:2] == pytest.approx(list(forward(np.array([40.7, 41.0]))))
    assert gap.x[2] is None and gap.y[2] is None and len(gap.x) == 3  # one segment, then a break in the line


def test_points_left_out_of_the_trend_fit_are_drawn_with_an_orange_outline():
    points = POINTS.assign(trend_group=trend_groups(POINTS, False), in_trend=[True] * 8 + [False])
    fig = charts.overview_scatter(points, "linear", fit_trends(points[points["in_trend"]], "linear"), "t")
    (clip,) = [t for t in traces(fig, "markers") if t.name == "CLIP"]  # models 0, 1 and 8 (not curated)
    assert list(clip.marker.line.color) == ["#ffffff", "#ffffff", "#ff7f0e"]
    assert "flagged: not in trend fit" in {t.name for t in fig.data}
    assert sum(len(t.x) for t in traces(fig, "markers")) == 9  # still drawn, once


def test_hover_gives_units_the_parameter_count_and_effective_robustness():
    points = POINTS.assign(trend_group=trend_groups(POINTS, False), effective_robustness=1.25)
    trace = traces(charts.overview_scatter(points, "linear", {}, "t"), "markers")[0]
    assert "common: %{customdata[3]:.2f}%" in trace.hovertemplate and "points" in trace.hovertemplate
    assert (trace.customdata[0][7], trace.customdata[0][8]) == ("38 M parameters", "+1.2 points")


def test_run_hover_has_no_empty_data_line_and_the_highlighted_name_stays_inside():
    runs = POINTS.head(1).assign(run_id="r1", common=100.0, counter=99.0, pretrain_data=None, pretrain_size=None)
    points = POINTS.assign(trend_group=trend_groups(POINTS, False))
    fig = charts.overview_scatter(points, "linear", {}, "t", runs, highlight="r1")
    stars = next(t for t in fig.data if t.name == "evaluated here")
    assert "data: %{" not in stars.hovertemplate and stars.customdata[0][2] == ""
    ring = next(t for t in fig.data if t.name.startswith("highlighted"))
    assert ring.textposition == "bottom left" and ring.cliponaxis is False  # a run at the top right corner


def test_a_per_class_subtitle_is_projector_sized_in_the_presenter_view():
    rows = pd.DataFrame({"label": ["a"], "common": [90.0], "counter": [60.0], "drop": [30.0], "n_common": [4]})
    fig = charts.per_class_dumbbell(rows.assign(n_counter=4), "1 vs 1000 · my model", "run 0123456789abcdef")
    assert fig.layout.title.subtitle.text == "run 0123456789abcdef"
    assert for_projector(fig).layout.title.subtitle.font.size >= PROJECTOR_TEXT_PX


def test_a_chosen_background_at_zero_accuracy_still_shows_its_colour_and_photo_count():
    from app.charts.curation import background_bars

    scores = [
        {"background": "snow", "accuracy": 100.0, "low": 100.0, "high": 100.0, "photos": 16},
        {"background": "grass", "accuracy": 0.0, "low": 0.0, "high": 0.0, "photos": 16},
    ]
    report = [{"name": "ice bear", "class_id": 296, "kept": True, "common": "snow", "counter": "grass",
               "backgrounds": scores}]  # fmt: skip
    fig = background_bars(report, "t")
    (tick,) = [t for t in fig.data if t.type == "scatter" and t.marker.line.color == COUNTER_COLOR]
    assert list(tick.x) == [0.0] and "markers" in tick.mode  # the counter pick marked where its bar would end
    assert list(tick.text) == ["16 photos"]  # beside the bar, which has no room for it
    (common,) = [t for t in fig.data if t.type == "scatter" and t.marker.line.color == COMMON_COLOR]
    assert list(common.text) == [""]  # a full bar has its count inside
    bars = {t.name: list(t.text) for t in fig.data if t.type == "bar"}
    assert bars["chosen as common"] == ["16 photos"] and bars["chosen as counter"] == [""]  # each count once
    assert fig.layout.xaxis.range[1] > 100
