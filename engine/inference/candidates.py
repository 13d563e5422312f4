"""The paper's 1 vs 20 procedure: for each class, the 20 ImageNet labels with the highest mean cosine similarity to
that class's photos (common and counter pooled) under a reference CLIP model (the paper: CLIP-LAION400M-ViT/B/32)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from engine.inference.evaluator import Evaluator
from engine.inference.scorers import score_all
from engine.models import ModelError, load_model
from engine.runs.format import CANDIDATES_PER_CLASS

REFERENCE = "open_clip:ViT-B-32/laion400m_e31"


def top_candidates(mean_scores: np.ndarray, class_id: int, k: int = CANDIDATES_PER_CLASS) -> list[int]:
    """The k highest-scoring labels, best first. The true class always competes: if it is not among the k, it
    replaces the k-th (a class must be a candidate for its own photos to be classifiable)."""
    ranked = [int(i) for i in np.argsort(-mean_scores, kind="stable")[:k]]
    return ranked if class_id in ranked else [*ranked[:-1], class_id]


def build_candidates(evaluator: Evaluator, reference: str = REFERENCE) -> dict:
    """Candidate lists for every class of the evaluator's dataset, with their provenance."""
    model = load_model(reference, evaluator.options.device)
    if model.family != "CLIP":
        raise ModelError(f"the reference model must be a CLIP model (cosine similarity to text); {reference} is not")
    cache = evaluator.image_cache(model)
    class_of = {image.image_id: image.class_id for image in evaluator.dataset.images}
    labels = np.array([class_of[i] for i in cache.image_ids])
    classes = sorted(set(labels.tolist()))
    sums = np.zeros((len(classes), 1000))  # (classes, 1000) summed cosine similarity
    row_of = np.searchsorted(classes, labels)
    scorer = evaluator.scorer(model)
    for window, scores in score_all(scorer, cache, evaluator.options.batch_size, evaluator.options.progress):
        np.add.at(sums, row_of[window], scores.cpu().numpy())
    means = sums / np.bincount(row_of, minlength=len(classes))[:, None]
    return {
        "meta": {
            "procedure": "top-20 mean cosine similarity per class, common and counter photos pooled",
            "reference": reference,
            "checkpoint": model.checkpoint,
            "dataset": evaluator.dataset.fingerprint,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "candidates": {str(c): top_candidates(means[i], c) for i, c in enumerate(classes)},
    }


def write_candidates(built: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(built, indent=1))
    return path
