"""A predictions file made elsewhere (any framework, any code): read as columns of Python values, each cell parsed as
the format says. `engine.runs.imports` checks them against the dataset and writes the run. Torch-free.

The file has one row per photo of the dataset, with these columns (a run's own predictions.parquet is such a file):

    image_id        the photo's path relative to the dataset folder, in either layout ("296 ice bear/common-snow/1.jpg"
                    or "ice bear/common-snow/1.jpg"); folders above the class folder ("LAION-final/...", an absolute
                    path) are cut off. `path` is accepted for it.
    pred_1vs1000    the predicted ImageNet-1K index (0-999) among all 1,000 classes
    pred_1vs20      the predicted index among the 20 candidates of the photo's class (it must be one of them)
    top5_ids, top5_scores, top5_probs                       optional, 1 vs 1000: the 5 best classes, best first,
                                                            their scores (logits, similarities) and probabilities
    top5_1vs20_ids, top5_1vs20_scores, top5_1vs20_probs     optional, the same among the 20 candidates

A setup whose columns are absent (or all empty) was not evaluated. With only top-5 ids, their first is the prediction.
Without top-5 ids, a setup's top-5 is the prediction followed by four unknowns (nulls); scores and probabilities not
given are NaN (the dashboard shows no confidence). In CSV a list is written "[296, 150, 3, 7, 9]" or "296 150 3 7 9".
Other columns (a run's class_id, split, background, correct_*) are ignored: the dataset says those.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from engine.errors import UserError
from engine.runs.format import SETUPS, TOP_K, pred_column, top_prefix

ALIASES = {"path": "image_id"} | {f"top5_1vs1000_{part}": f"top5_{part}" for part in ("ids", "scores", "probs")}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf(?:inity)?|nan|null|none", re.IGNORECASE)
FORMAT_HELP = (
    "one row per photo with image_id (its path in the dataset) and pred_1vs1000 and/or pred_1vs20 (ImageNet "
    'indices), optionally top5_ids/top5_scores/top5_probs and top5_1vs20_...; README, "Importing predictions"'
)


class PredictionsFileError(UserError):
    """A predictions file that cannot be imported; the message lists what is wrong, the first offenders of each kind."""


def _read_csv(path: Path) -> pa.Table:
    text_columns = {name: pa.string() for name in ("image_id", "path")}  # "0001.jpg" stays a name
    return pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(column_types=text_columns))


READERS: dict[str, tuple[str, Callable[[Path], pa.Table]]] = {
    ".csv": ("CSV", _read_csv),
    ".parquet": ("Parquet", pq.read_table),
    ".pq": ("Parquet", pq.read_table),
    ".jsonl": ("JSON lines", pa_json.read_json),
    ".ndjson": ("JSON lines", pa_json.read_json),
    ".json": ("JSON lines", pa_json.read_json),
}


def read_predictions(path: Path) -> pa.Table:
    """The file as a table, whichever of CSV, Parquet or JSON lines its suffix says it is.

    Raises:
        PredictionsFileError: no such file, another suffix, or a file its format's reader cannot read.
    """
    path = Path(path)
    if not path.is_file():
        raise PredictionsFileError(f"{path.absolute()} is not a file; give the predictions file's path.")
    kind, reader = READERS.get(path.suffix.lower(), (None, None))
    if reader is None:
        raise PredictionsFileError(f"{path.name}: give predictions as .csv, .parquet or .jsonl (JSON lines).")
    try:
        return reader(path)
    except (pa.ArrowException, OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        raise PredictionsFileError(f"Cannot read {path.name} as {kind}: {reason}. Expected {FORMAT_HELP}.") from error


def read_columns(table: pa.Table, name: str) -> tuple[dict[str, list], tuple[str, ...]]:
    """The columns an import uses, by their run-format names, as Python lists; and the columns it ignores."""
    wanted = {"image_id"} | {pred_column(s) for s in SETUPS}
    wanted |= {f"{top_prefix(s)}_{part}" for s in SETUPS for part in ("ids", "scores", "probs")}
    columns, ignored = {}, []
    for column in table.column_names:
        canonical = ALIASES.get(column, column)
        if canonical in wanted and canonical not in columns:
            columns[canonical] = table.column(column).to_pylist()
        else:
            ignored.append(column)
    if "image_id" not in columns:
        found = ", ".join(table.column_names) or "none"
        raise PredictionsFileError(
            f"{name} has no image_id (or path) column; its columns: {found}. Expected {FORMAT_HELP}."
        )
    if table.num_rows == 0:
        raise PredictionsFileError(f"{name} has no rows. Expected {FORMAT_HELP}.")
    return columns, tuple(ignored)


def _given(columns: dict[str, list], column: str) -> bool:
    return any(value is not None for value in columns.get(column, ()))


def _answer_columns(setup: str) -> tuple[str, str]:
    """The columns that answer a setup: the prediction, or the top-5 ids (whose first is the prediction)."""
    return pred_column(setup), f"{top_prefix(setup)}_ids"


def present_setups(columns: dict[str, list]) -> tuple[str, ...]:
    """The setups the file answers: a prediction or top-5 ids for at least one photo."""
    return tuple(s for s in SETUPS if any(_given(columns, c) for c in _answer_columns(s)))


def why_no_setup(columns: dict[str, list], table: pa.Table) -> str:
    """Why a file answers no setup, in words: no answer column at all, or answer columns without a value."""
    answers = [c for s in SETUPS for c in _answer_columns(s)]
    if not any(c in columns for c in answers):
        return f"none of its columns ({', '.join(table.column_names)}) is one of {', '.join(answers)}"
    return "its prediction columns are empty"


def cell(columns: dict[str, list], column: str, row: int) -> object:
    """A row's value in a column; None when the file has no such column."""
    return columns[column][row] if column in columns else None


def whole_number(value: object) -> int | None:
    """A whole number (an int, 296.0, "296"), else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def top5_list(value: object) -> list | None:
    """A top-5 list from Parquet/JSON (a list) or CSV (text): up to 5 numbers or nulls, padded with nulls to 5.

    Raises:
        ValueError: not a list of up to 5 numbers.
    """
    if value is None:
        return None
    if isinstance(value, str):
        tokens = _NUMBER.findall(value)
        if re.sub(r"[\s,;\[\]()]", "", _NUMBER.sub("", value)):
            raise ValueError(value)
        value = [None if t.lower() in ("nan", "null", "none") else float(t) for t in tokens]
    if not isinstance(value, list | tuple) or not 0 < len(value) <= TOP_K:
        raise ValueError(value)
    if any(v is not None and not isinstance(v, int | float) for v in value):
        raise ValueError(value)
    return [*value, *[None] * (TOP_K - len(value))]
