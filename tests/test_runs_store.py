"""The atomic run layout, and the metric SQL against hand-written predictions with known answers."""

import json

import pyarrow as pa
import pytest

from engine.runs import store
from engine.runs.format import predictions_table
from engine.runs.views import run_metrics
from tests.conftest import run_manifest


def predictions(rows):
    """rows: (class_id, split, correct_1vs1000, correct_1vs20)."""
    n = len(rows)
    return predictions_table(
        {
            "image_id": [f"img{i}.jpg" for i in range(n)],
            "class_id": pa.array([r[0] for r in rows], pa.int16()),
            "split": [r[1] for r in rows],
            "background": ["x"] * n,
            "pred_1vs1000": pa.array([0] * n, pa.int16()),
            "correct_1vs1000": [r[2] for r in rows],
            "pred_1vs20": pa.array([0] * n, pa.int16()),
            "correct_1vs20": [r[3] for r in rows],
        }
    )


# Class 1: 4 common photos (3 right), 1 counter (0 right). Class 2: 1 common (1 right), 3 counter (3 right).
KNOWN = [(1, "common", True, True)] * 3 + [(1, "common", False, True), (1, "counter", False, False)]
KNOWN += [(2, "common", True, True)] + [(2, "counter", True, True)] * 3


@pytest.fixture
def results(tmp_path):
    store.write_run(tmp_path, run_manifest("run-a"), predictions(KNOWN))
    return tmp_path


def metric(results, setup, column):
    table = run_metrics(results).set_index(["run_id", "setup"])
    return table.loc[("run-a", setup), column]


def test_class_balanced_accuracy_is_the_mean_of_per_class_accuracy(results):
    assert metric(results, "1vs1000", "common") == pytest.approx(100 * (3 / 4 + 1 / 1) / 2)  # 87.5
    assert metric(results, "1vs1000", "counter") == pytest.approx(100 * (0 / 1 + 3 / 3) / 2)  # 50.0
    assert metric(results, "1vs1000", "drop") == pytest.approx(37.5)


def test_unbalanced_accuracy_counts_images_and_differs(results):
    assert metric(results, "1vs1000", "common_unbalanced") == pytest.approx(100 * 4 / 5)  # 80.0
    assert metric(results, "1vs1000", "counter_unbalanced") == pytest.approx(100 * 3 / 4)  # 75.0


def test_both_setups_from_the_same_rows(results):
    assert metric(results, "1vs20", "common") == pytest.approx(100.0)
    assert metric(results, "1vs20", "counter") == pytest.approx(50.0)
    assert metric(results, "1vs20", "images") == 9


def test_runs_without_1_vs_20_report_only_1_vs_1000(tmp_path):
    table = predictions(KNOWN)
    table = table.set_column(table.schema.get_field_index("correct_1vs20"), "correct_1vs20", pa.nulls(9, pa.bool_()))
    store.write_run(tmp_path, run_manifest("run-b"), table)
    assert run_metrics(tmp_path)["setup"].tolist() == ["1vs1000"]


def test_no_runs_no_metrics(tmp_path):
    assert run_metrics(tmp_path).empty


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
