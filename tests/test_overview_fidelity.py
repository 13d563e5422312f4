"""The Overview says what it shows: the metric of the variant, the trend sizes, and flagged rows left out of fits."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import APP_MAIN, open_link


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


def test_a_run_far_outside_the_fitted_range_is_flagged_in_the_table_and_no_cell_reads_none(with_runs):
    at = open_link()
    at.session_state["overview_models_open"] = True  # both tables, opened as clicks do
    at.session_state["overview_runs_open"] = True
    at.run()
    table, evaluated = (frame.value for frame in at.dataframe)
    clip = table[table["model"].str.startswith("demo-clip")].iloc[0]  # common 0%: far below the CLIPs fitted
    assert clip["ER extrapolated"] and "extrapolated" in clip["note"]
    assert evaluated["ER extrapolated"].all()  # the demo runs score 0% and 100% common
    for frame in (table, evaluated):
        assert not frame.isna().any().any() and not (frame.astype(str) == "None").any().any()
    assert at.get("download_button")[-1].proto.label.startswith("Download evaluated runs")


def test_a_highlighted_id_that_is_no_run_is_called_missing_not_unscored(with_runs):
    at = open_link(overview_run="doesnotexist")
    (toast,) = at.toast
    assert "There is no run doesnotexist" in toast.value and "no scores" not in toast.value
