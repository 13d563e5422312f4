"""Predictions made elsewhere (any framework, any code) as a run: read a CSV, Parquet or JSON-lines file of per-photo
predictions, check it against the dataset, and write it with the run writer, so every page shows it like an
evaluation. Torch-free.

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

import math
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from engine.dataset.reader import Dataset, DatasetError, ImageRecord, folder_class_id, imagenet_classes, synonym_index
from engine.errors import UserError
from engine.files import digest, sha256_file
from engine.runs import store
from engine.runs.format import (
    ONE_VS_20,
    SCHEMA_VERSION,
    SETUPS,
    TOP_K,
    RunManifest,
    correct_column,
    pred_column,
    predictions_table,
    top_prefix,
)

FAMILIES = ("CLIP", "ImageNet", "LVLM", "other")
IMAGENET_CLASSES = 1000
SHOWN = 5  # offenders named per kind of problem
MAX_MISSING_SHARE = 0.05  # as for unreadable photos: past this, the photos left out, not the model, are measured
UNKNOWN_LABELS = {"classnames": "unknown", "templates": None}  # how the predictions were asked for is not known
ALIASES = {"path": "image_id"} | {f"top5_1vs1000_{part}": f"top5_{part}" for part in ("ids", "scores", "probs")}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf(?:inity)?|nan|null|none", re.IGNORECASE)
FORMAT_HELP = (
    "one row per photo with image_id (its path in the dataset) and pred_1vs1000 and/or pred_1vs20 (ImageNet "
    'indices), optionally top5_ids/top5_scores/top5_probs and top5_1vs20_...; README, "Importing predictions"'
)


class PredictionsFileError(UserError):
    """A predictions file that cannot be imported; the message lists what is wrong, the first offenders of each kind."""


@dataclass(frozen=True)
class ImportedRun:
    """What an import did."""

    run_id: str
    path: Path
    rows: int  # photos with predictions
    setups: tuple[str, ...]
    skipped: bool  # the same file was imported before: nothing written
    renamed: bool  # ... and it took the name given now
    ignored_columns: tuple[str, ...]


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


def _columns(table: pa.Table, name: str) -> tuple[dict[str, list], tuple[str, ...]]:
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


def present_setups(columns: dict[str, list]) -> tuple[str, ...]:
    """The setups the file answers: a prediction or top-5 ids for at least one photo."""
    return tuple(s for s in SETUPS if _given(columns, pred_column(s)) or _given(columns, f"{top_prefix(s)}_ids"))


class Problems:
    """Everything wrong with a file, by kind: a count and the first offenders, so one message says it all."""

    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def add(self, kind: str, example: str) -> None:
        self.found.setdefault(kind, []).append(example)

    def raise_if_any(self, name: str) -> None:
        if not self.found:
            return
        lines = [f"{kind} ({len(examples)}): {_preview(examples)}" for kind, examples in self.found.items()]
        missing = f" Every photo needs one row; --allow-missing records up to {MAX_MISSING_SHARE:.0%} as skipped."
        advice = missing if MISSING in self.found else ""
        raise PredictionsFileError(f"{name} was not imported; nothing was written. " + "; ".join(lines) + f".{advice}")


def _preview(examples: list[str]) -> str:
    shown = ", ".join(examples[:SHOWN])
    return shown + (f", ... ({len(examples) - SHOWN} more)" if len(examples) > SHOWN else "")


# The kinds of problem a file can have, as they are named in the refusal: "<kind> (<count>): <first offenders>".
UNKNOWN_PATH = "paths that are not photos of the dataset"
DUPLICATE = "photos that appear more than once"
NO_PREDICTION = "rows without a prediction for a setup the file answers"
OUT_OF_RANGE = "predictions that are not ImageNet-1K indices (whole numbers 0-999)"
NOT_CANDIDATE = "1 vs 20 predictions outside the 20 candidates of the photo's class"
BAD_TOP5 = "top-5 lists that are not up to 5 numbers, best first, starting with the prediction"
MISSING = "photos of the dataset missing from the file"


class PhotoIndex:
    """Finds a dataset photo from a path written in either layout, with or without the folders above the classes."""

    def __init__(self, dataset: Dataset) -> None:
        self.by_id = {image.image_id: image for image in dataset.images}
        # (class, "<split>-<background>/<file>" in lower case): file systems that ignore case write either
        self.by_key = {(image.class_id, image.image_id.split("/", 1)[1].lower()): image for image in dataset.images}
        self.classes = imagenet_classes()
        self.names = synonym_index(self.classes)

    def find(self, path: str) -> ImageRecord | None:
        path = str(path).replace("\\", "/").strip()
        if path in self.by_id:
            return self.by_id[path]
        parts = [p for p in path.split("/") if p not in ("", ".")]
        for i in range(len(parts) - 2):  # class folder / <split>-<background> / file
            if parts[i + 1].lower().startswith(("common-", "counter-")):
                try:
                    class_id = folder_class_id(parts[i], self.names, self.classes)
                except DatasetError:
                    continue
                return self.by_key.get((class_id, "/".join(parts[i + 1 :]).lower()))
        return None


def _match(ids: list, dataset: Dataset, problems: Problems) -> tuple[list[int], list[ImageRecord]]:
    """(row, photo) of each file row that names a photo of the dataset, once; the other rows are problems."""
    index, rows, photos, seen = PhotoIndex(dataset), [], [], set()
    for row, path in enumerate(ids):
        photo = index.find(path) if path is not None else None
        if photo is None:
            problems.add(UNKNOWN_PATH, repr(path))
        elif photo.image_id in seen:
            problems.add(DUPLICATE, photo.image_id)
        else:
            seen.add(photo.image_id)
            rows.append(row)
            photos.append(photo)
    return rows, photos


def _missing(dataset: Dataset, photos: list[ImageRecord], allow: bool, problems: Problems) -> list[str]:
    """Photos of the dataset the file has no row for: a problem, unless allowed (and few)."""
    given = {photo.image_id for photo in photos}
    missing = [image.image_id for image in dataset.images if image.image_id not in given]
    if missing and (not allow or len(missing) > MAX_MISSING_SHARE * len(dataset.images)):
        for image_id in missing:
            problems.add(MISSING, image_id)
    return missing


def _index(value: object) -> int | None:
    """A whole number (an int, 296.0, "296"), else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def _numbers(value: object) -> list | None:
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


