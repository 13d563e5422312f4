"""Scaling and Classes pages (and the About page's caveats): what a new user reads in their charts and captions."""

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app import charts
from tests.conftest import APP_MAIN
from tests.test_app import figures, open_page


@pytest.fixture
def app(paper_copy, results_dir) -> AppTest:
    return AppTest.from_file(APP_MAIN, default_timeout=60)


def test_scaling_same_data_groups_resnets_apart_from_vits(app):
    open_page(app, "scaling")
    app.selectbox(key="scaling_data").set_value("OpenAI").run()
    same_data = figures(app)[0]
    labels = same_data.layout.xaxis.categoryarray or same_data.data[0].x
    kinds = ["ResNet" if label.startswith("RN") else "ViT" for label in labels]
    assert kinds == sorted(kinds, key=["ResNet", "ViT"].index) and set(kinds) == {"ResNet", "ViT"}
    assert {"<b>ResNet</b>", "<b>ViT</b>"} <= {a.text for a in same_data.layout.annotations}
    assert len(same_data.layout.shapes) == 1  # one divider between the two kinds
    assert same_data.layout.title.text == "CLIP models trained on OpenAI's data"


def test_scaling_clip_and_imagenet_bars_differ_in_colour(app):
    open_page(app, "scaling")
    versus = figures(app)[2]
    colours = {t.name: t.marker.color for t in versus.data}
    assert set(colours) == {"CLIP common", "CLIP counter", "ImageNet common", "ImageNet counter"}
    assert len(set(colours.values())) == 4


def test_a_change_that_rounds_to_zero_has_no_sign():
    assert [charts.accuracy_change(d, 1) for d in (0.04, -0.04, 0.0)] == ["0.0", "0.0", "0.0"]
    assert charts.accuracy_change(0.004, 2) == "0.00"


def dumbbell_rows(**columns) -> pd.DataFrame:
    base = {
        "label": ["ice bear (snow → grass)", "lion (grass → road)"],
        "common": [100.0, 85.55],
        "counter": [83.64, 62.22],
        "drop": [16.36, 19.34],
        "n_common": [110, 222],
        "n_counter": [110, 222],
    }
    return pd.DataFrame(base | columns)  # fmt: skip


def test_per_class_drops_sit_in_their_own_column_right_of_the_markers():
    fig = charts.per_class_dumbbell(dumbbell_rows(flag=["counter_as_printed", ""]), "t")
    drop = next(t for t in fig.data if t.name == "drop")
    assert drop.xaxis == "x2" and drop.cliponaxis is False  # "−16.4 †" is never cut at the plot's edge
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]  # markers at 100 % stay left of the labels
    assert fig.layout.xaxis.range[1] > 100  # a marker at 100 % shows whole
    assert list(drop.text) == ["−16.4 †", "−19.3"]


def test_per_class_drop_that_rounds_to_zero_reads_zero():
    fig = charts.per_class_dumbbell(dumbbell_rows(drop=[0.04, -0.02]), "t")
    assert list(next(t for t in fig.data if t.name == "drop").text) == ["0.0", "0.0"]


def test_classes_titles_and_export_caption_name_the_setup(app, monkeypatch):
    captions = []
    monkeypatch.setattr(
        "app.widgets.export_menu.export_menu", lambda name, figs, table, caption: captions.append(caption)
    )
    open_page(app, "classes")
    assert all(fig.layout.title.text.startswith("1 vs 1000 · ") for fig in figures(app))  # seen first
    assert " · 1 vs 1000 · " in captions[-1]


def test_classes_caption_explains_a_printed_counter_typo(app):
    open_page(app, "classes")
    app.selectbox(key="classes_model_a").set_value(("paper", "open_clip:ViT-B-32/openai", "1vs1000")).run()
    caption = " ".join(c.value for c in app.caption)
    assert "printed drop or counter is inconsistent" in caption and "printed counter is probably a typo" in caption


def test_about_names_every_flag_and_which_rows_trends_leave_out(app):
    open_page(app, "about")
    text = " ".join(m.value for m in app.markdown)
    assert all(
        f"`{flag}`" in text
        for flag in ("drop_as_printed", "counter_as_printed", "copy_of_single_prompt", "near_chance")
    )
    assert "left out of trend fits" in text
