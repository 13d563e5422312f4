"""The paper's own experiment in the theorem's setting: ColoredCOCO (v1 Table 7), COCO objects on coloured backgrounds
that agree with the object in training, CLIP trained with captions naming the object, or the object and the background,
against supervised training. Read from the published tables (`results/paper/coloredcoco.csv`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FILE = "coloredcoco.csv"
SOURCE = "Table 7"  # of the v1 preprint, where every row of the file comes from
# The file's `variant` after "ColoredCOCO:" -> how the model was trained, in words.
TRAINING = {
    "zero_shot": "zero-shot (not trained on ColoredCOCO)",
    "obj": "CLIP objective, captions name the object",
    "objbkg": "CLIP objective, captions name object and background",
    "supervised": "supervised, object labels",
}


def read_coloredcoco(paper: Path) -> pd.DataFrame:
    """One row per published model and training: backbone, training (in words), common (in-distribution) and counter
    (out-of-distribution) accuracy, drop (%), source; empty when the file is absent."""
    path = Path(paper) / FILE
    if not path.is_file():
        return pd.DataFrame(columns=["backbone", "training", "common", "counter", "drop", "source"])
    table = pd.read_csv(path)
    kind = table["variant"].str.removeprefix("ColoredCOCO:")
    table = table.assign(training=kind.map(TRAINING).fillna(kind))
    return table[["backbone", "training", "common", "counter", "drop", "source"]].reset_index(drop=True)


def drop_ranges(table: pd.DataFrame) -> str:
    """The published drops by kind of training, in one line: "CLIP objective: 76.9-95.4 points; supervised: ..." (the
    two caption kinds pooled), so a reader can set the lab's curves against them."""
    kind = table["training"].str.split(",").str[0]
    parts = [
        f"{name}: {rows['drop'].min():.1f}–{rows['drop'].max():.1f} points"
        for name, rows in table.assign(kind=kind).groupby("kind", sort=False)
    ]
    return "; ".join(parts)