@dataclass
class Answers:
    """One setup's predictions for the matched photos, in their order: the run format's columns as Python lists."""

    preds: list[int]
    ids: list[list]  # (K,) ImageNet indices, best first; nulls where the file gave fewer (or none)
    scores: list[list[float]]  # NaN where the file gave none
    probs: list[list[float]]


def _cell(columns: dict[str, list], column: str, row: int) -> object:
    """A row's value in a column; None when the file has no such column."""
    return columns[column][row] if column in columns else None


def _top5(setup: str, columns: dict[str, list], row: int, image_id: str, problems: Problems) -> list | None:
    """The row's top-5 ids, scores and probabilities of a setup as lists of 5 (None where not given); None (and a
    problem) when one cannot be read."""
    lists = []
    for part in ("ids", "scores", "probs"):
        column = f"{top_prefix(setup)}_{part}"
        value = _cell(columns, column, row)
        try:
            lists.append(_numbers(value))
        except ValueError:
            problems.add(BAD_TOP5, f"{image_id}: {column}={value!r}")
            return None
    return lists


def _answer(setup: str, columns: dict[str, list], row: int, photo: ImageRecord, candidates: dict | None,
            problems: Problems) -> tuple[int, list, list[float], list[float]] | None:  # fmt: skip
    """One photo's prediction in a setup, checked: a whole ImageNet index, the first of its top-5, and in 1 vs 20 one
    of its class's candidates. None (and a problem) when it is not."""
    column, image_id = pred_column(setup), photo.image_id
    raw = _cell(columns, column, row)
    if (top5 := _top5(setup, columns, row, image_id, problems)) is None:
        return None
    ids, scores, probs = top5
    pred = _index(raw) if raw is not None else (_index(ids[0]) if ids and ids[0] is not None else None)
    if pred is None:
        problems.add(NO_PREDICTION if raw is None else OUT_OF_RANGE, f"{image_id}: {column}={raw!r}")
        return None
    given = [pred] + [_index(i) for i in ids or () if i is not None]
    if not all(i is not None and 0 <= i < IMAGENET_CLASSES for i in given):
        problems.add(OUT_OF_RANGE, f"{image_id}: {column}={raw!r}" + (f", top-5 {ids}" if ids else ""))
        return None
    if ids and ids[0] != pred:
        problems.add(BAD_TOP5, f"{image_id}: {column}={pred} but the top-5 starts with {ids[0]}")
        return None
    if len(given[1:]) != len(set(given[1:])):
        problems.add(BAD_TOP5, f"{image_id}: the top-5 {ids} names a class twice")
        return None
    allowed = (candidates or {}).get(photo.class_id, ())
    if setup == ONE_VS_20 and not set(given) <= set(allowed):
        outside = sorted(set(given) - set(allowed))
        problems.add(NOT_CANDIDATE, f"{image_id} (class {photo.class_id}): {', '.join(map(str, outside))}")
        return None
    top = [int(i) if i is not None else None for i in ids] if ids else [pred, *[None] * (TOP_K - 1)]
    return pred, top, _floats(scores), _floats(probs)


