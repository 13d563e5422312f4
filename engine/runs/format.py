"""The run format, defined once: setup names, the predictions table's Arrow schema, and run.json's fields.

Every writer (the evaluator, the demo, the benchmark's synthetic runs) and every reader (the DuckDB views, the app)
takes names and types from here. Torch-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa

SCHEMA_VERSION = 2  # bump when predictions.parquet changes (2: each setup's top-5), so old runs are not reused

# The paper's two setups: every ImageNet class competes, or only the 20 labels most confusable with the class.
ONE_VS_1000, ONE_VS_20 = "1vs1000", "1vs20"
SETUPS = (ONE_VS_1000, ONE_VS_20)
SETUP_LABELS = {ONE_VS_1000: "1 vs 1000", ONE_VS_20: "1 vs 20"}
CANDIDATES_PER_CLASS = 20  # the 1 vs 20 setup's candidate labels per class, the true one included
TOP_K = 5  # classes kept per image and setup, best first

# The paper's vision-language protocol (run.json's `labels.lvlm` when a run used it): this question about each photo,
# and the loss of this answer ({} = a candidate's name) scores each of the 20 candidates. Here, not in the torch
# layer's `models.vlm`, because the dashboard names the protocol of every run too.
LVLM_QUESTION = "What is the main object in the image?"
LVLM_ANSWER = "A {}"  # e.g. "A ice bear"


def pred_column(setup: str) -> str:
    """The column holding a setup's predicted ImageNet index (SMALLINT)."""
    return f"pred_{setup}"


def correct_column(setup: str) -> str:
    """The column saying whether a setup's prediction is the true class (BOOLEAN; NULL when not evaluated)."""
    return f"correct_{setup}"


def top_prefix(setup: str) -> str:
    """Prefix of a setup's top-k columns (`_ids`, `_scores`, `_probs`): 1 vs 1000 keeps the original short names."""
    return "top5" if setup == ONE_VS_1000 else f"top5_{setup}"


def _setup_fields(setup: str) -> list[pa.Field]:
    ids, values, prefix = pa.list_(pa.int16(), TOP_K), pa.list_(pa.float32(), TOP_K), top_prefix(setup)
    return [
        pa.field(pred_column(setup), pa.int16()),
        pa.field(correct_column(setup), pa.bool_()),
        pa.field(f"{prefix}_ids", ids),  # (K,) ImageNet indices, best first
        pa.field(f"{prefix}_scores", values),  # (K,) cosine similarity (CLIP) or logit (ImageNet models)
        pa.field(f"{prefix}_probs", values),  # (K,) probability among the setup's candidates
    ]


_CATEGORY = pa.dictionary(pa.int32(), pa.string())  # few distinct values, repeated on every row

# predictions.parquet: one row per readable photo. A setup that was not evaluated has typed, all-null columns.
PREDICTIONS_SCHEMA = pa.schema(
    [
        pa.field("image_id", pa.string()),  # path relative to the dataset root, forward slashes
        pa.field("class_id", pa.int16()),  # ImageNet-1K index of the true class
        pa.field("split", _CATEGORY),  # "common" or "counter"
        pa.field("background", _CATEGORY),  # e.g. "snow"
        *(f for setup in SETUPS for f in _setup_fields(setup)),
    ]
)


def setup_columns(
    setup: str, ids: np.ndarray, scores: np.ndarray, probs: np.ndarray, class_ids: np.ndarray
) -> dict[str, pa.Array]:
    """A setup's columns from each photo's best classes: `ids` (N, K) ImageNet indices best first, with their `scores`
    and `probs` (N, K); the first is the prediction, right when it is the photo's class (`class_ids`, (N,))."""
    prefix = top_prefix(setup)
    return {
        pred_column(setup): arrow_array(ids[:, 0], pa.int16()),
        correct_column(setup): arrow_array(ids[:, 0] == class_ids, pa.bool_()),
        f"{prefix}_ids": _fixed_lists(ids, pa.int16()),
        f"{prefix}_scores": _fixed_lists(scores, pa.float32()),
        f"{prefix}_probs": _fixed_lists(probs, pa.float32()),
    }


def _fixed_lists(values: np.ndarray, kind: pa.DataType) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(arrow_array(values.reshape(-1), kind), TOP_K)


def arrow_array(values: np.ndarray | list[str], kind: pa.DataType) -> pa.Array:
    """A 1-D numpy array of numbers or booleans, or a list of strings, as an Arrow array of type `kind`, built from
    their buffers. Not `pa.array`: its first call in a process imports pandas (when installed, to tell pandas objects
    apart), 0.2-0.4 s of CPU that every evaluation paid as it wrote its run (bench/eval_throughput.py)."""
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(f"arrow_array takes 1-D arrays, not shape {values.shape}")
    if isinstance(values, np.ndarray) and values.dtype == np.bool_:  # Arrow packs booleans 8 to a byte, low bit first
        buffers = [None, pa.py_buffer(np.packbits(values, bitorder="little"))]
        array = pa.Array.from_buffers(pa.bool_(), len(values), buffers)
    elif isinstance(values, np.ndarray):
        values = np.ascontiguousarray(values)
        array = pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])
    else:
        encoded = [value.encode() for value in values]
        offsets = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum([len(value) for value in encoded], out=offsets[1:])
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
        array = pa.Array.from_buffers(pa.large_string(), len(encoded), buffers)
    array.validate()
    return array.cast(kind)


def predictions_table(columns: dict[str, pa.Array | list]) -> pa.Table:
    """A predictions table in the run format from the columns given, each converted to its type in the schema; a
    column not given (a setup that was not evaluated) is all null.

    Raises:
        ValueError: a column the run format does not have.
    """
    if unknown := sorted(set(columns) - set(PREDICTIONS_SCHEMA.names)):
        raise ValueError(f"columns {unknown} are not in the run format ({', '.join(PREDICTIONS_SCHEMA.names)})")
    rows = len(next(iter(columns.values())))
    return pa.Table.from_arrays(
        [_column(columns[f.name], f.type) if f.name in columns else pa.nulls(rows, f.type) for f in PREDICTIONS_SCHEMA],
        schema=PREDICTIONS_SCHEMA,
    )


def _column(values: pa.Array | list, kind: pa.DataType) -> pa.Array:
    array = values if isinstance(values, pa.Array) else pa.array(values)
    if pa.types.is_dictionary(kind):
        return array if array.type == kind else array.cast(kind.value_type).dictionary_encode()
    return array.cast(kind)


@dataclass(frozen=True)
class RunManifest:
    """run.json: the provenance of one run. `identity` (everything that determines the predictions) hashes to the run
    id; the rest says how the run was made. Written last, so its presence marks a complete run."""

    run_id: str
    model: dict  # {"spec", "family", "checkpoint": {"source", "sha256", ...}} and "name" when the user gave one
    dataset: dict  # {"root", "layout", "fingerprint"}
    labels: dict  # {"classnames", "templates" (CLIP only), "candidates" (the 1 vs 20 file)}
    setups: list[str]
    started_at: str  # ISO 8601, UTC
    images: dict  # {"listed", "evaluated"}
    identity: dict = field(default_factory=dict)
    preprocess: dict = field(default_factory=dict)  # {"steps", "mean", "std"}
    precision: str = ""  # "bf16-autocast" or "fp32"
    device: str = ""
    packages: dict = field(default_factory=dict)  # package -> version
    python: str = ""
    finished_at: str = ""
    seconds: dict = field(default_factory=dict)  # stage -> seconds
    skipped_files: list = field(default_factory=list)  # [{"image_id", "reason"}]

    def to_json(self) -> dict:
        return asdict(self)
