"""Synthetic evaluation runs for the dashboard benchmark: full-size predictions (13,100 photos per run, the paper's
per-class counts) written through the engine's own store, and real photos for the first class so the gallery has
thumbnails to make. Predictions are random with a per-run accuracy on each background; no model is run."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine import store
from engine.synthetic import synthetic_photo
from engine.zoo import load_zoo

PHOTO_CLASS = 9  # ostrich: the gallery's first class, so the first visit makes real thumbnails


def _classes(paper: Path) -> list[dict[str, str]]:
    with (paper / "classes.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _photo_ids(classes: list[dict[str, str]]) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """Image ids in the archive's layout, with class, split and background per photo."""
    ids, class_ids, splits, backgrounds = [], [], [], []
    for row in classes:
        folder = f"{row['class_id']} {row['name'].split(',')[0].strip()}"
        for split in ("common", "counter"):
            background = row[f"{split}_background"]
            for i in range(int(row[f"n_{split}"])):
                ids.append(f"{folder}/{split}-{background}/{i:04d}.jpg")
                class_ids.append(int(row["class_id"]))
                splits.append(split)
                backgrounds.append(background)
    return ids, np.array(class_ids), splits, backgrounds


def _setup_columns(setup: str, truth: np.ndarray, accuracy: np.ndarray, rng: np.random.Generator) -> dict:
    n = len(truth)
    right = rng.random(n) < accuracy
    pred = np.where(right, truth, rng.integers(0, 1000, n))
    top = np.column_stack([pred, rng.integers(0, 1000, (n, 4))]).astype(np.int16)
    probs = np.sort(rng.dirichlet(np.ones(6), n)[:, :5], axis=1)[:, ::-1].astype(np.float32)
    prefix = "top5" if setup == "1vs1000" else "top5_1vs20"
    fixed = lambda values, kind: pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), kind), 5)  # noqa: E731
    return {
        f"pred_{setup}": pa.array(pred.astype(np.int16)),
        f"correct_{setup}": pa.array(pred == truth),
        f"{prefix}_ids": fixed(top, pa.int16()),
        f"{prefix}_scores": fixed(probs, pa.float32()),
        f"{prefix}_probs": fixed(probs, pa.float32()),
    }


def write_runs(results: Path, paper: Path, photos: Path, count: int, seed: int = 0) -> Path:
    """`count` runs of zoo models over the paper's 13,100 photos; returns the dataset folder holding real photos of
    the first class."""
    rng = np.random.default_rng(seed)
    classes = _classes(paper)
    dataset = photos / "LAION-final"
    first = next(c for c in classes if int(c["class_id"]) == PHOTO_CLASS)
    for split in ("common", "counter"):  # the paper's counts for the first class, as the predictions list them
        write_photos(dataset, first, split, rng)
    ids, truth, splits, backgrounds = _photo_ids(classes)
    is_common = np.array([s == "common" for s in splits])
    specs = [m.loader for m in load_zoo() if m.loader]
    for number in range(count):
        spec = specs[number % len(specs)]
        accuracy = np.where(is_common, rng.uniform(0.6, 0.95), rng.uniform(0.3, 0.8))
        columns = {"image_id": ids, "class_id": pa.array(truth.astype(np.int16)), "split": splits}
        columns["background"] = backgrounds
        for setup, lift in (("1vs1000", 0.0), ("1vs20", 0.05)):
            columns |= _setup_columns(setup, truth, np.minimum(accuracy + lift, 1), rng)
        run_id = f"bench{number:04d}"
        manifest = {
            "run_id": run_id,
            "model": {"spec": spec, "family": "CLIP" if spec.startswith("open_clip") else "ImageNet"},
            "labels": {"classnames": "wordnet", "templates": ["A photo of {}."]},
            "dataset": {"root": str(dataset), "fingerprint": "synthetic"},
            "setups": ["1vs1000", "1vs20"],
            "started_at": f"2026-01-01T00:{number // 60:02d}:{number % 60:02d}",
            "images": {"evaluated": len(ids)},
        }
        store.write_run(results, run_id, manifest, pa.table(columns))
    return dataset


def write_photos(dataset: Path, row: dict[str, str], split: str, rng: np.random.Generator) -> None:
    """Real photos for one class and split, named as the predictions name them."""
    background = row[f"{split}_background"]
    folder = dataset / f"{row['class_id']} {row['name'].split(',')[0].strip()}" / f"{split}-{background}"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(int(row[f"n_{split}"])):
        size = tuple(int(s) for s in rng.integers(400, 601, 2))
        synthetic_photo(rng, background, int(row["class_id"]), size).save(folder / f"{i:04d}.jpg", quality=90)
