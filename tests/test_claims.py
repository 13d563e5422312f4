"""What the About page and the README say about the paper, its sources and its reproduction."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import APP_MAIN, REPO


@pytest.fixture
def about_text(paper_copy, results_dir) -> str:
    at = AppTest.from_file(APP_MAIN, default_timeout=60)
    at.switch_page("app_pages/about.py").run()
    assert not at.exception, at.exception
    return " ".join(m.value for m in at.markdown)


def readme_intro() -> str:
    return (REPO / "README.md").read_text().split("\n## ")[0]


def test_about_page_reports_the_reproductions_misses_not_only_its_matches(about_text):
    assert "0.2 points" in about_text
    assert "ConvNext/BW" in about_text and "77.13 / 56.33" in about_text and "61.03 / 39.91" in about_text
    assert "16 points" in about_text and "bigG" in about_text and "0.9 points" in about_text


def test_about_page_says_laion400m_weights_need_quickgelu(about_text):
    assert "laion400m_e31" in about_text and "QuickGELU" in about_text and "plain-GELU" in about_text


def test_about_page_names_the_preprint_version_and_does_not_say_photographed_twice(about_text):
    assert "2403.11497v1" in about_text and "Tables 2-16" in about_text
    assert "twice" not in about_text and "iNaturalist" in about_text


def test_readme_intro_names_the_preprint_the_reproductions_misses_and_how_photos_were_collected():
    intro = readme_intro()
    assert "2403.11497v1" in intro and "ConvNext/BW by 16 points" in intro and "QuickGELU" in intro
    assert "iNaturalist" in intro and "photographs 45" not in intro
