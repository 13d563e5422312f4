"""The atomic run layout: runs appear whole or not at all, and a failed rewrite damages nothing."""

import json

import pytest

from engine.runs import store
from engine.runs.views import run_metrics
from tests.conftest import run_manifest
from tests.test_runs_views import KNOWN, metric, predictions


@pytest.fixture
def results(tmp_path):
    store.write_run(tmp_path, run_manifest("run-a"), predictions(KNOWN))
    return tmp_path


def test_a_run_is_visible_only_when_complete(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store.Path, "write_text", crash)  # dies after the predictions, before run.json
    with pytest.raises(OSError):
        store.write_run(tmp_path, run_manifest("run-c"), predictions(KNOWN))
    monkeypatch.undo()
    assert not store.is_complete(tmp_path, "run-c")
    assert store.list_runs(tmp_path) == [] and run_metrics(tmp_path).empty


def test_forced_rewrite_replaces_the_run(results):
    store.write_run(results, run_manifest("run-a", started_at="second"), predictions(KNOWN[:2]))
    manifest = json.loads((store.run_path(results, "run-a") / "run.json").read_text())
    assert manifest["started_at"] == "second" and metric(results, "1vs1000", "images") == 2


def test_a_failed_rewrite_keeps_the_earlier_run(results, monkeypatch):
    real_rename = store.Path.rename

    def failing_rename(self, target):
        if self.name.startswith("run-a-") and "replaced" not in self.name:  # the new run's move into place
            raise OSError("disk gone")
        return real_rename(self, target)

    monkeypatch.setattr(store.Path, "rename", failing_rename)
    with pytest.raises(OSError):
        store.write_run(results, run_manifest("run-a", started_at="second"), predictions(KNOWN[:2]))
    monkeypatch.undo()
    assert metric(results, "1vs1000", "images") == 9  # the first run, whole


def test_a_second_writer_of_the_same_run_leaves_the_first_standing(results, monkeypatch):
    real_rename = store.Path.rename

    def someone_else_finished(self, target):
        if self.name.startswith("run-x-") and ".partial" in str(self):
            real_rename(self, target)  # the other process's identical run lands first ...
            raise OSError("target exists")  # ... so ours finds the place taken
        return real_rename(self, target)

    monkeypatch.setattr(store.Path, "rename", someone_else_finished)
    path = store.write_run(results, run_manifest("run-x"), predictions(KNOWN))
    assert store.is_complete(results, "run-x") and path == store.run_path(results, "run-x")


def test_half_written_runs_of_dead_processes_are_swept(results):
    stale = results / store.PARTIAL / "run-z-999999999"
    stale.mkdir(parents=True)
    (stale / "predictions.parquet").write_bytes(b"half")
    store.sweep_partials(results)
    assert not stale.exists()
