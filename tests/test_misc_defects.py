"""Defects a new user saw (issue 11): the tab icon, the Export popover's layout, unknown page addresses."""

from __future__ import annotations

import json

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import export
from tests.conftest import APP_MAIN
from tests.test_app import open_export_menu, open_page


@pytest.fixture
def app(paper_copy, results_dir) -> AppTest:
    return AppTest.from_file(APP_MAIN, default_timeout=60)


def test_the_tab_icon_needs_no_font_from_the_network(app, monkeypatch):
    configs: list[dict] = []
    original = st.set_page_config
    monkeypatch.setattr(st, "set_page_config", lambda **kw: configs.append(kw) or original(**kw))
    open_page(app)
    assert configs and not str(configs[0]["page_icon"]).startswith(":material/")


def _format_rows(node, rows: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """(columns in the row, labels of the chart-format download buttons in it) for each row of columns holding some."""
    children = list(getattr(node, "children", {}).values())
    if children and all(getattr(c, "type", None) == "column" for c in children):
        labels = [b.proto.label for c in children for b in c.get("download_button")]
        if any(label.lower() in export.FORMATS for label in labels):
            rows.append((len(children), labels))
            return rows
    for child in children:
        _format_rows(child, rows)
    return rows


def test_the_export_buttons_sit_at_most_two_per_row_with_whole_labels(app):
    open_page(app)
    open_export_menu(app, "overview")
    rows = _format_rows(app._tree, [])
    assert rows
    for columns, labels in rows:
        assert columns <= 2 and len(labels) <= 2
        assert all(label in {fmt.upper() for fmt in export.FORMATS} for label in labels)
    buttons = [b for b in app.get("download_button") if b.proto.label.lower() in export.FORMATS]
    assert {b.proto.label for b in buttons} == {fmt.upper() for fmt in export.FORMATS}


def test_an_unknown_address_opens_the_overview_without_a_page_not_found_dialog(app, monkeypatch):
    from streamlit.commands import navigation
    from streamlit.runtime.pages_manager import PagesManager

    intend, asked = PagesManager.set_script_intent, ["nosuchpage"]  # the browser's address, once: as on opening a link
    monkeypatch.setattr(
        PagesManager, "set_script_intent", lambda self, hash_, name: intend(self, hash_, asked.pop() if asked else name)
    )
    not_found: list[object] = []
    monkeypatch.setattr(navigation, "send_page_not_found", not_found.append)
    open_page(app)
    assert not_found == []
    assert app.title[0].value == "Common vs counter backgrounds"  # the Overview


def test_an_identical_rerun_under_a_new_name_renames_the_run(dataset_dir, tmp_path, tiny_timm):
    import torch

    from engine.dataset.reader import load_dataset
    from engine.inference.evaluator import EvalOptions, Evaluator

    options = EvalOptions(tmp_path / "results", tmp_path / "cache", torch.device("cpu"), workers=1, progress=False)
    spec, dataset = f"timm:test_resnet@{tiny_timm}", load_dataset(dataset_dir)
    first = Evaluator(dataset, options).evaluate(spec, name="old name")
    again = Evaluator(dataset, options).evaluate(spec, name="new name")
    assert (again.skipped, again.run_id) == (True, first.run_id)
    manifest = json.loads((again.path / "run.json").read_text())
    assert manifest["model"]["name"] == "new name" and manifest["run_id"] == first.run_id
    assert sorted(p.name for p in again.path.iterdir()) == ["predictions.parquet", "run.json"]  # no partial left
