"""Every page with Streamlit's AppTest: renders without exception and shows what it should."""

import base64
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from app.widgets.chart import drawn_figures
from tests.conftest import APP_MAIN


@pytest.fixture
def app(paper_copy, results_dir) -> AppTest:
    return AppTest.from_file(APP_MAIN, default_timeout=60)


def open_page(app: AppTest, page: str | None = None) -> AppTest:
    if page:
        app.switch_page(f"app_pages/{page}.py")
    app.run()
    assert not app.exception, app.exception
    return app


def open_export_menu(app: AppTest, page: str) -> AppTest:
    """Open a page's Export popover, as a click does (it draws its buttons only while open)."""
    app.session_state[f"{page}_export_menu"] = True
    return open_page(app)


def decode(value):
    """Plotly's JSON ships numeric arrays as typed base64 ({"dtype", "bdata"}); turn them back into lists."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def figures(app: AppTest) -> list[go.Figure]:
    return [go.Figure(decode(figure)) for figure in drawn_figures(app)]


def points_shown(app: AppTest) -> int:
    (fig,) = figures(app)
    return sum(len(t.x) for t in fig.data if t.mode == "markers" and not (t.meta or {}).get("legend_only"))


def test_overview_plots_every_published_model(app):
    open_page(app)
    assert points_shown(app) == 43
    assert len(overview_table(app)) == 43


def test_overview_switches_to_1_vs_20(app):
    open_page(app)
    app.radio(key="setup").set_value("1vs20").run()
    assert points_shown(app) == 45  # the two LVLMs are only reported in 1 vs 20


def test_overview_variant_and_scale_change_the_chart(app):
    open_page(app)
    app.selectbox(key="variant").set_value("openai_80_prompt_ensemble").run()
    app.radio(key="overview_scale").set_value("logit").run()
    assert points_shown(app) == 28
    (fig,) = figures(app)
    assert fig.layout.xaxis.ticktext is not None  # accuracy labels on logit coordinates


def test_overview_fits_curated_clips_separately_when_asked(app):
    open_page(app)
    app.toggle(key="overview_split_hq").set_value(True).run()
    (fig,) = figures(app)
    assert "CLIP (DataComp/DFN)" in {t.meta["group"] for t in fig.data if t.meta and "group" in t.meta}


def test_overview_family_filter(app):
    open_page(app)
    app.multiselect(key="overview_family").set_value(["ImageNet"]).run()
    assert points_shown(app) == 15
    assert "eff. robustness" in overview_table(app).columns


@pytest.fixture
def served_files(monkeypatch) -> dict[str, bytes]:
    """What the app hands the browser as files (download buttons' data), by file id: AppTest keeps only URLs."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files, load = {}, MemoryMediaFileStorage.load_and_get_id

    def load_and_record(storage, path_or_data, mimetype, kind, filename=None):
        file_id = load(storage, path_or_data, mimetype, kind, filename)
        files[file_id] = storage.get_file(file_id).content
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", load_and_record)
    return files


def test_overview_offers_the_table_as_csv(app, served_files):
    open_page(app)
    (button,) = [b for b in app.get("download_button") if b.proto.label == "Download table (CSV)"]
    csv = pd.read_csv(io.BytesIO(served_files[Path(button.proto.url).stem]))
    shown = overview_table(app)
    assert list(csv["model"]) == list(shown["model"]) and len(csv) == 43
    assert set(shown.columns) < set(csv.columns) and set(csv["setup"]) == {"1vs1000"}


def test_scaling_page_draws_the_three_comparisons(app):
    open_page(app, "scaling")
    assert len(figures(app)) == 3
    app.selectbox(key="scaling_backbone").set_value("ViT/L/14").run()
    by_backbone = figures(app)[1]
    assert len(by_backbone.data[0].x) == 5  # ViT/L/14 on LAION400M, OpenAI, DataComp1B, LAION2B, DFN2B


def open_overview_tables(app: AppTest) -> AppTest:
    """The Overview with its tables (every model shown; the runs evaluated here) opened, as clicks do (they are drawn
    only while open)."""
    app.session_state["overview_models_open"] = True
    app.session_state["overview_runs_open"] = True
    return open_page(app)


def overview_table(app: AppTest):
    """The Overview's table of the models shown."""
    return open_overview_tables(app).dataframe[0].value


def test_the_overviews_table_opens_on_request_and_stays_open_across_pages(app):
    open_page(app)
    assert not app.dataframe  # the chart comes first: the table is drawn when opened
    assert len(overview_table(app)) == 43
    open_page(app, "scaling")
    assert len(open_page(app, "overview").dataframe) == 1


def open_classes_table(app: AppTest) -> AppTest:
    """Open the Classes page's table of classes, as a click does (it is drawn only while open)."""
    app.session_state["classes_list_open"] = True
    return open_page(app)


def test_classes_page_lists_45_classes_and_compares_two_models(app):
    open_page(app, "classes")
    assert not app.dataframe  # the charts come first; the table of classes opens on request
    assert len(open_classes_table(app).dataframe[0].value) == 45
    left, right = figures(app)
    assert left.layout.title.text != right.layout.title.text
    assert len(left.data[1].y) == 45


def test_about_page_explains_metrics_and_citation(app):
    open_page(app, "about")
    text = " ".join(m.value for m in app.markdown)
    assert "Class-balanced accuracy" in text and "28 CLIP" in text
    assert "@inproceedings" in app.code[0].value


@pytest.mark.parametrize("page", [None, "scaling", "classes", "about"])
def test_missing_tables_give_a_message_not_a_traceback(app, paper_copy, page):
    (paper_copy / "models.csv").unlink()
    (paper_copy / "classes.csv").unlink()
    open_page(app, page)
    assert "cannot read its data" in app.error[0].value


def overview_rows(app: AppTest):
    return overview_table(app).set_index("model")


def test_filters_do_not_change_effective_robustness(app):
    open_page(app)
    before = overview_rows(app)["eff. robustness"]
    app.multiselect(key="overview_backbone").set_value(["ViT/B/16"]).run()
    after = overview_rows(app)["eff. robustness"]
    assert len(after) == 6  # five CLIPs and one ImageNet model
    assert after.to_dict() == before[after.index].to_dict()


def test_choices_survive_a_visit_to_another_page(app):
    open_page(app)
    app.radio(key="overview_scale").set_value("logit").run()
    app.switch_page("app_pages/about.py").run()
    app.switch_page("app_pages/overview.py").run()
    assert app.radio(key="overview_scale").value == "logit"


def test_a_blank_score_gives_a_message_in_the_page(app, paper_copy):
    scores = (paper_copy / "scores.csv").read_text().splitlines()
    fields = scores[1].split(",")
    fields[3] = ""  # common accuracy of the first model
    (paper_copy / "scores.csv").write_text("\n".join([scores[0], ",".join(fields), *scores[2:]]) + "\n")
    open_page(app)
    assert "blank" in app.error[0].value


def test_classes_page_can_share_the_left_charts_order(app):
    open_page(app, "classes")
    app.toggle(key="classes_shared_order").set_value(True).run()
    left, right = figures(app)
    assert list(left.data[1].y) == list(right.data[1].y)


def open_link(app: AppTest, page: str, params: dict[str, str]) -> AppTest:
    """The page opened from a shared link in a new session (not asserting it renders: the callers do)."""
    app.run()
    app.switch_page(f"app_pages/{page}.py")
    for name, value in params.items():
        app.query_params[name] = value
    return app.run()


def link_notices(app: AppTest) -> str:
    return " ".join(t.proto.body for t in app.toast)


def test_classes_page_draws_the_same_model_on_both_sides(app):
    open_page(app, "classes")
    app.selectbox(key="classes_model_b").set_value(app.selectbox(key="classes_model_a").value).run()
    assert not app.exception, app.exception
    left, right = figures(app)
    assert left.layout.title.text == right.layout.title.text


@pytest.mark.parametrize("value", ["run|0123456789ab|1vs1000", "nonsense"])
def test_classes_page_survives_a_link_to_a_model_it_does_not_have(app, value):
    open_link(app, "classes", {"classes_model_b": value})
    assert not app.exception, app.exception
    assert f"classes_model_b={value}" in link_notices(app) and len(figures(app)) == 2


# ---- pages over evaluated runs ---------------------------------------------------------------------------------


def test_overview_shows_runs_as_stars_with_intervals(app, with_runs):
    open_page(app)
    (fig,) = figures(app)
    stars = next(t for t in fig.data if t.name == "evaluated here")
    assert len(stars.x) == 2 and stars.error_x.array is not None
    assert "Evaluated here" in [s.value for s in app.subheader]
    evaluated = open_overview_tables(app).dataframe[-1].value  # "Evaluated here"
    assert len(evaluated) == 2 and "drop 95% CI" in evaluated.columns


def marks(app: AppTest) -> list[str]:
    """The ✓/✗ lines under the gallery's thumbnails."""
    return [m.value for m in app.markdown if m.value.startswith((":green[**✓**]", ":red[**✗**]"))]


def test_gallery_shows_both_backgrounds_and_filters_errors(app, with_runs):
    open_page(app, "gallery")
    assert [s.value for s in app.subheader] == ["common: ground", "counter: water"]  # the first class: ostrich
    assert len(app.get("image")) == 8  # 4 photos per background
    before = marks(app)
    assert any("✓" in m for m in before) and any("✗" in m for m in before)  # the demo ResNet: right on common only
    app.radio(key="gallery_filter").set_value("errors only").run()
    after = marks(app)
    assert after and all("✗" in m for m in after) and len(after) < len(before)


def test_enlarging_a_photo_shows_top5_in_both_setups(app, with_runs):
    open_page(app, "gallery")
    assert not [b for b in app.button if b.key.startswith("zoom_")]  # one picker, not a button per photo
    picker = app.selectbox(key="zoom_pick")
    picker.select(picker.options[0]).run()
    assert not app.exception
    assert len(app.dataframe) == 2 and list(app.dataframe[0].value.columns) == ["class", "probability"]


def test_missing_photos_show_a_placeholder_and_a_notice(app, with_runs, tmp_path, monkeypatch):
    import shutil

    moved = shutil.copytree(with_runs, tmp_path / "moved-results")
    for manifest in moved.glob("runs/*/run.json"):
        run = json.loads(manifest.read_text())
        run["dataset"]["root"] = str(tmp_path / "nowhere")
        manifest.write_text(json.dumps(run))
    monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(moved))
    open_page(app, "gallery")
    assert "not under" in app.warning[0].value and len(app.get("image")) == 8


