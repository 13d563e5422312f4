"""Predictions made elsewhere as a run: a predictions file (`engine.runs.prediction_file`, whose docstring gives the
format) checked against the dataset, every problem found at once, and written with the run writer, so every page
shows it like an evaluation. Torch-free.
"""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa

from engine.dataset.reader import Dataset, DatasetError, ImageRecord, folder_class_id, imagenet_classes, synonym_index
from engine.files import digest, sha256_file
from engine.runs import store
from engine.runs.format import (
    ONE_VS_20,
    SCHEMA_VERSION,
    TOP_K,
    RunManifest,
    correct_column,
    pred_column,
    predictions_table,
    top_prefix,
)
from engine.runs.prediction_file import (
    FORMAT_HELP,
    PredictionsFileError,
    cell,
    present_setups,
    read_columns,
    read_predictions,
    top5_list,
    whole_number,
    why_no_setup,
)

FAMILIES = ("CLIP", "ImageNet", "LVLM", "other")
IMAGENET_CLASSES = 1000
SHOWN = 5  # offenders named per kind of problem
MAX_MISSING_SHARE = 0.05  # as for unreadable photos: past this, the photos left out, not the model, are measured
UNKNOWN_LABELS = {"classnames": "unknown", "templates": None}  # how the predictions were asked for is not known


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


@dataclass
class Answers:
    """One setup's predictions for the matched photos, in their order: the run format's columns as Python lists."""

    preds: list[int]
    ids: list[list]  # (K,) ImageNet indices, best first; nulls where the file gave fewer (or none)
    scores: list[list[float]]  # NaN where the file gave none
    probs: list[list[float]]


def _top5(setup: str, columns: dict[str, list], row: int, image_id: str, problems: Problems) -> list | None:
    """The row's top-5 ids, scores and probabilities of a setup as lists of 5 (None where not given); None (and a
    problem) when one cannot be read."""
    lists = []
    for part in ("ids", "scores", "probs"):
        column = f"{top_prefix(setup)}_{part}"
        value = cell(columns, column, row)
        try:
            lists.append(top5_list(value))
        except ValueError:
            problems.add(BAD_TOP5, f"{image_id}: {column}={value!r}")
            return None
    return lists


def _answer(setup: str, columns: dict[str, list], row: int, photo: ImageRecord, candidates: dict | None,
            problems: Problems) -> tuple[int, list, list[float], list[float]] | None:  # fmt: skip
    """One photo's prediction in a setup, checked: a whole ImageNet index, the first of its top-5, and in 1 vs 20 one
    of its class's candidates. None (and a problem) when it is not."""
    column, image_id = pred_column(setup), photo.image_id
    raw = cell(columns, column, row)
    if (top5 := _top5(setup, columns, row, image_id, problems)) is None:
        return None
    ids, scores, probs = top5
    pred = whole_number(raw) if raw is not None else (whole_number(ids[0]) if ids and ids[0] is not None else None)
    if pred is None:
        problems.add(NO_PREDICTION if raw is None else OUT_OF_RANGE, f"{image_id}: {column}={raw!r}")
        return None
    given = [pred] + [whole_number(i) for i in ids or () if i is not None]
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
    columns, ignored = read_columns(table, path.name)
    setups = present_setups(columns)
    if not setups:
        why = why_no_setup(columns, table)
        raise PredictionsFileError(f"{path.name} holds no predictions: {why}. Expected {FORMAT_HELP}.")
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
