"""Shareable links: every page's state round-trips through the URL; bad parameters are ignored with a notice."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import APP_MAIN


def app_at(page: str | None, params: dict | None = None) -> AppTest:
    """A fresh session (a new browser) opening a link."""
    at = AppTest.from_file(APP_MAIN, default_timeout=60)
    if page:
        at.run()
        at.switch_page(f"app_pages/{page}.py")
    for name, value in (params or {}).items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def link(at: AppTest) -> dict:
    return {name: at.query_params[name] for name in at.query_params}


def test_overview_state_round_trips(paper_copy, results_dir):
    at = app_at(None)
    at.radio(key="setup").set_value("1vs20").run()
    at.radio(key="overview_scale").set_value("logit").run()
    at.multiselect(key="overview_family").set_value(["CLIP", "LVLM"]).run()
    shared = link(at)
    assert shared["overview_scale"] == "logit" and shared["overview_family"] == "CLIP,LVLM"
    opened = app_at(None, shared)
    assert opened.radio(key="setup").value == "1vs20" and opened.radio(key="overview_scale").value == "logit"
    assert opened.multiselect(key="overview_family").value == ["CLIP", "LVLM"]


def test_scaling_state_round_trips(paper_copy, results_dir):
    at = app_at("scaling")
    at.selectbox(key="scaling_backbone").set_value("ViT/L/14").run()
    opened = app_at("scaling", link(at))
    assert opened.selectbox(key="scaling_backbone").value == "ViT/L/14"


def test_classes_state_round_trips(paper_copy, results_dir):
    at = app_at("classes")
    options = at.selectbox(key="classes_model_a").options
    at.toggle(key="classes_shared_order").set_value(True).run()
    opened = app_at("classes", link(at))
    assert opened.toggle(key="classes_shared_order").value is True
    assert opened.selectbox(key="classes_model_b").value == at.selectbox(key="classes_model_b").value
    assert len(options) == 5


@pytest.mark.parametrize(
    ("page", "key", "value"),
    [("gallery", "gallery_filter", "errors only"), ("confusions", "confusions_split", "counter")],
)
def test_run_pages_state_round_trips(with_runs, page, key, value):
    at = app_at(page)
    at.radio(key=key).set_value(value).run()
    opened = app_at(page, link(at))
    assert opened.radio(key=key).value == value
    assert opened.selectbox(key=f"{page}_run").value == at.selectbox(key=f"{page}_run").value


def test_flips_state_round_trips(with_runs):
    at = app_at("flips")
    at.radio(key="flips_setup").set_value("1vs20").run()
    opened = app_at("flips", link(at))
    assert opened.radio(key="flips_setup").value == "1vs20"


def changed(page: str | None, widget: str, key: str, value: object, **kwargs) -> object:
    """A choice set to a value other than its default: a default would come back from any link, even a broken one."""
    return pytest.param(page, widget, key, value, id=key, **kwargs)


CHANGED = [  # choices over the published numbers
    changed(None, "selectbox", "variant", "openai_80_prompt_ensemble"),
    changed(None, "toggle", "overview_split_hq", True),
    changed(None, "toggle", "overview_fit_flagged", True),
    changed(None, "toggle", "overview_fit_stats", True),
    changed(None, "multiselect", "overview_backbone", ["RN50", "ViT/B/16"]),
    changed(None, "multiselect", "overview_data", ["LAION400M"]),
    changed(None, "multiselect", "overview_find", ["open_clip:RN50/openai", "torchvision:resnet50/IMAGENET1K_V1"]),
    changed("scaling", "selectbox", "scaling_data", "LAION2B"),
    changed("classes", "selectbox", "classes_model_a", ("paper", "open_clip:ViT-B-32/openai", "1vs1000")),
    changed("classes", "selectbox", "classes_model_b", ("paper", "open_clip:ViT-L-14/laion400m_e31", "1vs1000")),
]


@pytest.mark.parametrize(("page", "widget", "key", "value"), CHANGED)
def test_a_changed_choice_round_trips(paper_copy, results_dir, page, widget, key, value):
    at = app_at(page)
    assert getattr(at, widget)(key=key).value != value
    getattr(at, widget)(key=key).set_value(value).run()
    opened = app_at(page, link(at))
    assert getattr(opened, widget)(key=key).value == value


OTHER_RUN = "the run not shown by default"
CHANGED_WITH_RUNS = [  # choices over evaluated runs
    changed("gallery", "selectbox", "gallery_run", OTHER_RUN),
    changed("gallery", "radio", "gallery_setup", "1vs20"),
    changed("gallery", "selectbox", "gallery_order", "file name"),
    changed("confusions", "selectbox", "confusions_run", OTHER_RUN),
    # The demo ResNet gets every common ostrich right, so this page ends early: its link must still be published.
    changed("confusions", "radio", "confusions_setup", "1vs20"),
    changed("flips", "selectbox", "flips_run_a", OTHER_RUN),
    changed("flips", "selectbox", "flips_run_b", OTHER_RUN),
]


def offered_runs(results: Path) -> list[Path]:
    """The run folders the pages offer: not the demo's curation run (on a collection of unsplit photos)."""
    return [run for run in sorted((results / "runs").iterdir()) if '"collection"' not in (run / "run.json").read_text()]


@pytest.mark.parametrize(("page", "widget", "key", "value"), CHANGED_WITH_RUNS)
def test_a_changed_run_choice_round_trips(with_runs, page, widget, key, value):
    at = app_at(page)
    shown = getattr(at, widget)(key=key).value
    if value == OTHER_RUN:
        value = next(run.name for run in offered_runs(with_runs) if run.name != shown)
    assert shown != value
    getattr(at, widget)(key=key).set_value(value).run()
    opened = app_at(page, link(at))
    assert getattr(opened, widget)(key=key).value == value


def test_a_run_picked_on_the_classes_page_round_trips(with_runs):
    run_id = offered_runs(with_runs)[-1].name
    at = app_at("classes")
    at.selectbox(key="classes_model_b").set_value(("run", run_id, "1vs20")).run()
    opened = app_at("classes", link(at))
    assert opened.selectbox(key="classes_model_b").value == ("run", run_id, "1vs20")


def test_invalid_and_unknown_parameters_fall_back_with_a_notice(paper_copy, results_dir):
    opened = app_at(None, {"overview_scale": "cubic", "overview_split_hq": "maybe", "colour": "red"})
    assert opened.radio(key="overview_scale").value == "linear"  # the default
    notices = " ".join(t.proto.body for t in opened.toast)
    assert "overview_scale=cubic" in notices and "overview_split_hq=maybe" in notices and "`colour`" in notices


def test_a_link_can_open_in_the_presenter_view(paper_copy, results_dir):
    opened = app_at(None, {"present": "1"})
    assert opened.toggle(key="present").value is True
    assert any("stSidebar" in m.value for m in opened.markdown)