def test_confusions_say_what_photos_are_taken_for(app, with_runs):
    open_page(app, "confusions")
    assert "classified correctly" in app.success[0].value  # the demo ResNet gets every common ostrich right
    app.radio(key="confusions_split").set_value("counter").run()
    heading = app.subheader[0].value
    assert heading.startswith("counter (water): ") and app.get("image")


def test_flips_compare_two_runs_with_a_paired_interval(app, with_runs):
    open_page(app, "flips")
    assert [m.label for m in app.metric] == ["Drop of A (points)", "Drop of B (points)", "Drop of A minus drop of B"]
    assert "95% interval" in app.caption[0].value
    headings = [s.value for s in app.markdown if s.value.startswith("**") and "right" in s.value]
    assert [h.split(": ")[-1] for h in headings] == ["A right, B wrong**", "B right, A wrong**"]


def test_flips_compare_a_run_with_itself(app, with_runs):
    open_page(app, "flips")
    app.selectbox(key="flips_run_b").set_value(app.selectbox(key="flips_run_a").value).run()
    assert not app.exception, app.exception
    assert app.metric[0].value == app.metric[1].value and app.metric[2].value == "+0.00"


@pytest.mark.parametrize(("key", "value"), [("flips_run_a", "0123456789ab"), ("flips_run_b", "nonsense")])
def test_flips_survive_a_link_to_a_run_they_do_not_have(app, with_runs, key, value):
    open_link(app, "flips", {key: value})
    assert not app.exception, app.exception
    assert f"{key}={value}" in link_notices(app) and len(app.metric) == 3


