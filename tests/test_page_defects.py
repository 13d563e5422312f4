"""Page defects of issue 11 with Streamlit's AppTest: notes that fit the installation, paged photo lists, Flips."""

import pytest
from streamlit.testing.v1 import AppTest

from app import job_client
from app.widgets import photos
from tests.conftest import APP_MAIN


@pytest.fixture
def app(paper_copy, results_dir) -> AppTest:
    return AppTest.from_file(APP_MAIN, default_timeout=60)


def open_page(app: AppTest, page: str) -> AppTest:
    app.switch_page(f"app_pages/{page}.py")
    app.run()
    assert not app.exception, app.exception
    return app


def test_no_runs_note_says_the_demo_needs_the_engine_on_a_dashboard_only_install(app, monkeypatch):
    monkeypatch.setattr(job_client, "engine_installed", lambda: False)
    open_page(app, "gallery")
    (note,) = [i.value for i in app.info if "No evaluated runs" in i.value]
    assert "needs the engine" in note and "make engine" in note


def test_flips_with_one_run_says_it_needs_two_without_calling_it_none(app, with_unequal_run):
    open_page(app, "flips")
    (note,) = [i.value for i in app.info if "compares 2 runs" in i.value]
    assert "there is only 1 on CounterAnimal." in note and "No evaluated runs" not in note
    assert "counteranimal eval" in note


# ---- c. photo lists are paged and say how many of how many they show ---------------------------------------------


def test_photo_page_says_how_many_of_how_many(monkeypatch):
    ids = [f"{i}.jpg" for i in range(16)]
    assert photos.photo_page(ids, 1) == (ids[:12], "12 of 16 photos (1-12)")
    assert photos.photo_page(ids, 2) == (ids[12:], "4 of 16 photos (13-16)")


def test_confusion_photos_beyond_a_page_are_a_page_away(app, with_runs, monkeypatch):
    monkeypatch.setattr(photos, "PHOTOS_PER_PAGE", 1)  # the demo has a few photos per class: one a page
    open_page(app, "confusions")
    app.radio(key="confusions_split").set_value("counter").run()
    (pager,) = app.number_input
    assert len(app.get("image")) == 1 and app.caption[-1].value.startswith("1 of ")
    pager.set_value(2).run()
    assert not app.exception, app.exception
    assert "photos (2-2)" in app.caption[-1].value


# ---- d. Flips --------------------------------------------------------------------------------------------------------


def test_flips_warn_when_a_run_is_compared_with_itself(app, with_runs):
    open_page(app, "flips")
    assert not any("same run" in w.value for w in app.warning)
    app.selectbox(key="flips_run_b").set_value(app.selectbox(key="flips_run_a").value).run()
    assert any("same run" in w.value for w in app.warning)


def test_flips_show_no_photos_until_a_class_is_ticked(app, with_runs):
    open_page(app, "flips")
    assert not app.get("image") and "Tick a class in the table to see its photos." in [c.value for c in app.caption]


def test_flips_write_negative_numbers_with_a_typographic_minus(app, with_runs):
    open_page(app, "flips")
    run_a, run_b = app.selectbox(key="flips_run_a").value, app.selectbox(key="flips_run_b").value
    differences = [app.metric[2].value]
    app.selectbox(key="flips_run_a").set_value(run_b).run()
    app.selectbox(key="flips_run_b").set_value(run_a).run()
    differences.append(app.metric[2].value)  # A - B one way round is B - A the other: one of them is negative
    assert any(d.startswith("\u2212") for d in differences) and not any("-" in d for d in differences)
