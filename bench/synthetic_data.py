"""Synthetic data for the dashboard benchmark: extra published models (`add_synthetic_models`), and evaluation
runs (`write_runs`): full-size predictions (13,100 photos per run, the paper's
per-class counts) written through the engine's own store, and real photos for the first class so the gallery has
thumbnails to make. Predictions are random with a per-run accuracy on each background; no model is run."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np

from engine.dataset.synthetic import synthetic_photo
from engine.runs import store
from engine.runs.format import (
    ONE_VS_20,
    ONE_VS_1000,
    SETUPS,
    TOP_K,
    RunManifest,
    predictions_table,
    setup_columns,
)
from engine.zoo.catalog import load_zoo

CLIP_SHARE = 2 / 3  # about the CLIP : ImageNet ratio of the paper's main tables (28 : 15)
PAPER_DIR = Path(__file__).resolve().parents[1] / "results" / "paper"  # the shipped tables
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
    top = np.column_stack([pred, rng.integers(0, 1000, (n, TOP_K - 1))])
    probs = np.sort(rng.dirichlet(np.ones(TOP_K + 1), n)[:, :TOP_K], axis=1)[:, ::-1]
    return setup_columns(setup, top, probs, probs, truth)


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
    specs = [m.loader for m in load_zoo() if m.loader and m.family != "LVLM"]  # classifiers: both setups
    for number in range(count):
        spec = specs[number % len(specs)]
        accuracy = np.where(is_common, rng.uniform(0.6, 0.95), rng.uniform(0.3, 0.8))
        columns = {"image_id": ids, "class_id": truth, "split": splits, "background": backgrounds}
        for setup, lift in ((ONE_VS_1000, 0.0), (ONE_VS_20, 0.05)):
            columns |= _setup_columns(setup, truth, np.minimum(accuracy + lift, 1), rng)
        manifest = RunManifest(
            run_id=f"bench{number:04d}",
            model={"spec": spec, "family": "CLIP" if spec.startswith("open_clip") else "ImageNet"},
            labels={"classnames": "wordnet", "templates": ["A photo of {}."]},
            dataset={"root": str(dataset), "fingerprint": "synthetic"},
            setups=list(SETUPS),
            started_at=f"2026-01-01T00:{number // 60:02d}:{number % 60:02d}",
            images={"evaluated": len(ids)},
        )
        store.write_run(results, manifest, predictions_table(columns))
    return dataset


def write_photos(dataset: Path, row: dict[str, str], split: str, rng: np.random.Generator) -> None:
    """Real photos for one class and split, named as the predictions name them."""
    background = row[f"{split}_background"]
    folder = dataset / f"{row['class_id']} {row['name'].split(',')[0].strip()}" / f"{split}-{background}"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(int(row[f"n_{split}"])):
        size = tuple(int(s) for s in rng.integers(400, 601, 2))
        synthetic_photo(rng, background, int(row["class_id"]), size).save(folder / f"{i:04d}.jpg", quality=90)


# ---- extra published models ----------------------------------------------------------------------------------


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _append_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Append rows under the file's own header; the original rows stay byte for byte as shipped."""
    text = path.read_text(encoding="utf-8")
    with path.open("a", newline="", encoding="utf-8") as handle:
        if text and not text.endswith("\n"):
            handle.write("\n")
        csv.DictWriter(handle, fieldnames=columns, lineterminator="\n").writerows(rows)


def _pick(rows: list[dict[str, str]], rng: np.random.Generator) -> dict[str, str]:
    return rows[int(rng.integers(len(rows)))]


