import numpy as np
import pandas as pd

from app import selections
from app.trends import Trend

POINTS = pd.DataFrame(
    {
        "name": ["a", "b", "c", "d", "e"],
        "family": ["CLIP", "CLIP", "CLIP", "ImageNet", "ImageNet"],
        "backbone": ["ViT/B/16", "ViT/L/14", "ViT/B/16", "ViT/B/16", "RN18"],
        "params_m": [86.0, 304.0, 86.0, 86.6, 11.7],
        "pretrain_data": ["LAION2B", "LAION2B", "OpenAI", "ImageNet-1K", "ImageNet-1K"],
        "pretrain_size": ["2B", "2B", "400M", "ImageNet-1k", "ImageNet-1k"],
        "pretrain_pairs_m": [2000, 2000, 400, None, None],
    }
)


def test_empty_filters_keep_everything():
    assert len(selections.filter_points(POINTS, [], [], [])) == 5


def test_filters_combine_with_and():
    kept = selections.filter_points(POINTS, ["CLIP"], ["ViT/B/16"], [])
    assert kept["name"].tolist() == ["a", "c"]


def test_values_shared_by_at_least_two_models():
    assert selections.values_shared_by(POINTS, "backbone") == ["ViT/B/16"]
    assert selections.values_shared_by(POINTS, "pretrain_data") == ["ImageNet-1K", "LAION2B"]


def test_same_data_orders_clip_backbones_by_size():
    rows = selections.same_data(POINTS, "LAION2B")
    assert rows["name"].tolist() == ["a", "b"]
    assert rows["label"].tolist() == ["ViT/B/16", "ViT/L/14"]


def test_labels_two_models_share_get_the_model_name():
    twin = POINTS.iloc[[0]].assign(name="a2")
    rows = selections.same_data(pd.concat([POINTS, twin]), "LAION2B")
    assert rows["label"].tolist() == ["ViT/B/16 · a", "ViT/B/16 · a2", "ViT/L/14"]


def test_same_backbone_orders_by_data_size_and_labels_the_data():
    rows = selections.same_backbone(POINTS, "ViT/B/16")
    assert rows["label"].tolist() == ["OpenAI (400M)", "LAION2B (2B)"]


def test_clip_vs_imagenet_keeps_only_shared_backbones():
    rows = selections.clip_vs_imagenet(POINTS)
    assert set(rows["backbone"]) == {"ViT/B/16"}
    assert set(rows["label"]) == {"ViT/B/16 · ImageNet", "ViT/B/16 · LAION2B", "ViT/B/16 · OpenAI"}


def test_clip_vs_imagenet_groups_each_backbone_together():
    points = pd.concat(
        [
            POINTS,
            pd.DataFrame(
                {
                    "name": ["f", "g"],
                    "family": ["CLIP", "ImageNet"],
                    "backbone": ["RN18", "ViT/B/16"],
                    "params_m": [11.0, 86.5],
                    "pretrain_data": ["OpenAI", "ImageNet-1K"],
                    "pretrain_size": ["400M", "ImageNet-1k"],
                    "pretrain_pairs_m": [400, None],
                }
            ),
        ]
    )
    rows = selections.clip_vs_imagenet(points)
    assert rows["backbone"].tolist() == ["RN18", "RN18"] + ["ViT/B/16"] * 4
    assert rows["family"].tolist()[:2] == ["ImageNet", "CLIP"]


def test_in_order_of_follows_the_reference_classes():
    rows = pd.DataFrame({"class_id": [1, 2, 3], "drop": [5.0, 9.0, 1.0]})
    reference = pd.DataFrame({"class_id": [3, 1, 2]})
    assert selections.in_order_of(rows, reference)["class_id"].tolist() == [3, 1, 2]


def test_overview_table_describes_each_model_and_notes_flags():
    points = POINTS.assign(
        model_id=list("abcde"),
        common=[60.0] * 5,
        counter=[40.0] * 5,
        drop=[20.0] * 5,
        effective_robustness=[1.0] * 5,
        trend_group=POINTS["family"],
        flag=["", "drop_as_printed", "counter_as_printed", "", ""],
    )
    table = selections.overview_table(points)
    assert list(table.columns) == [
        "model", "source", "model_id", "family", "backbone", "params (M)", "data", "common", "counter", "drop",
        "eff. robustness", "ER extrapolated", "trend", "note", "run_id",
    ]  # fmt: skip
    assert table["note"].tolist()[:2] == ["", "printed drop ≠ common − counter"]
    assert table["note"].iloc[2].startswith("printed counter is probably a typo")


def test_overview_table_lists_runs_after_the_paper():
    paper = POINTS.assign(model_id=list("abcde"), common=60.0, counter=40.0, drop=20.0, effective_robustness=1.0,
                          trend_group=POINTS["family"], flag="")  # fmt: skip
    runs = paper.head(1).assign(run_id="r1", flag="")
    table = selections.overview_table(paper, runs)
    assert table["source"].tolist() == ["paper"] * 5 + ["evaluated here"] and table["run_id"].iloc[-1] == "r1"


