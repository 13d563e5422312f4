"""What the gallery shows: a run's photos of one class, filtered, sorted and cut into pages. Pure pandas."""

from __future__ import annotations

import math
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from engine.runs.format import correct_column, pred_column, top_prefix

FILTERS = ("all", "errors only", "correct only")
SORTS = ("least confident first", "most confident first", "file name")
PER_PAGE = 12  # photos per background column on one page


def with_setup(rows: pd.DataFrame, setup: str, labels: dict[int, str]) -> pd.DataFrame:
    """Columns for one setup: predicted label, right or wrong, and confidence (the top class's probability)."""
    probs = rows[f"{top_prefix(setup)}_probs"]
    predicted = rows[pred_column(setup)]
    return rows.assign(
        predicted=predicted,
        predicted_label=predicted.map(lambda i: labels.get(int(i), str(i)) if pd.notna(i) else "-"),
        correct=rows[correct_column(setup)].fillna(False).astype(bool),
        confidence=probs.map(lambda p: float(p[0]) if _is_list(p) and len(p) else float("nan")),
    )


def _is_list(value: object) -> bool:
    """A top-5 list as DuckDB hands it over (an array; masked where a place is unknown), not a NULL (pd.NA)."""
    return isinstance(value, list | tuple | np.ndarray)


def confidence_text(confidence: float) -> str:
    """A confidence as a whole percentage that never rounds to a wrong extreme: 0.004 -> "<1%", 0.996 -> ">99%"."""
    if math.isnan(confidence):
        return "n/a"  # a run without top-5 probabilities
    if 0 < confidence < 0.01:
        return "<1%"
    if 0.99 < confidence < 1:
        return ">99%"
    return f"{confidence:.0%}"


def select(rows: pd.DataFrame, shown: str, order: str) -> pd.DataFrame:
    """Keep all, only the errors or only the correct photos, then sort."""
    if shown == "errors only":
        rows = rows[~rows["correct"]]
    elif shown == "correct only":
        rows = rows[rows["correct"]]
    if order == "file name":
        return rows.sort_values("image_id")
    return rows.sort_values(["confidence", "image_id"], ascending=[order == "least confident first", True])


def pages(rows: pd.DataFrame, per_page: int = PER_PAGE) -> int:
    """Pages needed for the longer of the two background columns (at least one)."""
    longest = rows["split"].value_counts().max() if len(rows) else 0
    return max(1, math.ceil(longest / per_page))


def page_of(rows: pd.DataFrame, split: str, page: int, per_page: int = PER_PAGE) -> pd.DataFrame:
    """One split's photos on page `page` (1-based)."""
    column = rows[rows["split"] == split]
    return column.iloc[(page - 1) * per_page : page * per_page]


def photo_labels(photos: pd.DataFrame) -> dict[str, str]:
    """Labels for a picker of `photos` (columns image_id, split), one per photo and all different: "common · 0012.jpg".
    Common and counter photos often share file names, and a picker that showed two equal labels opened the wrong photo;
    where the split and the name are still not enough (two counter backgrounds), the photo's path."""
    short = {row.image_id: f"{row.split} · {PurePosixPath(row.image_id).name}" for row in photos.itertuples()}
    taken = pd.Series(list(short.values())).value_counts()
    return {image_id: label if taken[label] == 1 else image_id for image_id, label in short.items()}


def top5(row: pd.Series, setup: str, labels: dict[int, str]) -> pd.DataFrame:
    """A photo's top-5 in one setup: class (the true one marked ✓), probability. Unknown places (an imported run may
    give only its prediction) are left out, and unknown probabilities are NaN."""
    ids, probs = row[f"{top_prefix(setup)}_ids"], row[f"{top_prefix(setup)}_probs"]
    if not _is_list(ids):
        return pd.DataFrame(columns=["class", "probability"])
    probs = list(probs) if _is_list(probs) else [float("nan")] * len(ids)
    known = [(int(i), float(p)) for i, p in zip(ids, probs, strict=True) if i is not np.ma.masked and pd.notna(i)]
    truth = int(row["class_id"]) if "class_id" in row else None
    names = [("✓ " if i == truth else "") + labels.get(i, str(i)) for i, _ in known]
    return pd.DataFrame({"class": names, "probability": [p for _, p in known]})