def _floats(values: list | None) -> list[float]:
    """Scores or probabilities as 5 floats, NaN where not given: an unknown number, which the gallery shows as n/a
    (a null list would be an unevaluated setup's)."""
    return [math.nan if v is None else float(v) for v in values] if values else [math.nan] * TOP_K


def _answers(setup: str, columns: dict[str, list], matched: list[tuple[int, ImageRecord]], candidates: dict | None,
             problems: Problems) -> Answers:  # fmt: skip
    answers = Answers([], [], [], [])
    for row, photo in matched:
        if (answer := _answer(setup, columns, row, photo, candidates, problems)) is not None:
            for values, value in zip((answers.preds, answers.ids, answers.scores, answers.probs), answer, strict=True):
                values.append(value)
    return answers


def _table(photos: list[ImageRecord], answers: dict[str, Answers]) -> pa.Table:
    """The run format's table: the dataset says each photo's class, split and background; the file its answers."""
    class_ids = [photo.class_id for photo in photos]
    columns: dict[str, pa.Array | list] = {
        "image_id": [photo.image_id for photo in photos],
        "class_id": class_ids,
        "split": [photo.split for photo in photos],
        "background": [photo.background for photo in photos],
    }
    for setup, given in answers.items():
        prefix = top_prefix(setup)
        columns |= {
            pred_column(setup): pa.array(given.preds, pa.int16()),
            correct_column(setup): pa.array([p == c for p, c in zip(given.preds, class_ids, strict=True)]),
            f"{prefix}_ids": pa.array(given.ids, pa.list_(pa.int16(), TOP_K)),
            f"{prefix}_scores": pa.array(given.scores, pa.list_(pa.float32(), TOP_K)),
            f"{prefix}_probs": pa.array(given.probs, pa.list_(pa.float32(), TOP_K)),
        }
    return predictions_table(columns)


@dataclass(frozen=True)
class ImportOptions:
    """How to import (everything but the file and the dataset)."""

    results: Path
    name: str  # how the dashboard shows the run
    family: str = "other"  # one of FAMILIES: what kind of model made the predictions
    candidates: dict[int, tuple[int, ...]] | None = None  # the 1 vs 20 candidates; needed when the file answers 1vs20
    candidates_file: str | None = None  # where they come from (run.json's labels.candidates)
    labels: dict | None = None  # run.json's labels (class names, templates); None: not known (UNKNOWN_LABELS)
    allow_missing: bool = False  # photos without a row are recorded as skipped (at most MAX_MISSING_SHARE)