def test_a_link_to_two_unknown_runs_still_compares_two_different_runs(app, with_runs):
    open_link(app, "flips", {"flips_run_a": "zzz", "flips_run_b": "zzz"})
    assert not app.exception, app.exception
    assert app.selectbox(key="flips_run_a").value != app.selectbox(key="flips_run_b").value
    assert not [w.value for w in app.warning if "the same run" in w.value]


def test_overview_shows_runs_class_balanced(app, with_unequal_run):
    open_page(app)
    scores = open_overview_tables(app).dataframe[-1].value[["common", "counter", "drop"]]
    assert scores.iloc[0].tolist() == pytest.approx([50.0, 25.0, 25.0])  # per photo: 80, 40 and 40


def test_overview_shows_runs_per_photo_in_the_unbalanced_variant(app, with_unequal_run):
    open_page(app)
    app.selectbox(key="variant").set_value("unbalanced_accuracy").run()
    scores = open_overview_tables(app).dataframe[-1].value[["common", "counter", "drop"]]
    assert scores.iloc[0].tolist() == pytest.approx([80.0, 40.0, 40.0])


def test_classes_page_offers_runs_with_counts(app, with_runs):
    open_page(app, "classes")
    run_options = [o for o in app.selectbox(key="classes_model_a").options if "(run " in o]
    assert len(run_options) == 4  # two runs, two setups
    run_id = next(r.name for r in (with_runs / "runs").iterdir() if '"collection"' not in (r / "run.json").read_text())
    app.selectbox(key="classes_model_a").set_value(("run", run_id, "1vs1000")).run()
    left = figures(app)[0]
    assert len(left.data[1].y) == 6 and list(left.data[1].customdata) == [4] * 6  # six classes, four photos each
    # The setup leads the title, and the run's id has a line of its own: a half-width chart cuts a long title's end.
    assert left.layout.title.text.startswith("1 vs 1000 · ") and left.layout.title.subtitle.text == f"run {run_id}"