def synthetic_models(models: list[dict[str, str]], count: int, rng: np.random.Generator) -> list[dict[str, str]]:
    """`count` plausible extra models: real backbones and sizes, pre-training data of a real model of the family."""
    main = [m for m in models if m["role"] == "main" and m["backbone"]]
    by_family = {family: [m for m in main if m["family"] == family] for family in ("CLIP", "ImageNet")}
    data_columns = ("pretrain_data", "pretrain_size", "pretrain_pairs_m", "high_quality_data")
    rows = []
    for number in range(1, count + 1):
        family = "CLIP" if rng.random() < CLIP_SHARE else "ImageNet"
        # Backbone and size come from one real model, so a backbone keeps its parameter count; the data comes from
        # an independent draw, so new (backbone, data) pairs appear, as the Scaling page's groupings would see them.
        architecture, data = _pick(by_family[family], rng), _pick(by_family[family], rng)
        row = dict.fromkeys(models[0], "")
        row.update(
            model_id=f"synthetic:model-{number:04d}",
            name=f"Synthetic-{family}-{number:04d}",
            family=family,
            role="main",
            backbone=architecture["backbone"],
            params_m=architecture["params_m"],
            params_total_m=architecture["params_total_m"],
            **{column: data[column] for column in data_columns},
        )
        rows.append(row)
    return rows


def synthetic_scores(model_ids: list[str], rng: np.random.Generator) -> list[dict[str, str]]:
    """Paper-protocol scores in both setups: common uniform in 55-95, a drop of 3-30 points."""
    rows = []
    for model_id in model_ids:
        for setup in SETUPS:
            common = round(float(rng.uniform(55, 95)), 2)
            counter = round(common - float(rng.uniform(3, 30)), 2)
            drop = round(common - counter, 2)  # recomputed from the rounded values, as the shipped rows are
            rows.append(
                {
                    "model_id": model_id,
                    "setup": setup,
                    "variant": "default",
                    "common": f"{common:.2f}",
                    "counter": f"{counter:.2f}",
                    "drop": f"{drop:.2f}",
                    "source": "synthetic",
                    "flag": "",
                }
            )
    return rows


def synthetic_per_class(model_ids: list[str], class_ids: list[str], rng: np.random.Generator) -> list[dict[str, str]]:
    """Per-class 1 vs 1000 numbers for every synthetic model, so the Classes page has 500 more models to offer."""
    rows = []
    for model_id in model_ids:
        for class_id in class_ids:
            common = round(float(rng.uniform(40, 100)), 2)
            counter = round(max(common - float(rng.uniform(-5, 50)), 0.0), 2)
            row = {"model_id": model_id, "setup": ONE_VS_1000, "class_id": class_id, "source": "synthetic"}
            rows.append(
                row | {"common": f"{common:.2f}", "counter": f"{counter:.2f}", "drop": f"{common - counter:.2f}"}
            )
    return rows


def copy_paper(folder: Path) -> Path:
    """A private copy of the shipped tables, so the benchmark reads exactly them and nothing else."""
    shutil.copytree(PAPER_DIR, folder)
    return folder


def add_synthetic_models(paper: Path, count: int, seed: int) -> None:
    """Append `count` synthetic models to models.csv, their scores to scores.csv and per-class numbers to
    per_class.csv, columns unchanged."""
    rng = np.random.default_rng(seed)
    model_columns, models = _read_csv(paper / "models.csv")
    extra = synthetic_models(models, count, rng)
    _append_csv(paper / "models.csv", model_columns, extra)
    score_columns, _ = _read_csv(paper / "scores.csv")
    _append_csv(paper / "scores.csv", score_columns, synthetic_scores([m["model_id"] for m in extra], rng))
    per_class_columns, _ = _read_csv(paper / "per_class.csv")
    class_ids = [row["class_id"] for row in _read_csv(paper / "classes.csv")[1]]
    per_class = synthetic_per_class([m["model_id"] for m in extra], class_ids, rng)
    _append_csv(
        paper / "per_class.csv", per_class_columns, [dict.fromkeys(per_class_columns, "") | r for r in per_class]
    )


def write_jobs(results: Path, count: int) -> None:
    """`count` finished evaluation jobs in the results folder's queue, each with a short log."""
    from engine import jobs

    for i in range(count):
        request = {"model": f"timm:resnet50@/weights/epoch{i}.pt", "name": f"ResNet-50 epoch {i}", "data": "/data"}
        job = jobs.submit(results, {**request, "setups": list(SETUPS)})
        (job.folder / "log.txt").write_text("loading the model\ndecoding photos (13100 photos)\nwriting the run\n")
        jobs.finish(results, job, jobs.DONE, run_id=f"run{i:04d}", skipped=False)
