"""The Overview says what it shows: the metric of the variant, the trend sizes, and flagged rows left out of fits."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import APP_MAIN


@pytest.fixture
def app(paper_copy, results_dir) -> AppTest:
    at = AppTest.from_file(APP_MAIN, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def captions(app: AppTest) -> str:
    return "\n".join(c.value for c in app.caption)


def test_unbalanced_variant_is_not_called_class_balanced(app):
    app.selectbox(key="variant").set_value("unbalanced_accuracy").run()
    assert "per-image accuracy" in captions(app) and "class-balanced" not in captions(app)


def test_trend_size_counts_the_models_fitted_not_all_models(app):
    # 1 vs 1000 default: 28 CLIPs and 15 ImageNet models (43 in all); each line is fitted to its own family only.
    assert "the 28 CLIP and 15 ImageNet models fitted" in captions(app)
    assert "all 43 models" not in captions(app)


def test_flagged_copy_row_is_left_out_of_the_fit_until_the_toggle_puts_it_back(app):
    app.selectbox(key="variant").set_value("openai_80_prompt_ensemble").run()
    assert "the 27 CLIP models fitted" in captions(app)
    app.toggle(key="overview_fit_flagged").set_value(True).run()
    assert not app.exception and "the 28 CLIP models fitted" in captions(app)
