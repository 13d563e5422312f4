"""The DuckDB views and the metric SQL, against hand-written predictions with known answers."""

import duckdb
import pyarrow as pa
import pytest

from engine.runs import store
from engine.runs.format import predictions_table
from engine.runs.views import create_run_views, run_metrics
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


def columns(results) -> list[tuple[str, str]]:
    with duckdb.connect() as con:
        create_run_views(con, results)
        return [
            (row[0], row[1]) for view in ("predictions", "runs") for row in con.execute(f"DESCRIBE {view}").fetchall()
        ]


def test_the_empty_views_have_the_columns_and_types_of_real_ones(demo_results, tmp_path):
    assert columns(tmp_path) == columns(demo_results)


def test_the_runs_view_reads_the_manifest(results):
    with duckdb.connect() as con:
        create_run_views(con, results)
        row = con.execute("SELECT run_id, model_id, images, setups FROM runs").fetchall()
    assert row == [("run-a", "timm:test_resnet@/w.pt", 0, ["1vs1000", "1vs20"])]