@pytest.mark.parametrize("page", ["gallery", "confusions", "flips"])
def test_run_pages_without_runs_say_how_to_make_one(app, page):
    open_page(app, page)
    assert "counteranimal demo" in app.info[0].value


@pytest.mark.parametrize(("page", "charts"), [(None, 1), ("scaling", 3), ("classes", 2)])
def test_every_chart_page_offers_its_exports(app, page, charts):
    open_page(app, page)
    assert "Export this page (zip)" not in [b.proto.label for b in app.get("download_button")]  # drawn when opened
    open_export_menu(app, page or "overview")
    labels = [b.proto.label for b in app.get("download_button")]
    assert labels.count("PNG") == charts and labels.count("PDF") == charts and "Export this page (zip)" in labels


def test_each_photo_of_a_gallery_page_opens_itself_though_common_and_counter_share_file_names(app, with_runs):
    open_page(app, "gallery")
    picker = app.selectbox(key="zoom_pick")
    labels = picker.options
    assert len(set(labels)) == len(labels)
    common = [label for label in labels if label.startswith("common · ")]
    twin = next(label for label in common if label.replace("common", "counter", 1) in labels)  # the same file name
    picker.select(twin).run()
    enlarged = [image.proto.imgs[0].caption for image in app.get("image") if image.proto.imgs[0].caption]
    assert len(enlarged) == 1 and "/common-" in enlarged[0]  # the dialog's photo (thumbnails have no caption)
    assert enlarged[0].endswith("/" + twin.removeprefix("common · "))
