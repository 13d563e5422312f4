"""The run format: one schema for every writer, and the demo's predictions pinned across refactors."""

import hashlib
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from engine.runs.format import (
    PREDICTIONS_SCHEMA,
    SETUPS,
    arrow_array,
    correct_column,
    predictions_table,
    top_prefix,
)
from engine.runs.store import RUNS

# The demo's two runs (`demo_results`: 6 classes x 2 backgrounds x 4 photos) as the engine wrote them before it was
# split into layers (its predictions.parquet files were byte-identical after the move, on this project's build
# machine): the exact digest of every column but the float scores, and the sums of those (float32 outputs of random
# tiny models may differ in their last bits between CPUs, and Parquet bytes between pyarrow versions).
PINNED = {
    "timm:test_resnet": (
        "ed3d52fa2ed461afb9ee5d69499a9cd919164098ebb1c2eff7fa4175cd0ff285",
        {"top5_scores": 968.7134, "top5_probs": 47.8784, "top5_1vs20_scores": -530.3269, "top5_1vs20_probs": 47.9316},
    ),
    "open_clip:local-dir": (
        "5e5ac1cb81fcf6faf714e014780e3d139d805e0c80cc0d59938a482142f09819",
        {"top5_scores": 40.4662, "top5_probs": 6.5527, "top5_1vs20_scores": 2.3262, "top5_1vs20_probs": 32.9511},
    ),
}


def test_a_setup_not_given_is_all_null_and_typed():
    table = predictions_table({"image_id": ["a.jpg"], "class_id": [296], "split": ["common"], "background": ["snow"]})
    assert table.schema.equals(PREDICTIONS_SCHEMA)
    assert all(table[correct_column(setup)].null_count == 1 for setup in SETUPS)
    assert table.schema.field(f"{top_prefix(SETUPS[1])}_ids").type == pa.list_(pa.int16(), 5)


def test_a_column_outside_the_format_is_refused():
    with pytest.raises(ValueError, match="not in the run format"):
        predictions_table({"image_id": ["a.jpg"], "correct": [True]})


def discrete_digest(table: pa.Table) -> str:
    """SHA-256 of the schema and every non-float column of the table sorted by image id."""
    table = table.sort_by("image_id")
    digest = hashlib.sha256(str(table.schema).encode())
    for name in table.column_names:
        if "_scores" in name or "_probs" in name:
            continue
        digest.update(f"{name}={table[name].to_pylist()}".encode())
    return digest.hexdigest()


def float_sums(table: pa.Table) -> dict[str, float]:
    return {
        name: pc.sum(pc.list_flatten(table[name])).as_py() or 0.0
        for name in table.column_names
        if "_scores" in name or "_probs" in name
    }


def test_the_demo_runs_predictions_are_unchanged(demo_results):
    seen = set()
    for path in sorted((demo_results / RUNS).glob("*/predictions.parquet")):
        table = pq.read_table(path)
        assert table.schema.equals(PREDICTIONS_SCHEMA)
        spec = (path.parent / "run.json").read_text()
        if '"layout": "collection"' in spec:  # the demo's curation run, on other photos
            continue
        key = next(k for k in PINNED if k in spec)
        seen.add(key)
        digest, sums = PINNED[key]
        assert discrete_digest(table) == digest, key
        assert float_sums(table) == pytest.approx(sums, rel=1e-4), key
    assert seen == set(PINNED)


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (np.array([True, False, True, True, False, False, False, True, True]), pa.bool_()),  # more than a byte of bits
        (np.arange(12, dtype=np.int64).reshape(3, 4)[:, 1], pa.int16()),  # a strided column of a 2-D array
        (np.array([0.25, -1.5, 3e-8], dtype=np.float32), pa.float32()),
        (np.array([], dtype=np.int64), pa.int16()),
        (["10 ice bear/a b.jpg", "", "snow \u00e9\u00fc", "x"], pa.string()),
        ([], pa.string()),
    ],
)
def test_arrays_built_from_buffers_equal_pyarrows_own(values, kind):
    assert arrow_array(values, kind).equals(pa.array(values, kind))


def test_a_run_table_is_built_and_written_without_importing_pandas(tmp_path):
    """pa.array imports pandas on its first call (a third of a second of every evaluation process); the run writer
    builds its arrays without it. In a fresh process, as the CLI's evaluation runs."""
    script = f"""
import sys
import numpy as np
from engine.inference.scorers import TopK, run_table
from engine.dataset.reader import ImageRecord
rows = [ImageRecord(f"c/{{i}}.jpg", 7, "common" if i % 2 else "counter", "snow") for i in range(6)]
top = TopK(np.zeros((6, 5), np.int64), np.ones((6, 5), np.float32), np.ones((6, 5), np.float32))
import pyarrow.parquet as pq
pq.write_table(run_table(rows, np.full(6, 7), top, top), {str(tmp_path / "p.parquet")!r})
print("pandas" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_arrays_of_more_than_one_dimension_are_refused():
    with pytest.raises(ValueError, match="1-D"):
        arrow_array(np.zeros((2, 3), np.int64), pa.int16())
