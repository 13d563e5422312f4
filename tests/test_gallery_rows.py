import numpy as np
import pandas as pd

from app import gallery_rows

LABELS = {296: "ice bear", 279: "Arctic fox"}
ROWS = pd.DataFrame(
    {
        "image_id": ["a.jpg", "b.jpg", "c.jpg", "d.jpg"],
        "class_id": [296] * 4,
        "split": ["common", "common", "counter", "counter"],
        "pred_1vs1000": [296, 296, 279, 296],
        "correct_1vs1000": [True, True, False, True],
        "top5_ids": [[296, 1, 2, 3, 4]] * 4,
        "top5_probs": [[0.9, 0, 0, 0, 0], [0.5, 0, 0, 0, 0], [0.7, 0, 0, 0, 0], [0.2, 0, 0, 0, 0]],
    }
)


def shown(rows):
    return rows["image_id"].tolist()


def test_setup_columns_name_the_prediction_and_its_confidence():
    rows = gallery_rows.with_setup(ROWS, "1vs1000", LABELS)
    assert rows["predicted_label"].tolist() == ["ice bear", "ice bear", "Arctic fox", "ice bear"]
    assert rows["confidence"].tolist() == [0.9, 0.5, 0.7, 0.2]


def test_filters_keep_errors_or_correct_photos():
    rows = gallery_rows.with_setup(ROWS, "1vs1000", LABELS)
    assert shown(gallery_rows.select(rows, "errors only", "file name")) == ["c.jpg"]
    assert shown(gallery_rows.select(rows, "correct only", "file name")) == ["a.jpg", "b.jpg", "d.jpg"]


def test_sorting_by_confidence_both_ways():
    rows = gallery_rows.with_setup(ROWS, "1vs1000", LABELS)
    assert shown(gallery_rows.select(rows, "all", "least confident first")) == ["d.jpg", "b.jpg", "c.jpg", "a.jpg"]
    assert shown(gallery_rows.select(rows, "all", "most confident first")) == ["a.jpg", "c.jpg", "b.jpg", "d.jpg"]


def test_pages_follow_the_longer_column():
    rows = pd.DataFrame({"split": ["common"] * 25 + ["counter"] * 3, "image_id": range(28)})
    assert gallery_rows.pages(rows, per_page=12) == 3
    assert len(gallery_rows.page_of(rows, "common", 3, per_page=12)) == 1
    assert gallery_rows.page_of(rows, "counter", 2, per_page=12).empty
    assert gallery_rows.pages(rows.iloc[:0]) == 1


def test_top5_names_classes_with_probabilities():
    table = gallery_rows.top5(ROWS.iloc[0], "1vs1000", LABELS)
    assert table["class"].tolist()[:2] == ["✓ ice bear", "1"] and table["probability"].iloc[0] == 0.9


def test_confidence_text_never_rounds_to_a_wrong_extreme():
    texts = [gallery_rows.confidence_text(p) for p in (0.004, 0.0, 0.2, 0.996, 1.0, float("nan"))]
    assert texts == ["<1%", "0%", "20%", ">99%", "100%", "n/a"]


def test_an_imported_top5_with_only_the_prediction_shows_it_without_confidence():
    # As DuckDB hands over an imported run's top-5 without ids after the first or probabilities: masked places, NaN.
    row = ROWS.iloc[0].copy()
    row["top5_ids"] = np.ma.masked_array([296, 0, 0, 0, 0], mask=[False, True, True, True, True])
    row["top5_probs"] = np.full(5, np.nan)
    table = gallery_rows.top5(row, "1vs1000", LABELS)
    assert table["class"].tolist() == ["✓ " + LABELS[296]] and table["probability"].isna().all()
    shown = gallery_rows.with_setup(pd.DataFrame([row]).assign(top5_probs=[pd.NA]), "1vs1000", LABELS)
    assert np.isnan(shown["confidence"].iloc[0])  # a NULL list: no confidence, no error


def test_photo_labels_differ_for_every_photo_of_a_page():
    photos = pd.DataFrame(
        {
            "image_id": ["9 ostrich/common-ground/0001.jpg", "9 ostrich/counter-water/0001.jpg",
                         "9 ostrich/counter-road/0002.jpg", "9 ostrich/counter-water/0002.jpg"],
            "split": ["common", "counter", "counter", "counter"],
        }
    )  # fmt: skip
    assert gallery_rows.photo_labels(photos) == {
        "9 ostrich/common-ground/0001.jpg": "common · 0001.jpg",
        "9 ostrich/counter-water/0001.jpg": "counter · 0001.jpg",
        "9 ostrich/counter-road/0002.jpg": "9 ostrich/counter-road/0002.jpg",  # two counter backgrounds, one name
        "9 ostrich/counter-water/0002.jpg": "9 ostrich/counter-water/0002.jpg",
    }
