"""`counteranimal backgrounds suggest`: label each photo's background zero-shot with a CLIP model, as a manifest to
review and edit before `counteranimal curate`. Background labels are scored like ImageNet classes in a run: the
collection's image cache, a text head over the labels (prompt ensemble below), probabilities at the model's own
temperature; the margin (best minus second-best probability) says how sure each suggestion is."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.dataset.collection import UNLABELLED
from engine.dataset.reader import Dataset, imagenet_classes
from engine.inference.image_cache import load_or_build_cache
from engine.inference.scorers import Scorer, score_all
from engine.inference.text_heads import text_head
from engine.models import load_model
from engine.zoo.specs import ModelError

# Prompts about the scene, not the animal: the animal is the same across a class's photos, the background is not.
TEMPLATES = ("a photo of an animal on {}.", "a photo with {} in the background.", "a photo taken on {}.")
MANIFEST_COLUMNS = ("path", "class", "background", "margin", "probability", "second", "given")


@dataclass(frozen=True)
class Suggestions:
    """One row per photo (`MANIFEST_COLUMNS`), and how often the suggestion matches the label a photo came with."""

    rows: list[dict]
    agreement: dict[str, tuple[int, int]]  # given label -> (photos suggested that label, photos with that label)


def suggest_backgrounds(
    collection: Dataset, spec: str, labels: tuple[str, ...], device: torch.device, cache: Path, batch_size: int = 256,
    workers: int = 1, progress: bool = True,
) -> Suggestions:  # fmt: skip
    """Score every readable photo of the collection against the background `labels` with the CLIP model `spec`."""
    model = load_model(spec, device)
    if model.family != "CLIP":
        raise ModelError(f"{spec} is not a CLIP model: background suggestions compare photos with label prompts.")
    pixels = load_or_build_cache(collection, model.recipe, cache, workers, progress=progress)
    scorer = Scorer(model, text_head(model, labels, TEMPLATES, cache, progress), device)
    probs = np.empty((len(pixels.image_ids), len(labels)), np.float32)  # (N, L)
    for window, scores in score_all(scorer, pixels, batch_size, progress, desc="backgrounds"):
        probs[window] = torch.softmax(scorer.scale * scores, dim=-1).cpu().numpy()
    photos = {p.image_id: p for p in collection.images}
    rows = [_row(collection.root, photos[i], p, labels) for i, p in zip(pixels.image_ids, probs, strict=True)]
    return Suggestions(rows, _agreement(rows))


def _row(root: Path, photo, probs: np.ndarray, labels: tuple[str, ...]) -> dict:
    best, second = np.argsort(-probs)[:2] if len(labels) > 1 else (0, 0)
    label = imagenet_classes()[photo.class_id]["label"]
    return {
        "path": str(root / photo.image_id),
        "class": f"{photo.class_id} {label}",
        "background": labels[best],
        "margin": round(float(probs[best] - probs[second]) if len(labels) > 1 else 1.0, 4),
        "probability": round(float(probs[best]), 4),
        "second": labels[second],
        "given": "" if photo.background == UNLABELLED else photo.background,
    }


def _agreement(rows: list[dict]) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for row in rows:
        if given := row["given"]:
            agree, total = counts.get(given, (0, 0))
            counts[given] = (agree + (row["background"].lower() == given.lower()), total + 1)
    return dict(sorted(counts.items()))


def write_manifest(suggestions: Suggestions, path: Path) -> None:
    """The manifest `curate --photos` reads (path, class, background), with the scores to review by."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(suggestions.rows)
    partial.replace(path)  # whole or not at all