def test_runs_table_gives_the_reproduction_gap_and_intervals():
    paper = pd.DataFrame({"model_id": ["m"], "common": [80.0], "counter": [60.0], "drop": [20.0]})
    runs = pd.DataFrame(
        {"name": ["M"], "family": ["CLIP"], "images": [13100], "common": [81.0], "counter": [58.5], "drop": [22.5],
         "effective_robustness": [0.3], "protocol": ["default"], "run_id": ["r1"], "model_id": ["m"],
         "common_low": [79.0], "common_high": [83.0], "counter_low": [56.0], "counter_high": [61.0],
         "drop_low": [19.0], "drop_high": [26.0]}
    )  # fmt: skip
    (row,) = selections.runs_table(runs, paper).to_dict("records")
    assert (row["gap common"], row["gap counter"], row["gap drop"]) == (1.0, -1.5, 2.5)
    assert row["drop 95% CI"] == "19.0 to 26.0" and row["paper drop"] == 20.0


def test_flagged_copy_and_near_chance_rows_are_not_fitted_unless_asked():
    points = POINTS.assign(flag=["", "copy_of_single_prompt", "near_chance", "drop_as_printed", ""])
    assert selections.rows_to_fit(points, include_flagged=False).tolist() == [True, False, False, True, True]
    assert selections.rows_to_fit(points, include_flagged=True).all()


def test_overview_intro_names_the_variants_metric():
    assert "class-balanced accuracy" in selections.overview_intro("default")
    unbalanced = selections.overview_intro("unbalanced_accuracy")
    assert "per-image accuracy" in unbalanced and "class-balanced" not in unbalanced


def test_trend_sizes_count_the_models_each_line_was_fitted_to():
    trends = {"CLIP": Trend("CLIP", "linear", 1.0, 0.0, 27), "ImageNet": Trend("ImageNet", "linear", 1.0, 0.0, 15)}
    assert selections.trend_sizes(trends) == "the 27 CLIP and 15 ImageNet models fitted"
    assert selections.trend_sizes({}) == "no trend: too few models"


FITTED = pd.DataFrame(
    {"trend_group": ["CLIP", "CLIP", "CLIP", "ImageNet"], "common": [40.0, 90.0, 0.02, 70.0],
     "in_trend": [True, True, False, True]}
)  # fmt: skip


def test_outside_fitted_range_uses_only_the_fitted_rows_of_the_same_trend():
    ranges = selections.fitted_common_ranges(FITTED)
    assert ranges == {"CLIP": (40.0, 90.0), "ImageNet": (70.0, 70.0)}  # the unfitted 0.02% row does not widen it
    rows = pd.DataFrame({"trend_group": ["CLIP", "CLIP", "ImageNet", None], "common": [0.0, 65.0, 71.0, 0.0]})
    assert selections.outside_fitted_range(rows, ranges).tolist() == [True, False, True, False]


def test_overview_table_flags_extrapolated_effective_robustness_in_a_column_and_the_note():
    points = POINTS.assign(model_id=list("abcde"), common=[40.0, 90.0, 0.02, 70.0, 70.0], counter=10.0, drop=1.0,
                           effective_robustness=1.0, trend_group=POINTS["family"], in_trend=[True, True, False, True,
                           True], flag=["", "", "near_chance", "", ""])  # fmt: skip
    table = selections.overview_table(points)
    assert table["ER extrapolated"].tolist() == [False, False, True, False, False]
    assert table["note"].iloc[2].startswith("at or below chance")
    assert "eff. robustness extrapolated: common outside the 40-90% the CLIP trend" in table["note"].iloc[2]


def test_runs_table_carries_numeric_interval_bounds_and_the_extrapolation_flag():
    paper = pd.DataFrame({"model_id": ["m"], "common": [80.0], "counter": [60.0], "drop": [20.0],
                          "trend_group": ["CLIP"], "in_trend": [True]})  # fmt: skip
    runs = pd.DataFrame({"name": ["M"], "family": ["CLIP"], "images": [10], "common": [0.0], "counter": [0.0],
                         "drop": [0.0], "effective_robustness": [56.2], "protocol": ["default"], "run_id": ["r1"],
                         "model_id": ["x"], "trend_group": ["CLIP"], "common_low": [0.0],
                         "common_high": [1.5]})  # fmt: skip
    (row,) = selections.runs_table(runs, paper).to_dict("records")
    assert row["ER extrapolated"] and (row["common 95% low"], row["common 95% high"]) == (0.0, 1.5)
    assert row["common 95% CI"] == "0.0 to 1.5" and row["drop 95% CI"] == "" and pd.isna(row["drop 95% low"])


def test_for_display_leaves_no_missing_cell_for_the_grid_to_print_as_none():
    table = pd.DataFrame({"name": ["a", None], "params": [1.234, np.nan], "common": [1.0, 2.0]})
    shown = selections.for_display(table)
    assert shown["name"].tolist() == ["a", ""] and shown["params"].tolist() == ["1.23", ""]
    assert shown["common"].dtype == float  # a complete number column stays a number
    # A number format only where the column is still numbers: on text it would print each blank as "None".
    assert selections.number_columns(shown, ["params", "common", "absent"], "fmt") == {"common": "fmt"}