def _identity(file_sha256: str, dataset: Dataset, setups: tuple[str, ...], options: ImportOptions) -> dict:
    """Everything that decides the run: the file's bytes, the photos, and what the importer says about them (not the
    display name, which a re-import may change)."""
    answers_20 = ONE_VS_20 in setups
    return {
        "schema": SCHEMA_VERSION,
        "imported": file_sha256,
        "dataset": dataset.fingerprint,
        "family": options.family,
        "labels": options.labels or UNKNOWN_LABELS,
        "candidates": digest(sorted(options.candidates.items())) if answers_20 else None,
    }


def import_predictions(path: Path, dataset: Dataset, options: ImportOptions) -> ImportedRun:
    """Check a predictions file against the dataset and write it as a run, unless the same import exists (then it
    only takes the name given now).

    Raises:
        PredictionsFileError: an unreadable file, missing columns, or rows that do not fit the dataset: every kind of
            problem with its first offenders, and nothing written.
    """
    path, started = Path(path), datetime.now(UTC).isoformat(timespec="milliseconds")
    _check_options(options)
    table = read_predictions(path)
    columns, ignored = _columns(table, path.name)
    setups = present_setups(columns)
    if not setups:
        raise PredictionsFileError(f"{path.name} holds no predictions. Expected {FORMAT_HELP}.")
    if ONE_VS_20 in setups and options.candidates is None:
        raise PredictionsFileError(f"{path.name} answers 1 vs 20: give the candidate sets it was made with.")
    file_sha256 = sha256_file(path)
    identity = _identity(file_sha256, dataset, setups, options)
    rid = store.run_id(identity)
    if store.is_complete(options.results, rid):
        renamed = store.rename_run(options.results, rid, options.name)
        return ImportedRun(rid, store.run_path(options.results, rid), 0, setups, True, renamed, ignored)
    problems = Problems()
    rows, photos = _match(columns["image_id"], dataset, problems)
    missing = _missing(dataset, photos, options.allow_missing, problems)
    matched = sorted(zip(rows, photos, strict=True), key=lambda pair: pair[1].image_id)  # the engine's row order
    answers = {s: _answers(s, columns, matched, options.candidates, problems) for s in setups}
    problems.raise_if_any(path.name)
    photos = [photo for _, photo in matched]
    checkpoint = {"source": "imported", "sha256": file_sha256, "rows": table.num_rows, "file": str(path.resolve())}
    manifest = RunManifest(
        run_id=rid,
        identity=identity,
        model={
            "spec": f"imported:{path.name}",
            "family": options.family,
            "name": options.name,
            "checkpoint": checkpoint,
        },
        dataset=dataset.provenance(),
        labels=(options.labels or UNKNOWN_LABELS)
        | {"candidates": options.candidates_file if ONE_VS_20 in setups else None},
        setups=list(setups),
        started_at=started,
        finished_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        images={"listed": len(dataset.images) + len(dataset.empty_files), "evaluated": len(photos)},
        packages={"pyarrow": version("pyarrow")},
        python=platform.python_version(),
        skipped_files=[{"image_id": i, "reason": "empty file"} for i in dataset.empty_files]
        + [{"image_id": i, "reason": "not in the imported file"} for i in missing],
    )
    written = store.write_run(options.results, manifest, _table(photos, answers))
    return ImportedRun(rid, written, len(photos), setups, False, False, ignored)


def _check_options(options: ImportOptions) -> None:
    if options.family not in FAMILIES:
        raise PredictionsFileError(f"Unknown family {options.family!r}; choose one of {', '.join(FAMILIES)}.")
    if not options.name.strip():
        raise PredictionsFileError("Give the run a name (--name), as the dashboard will show it.")
