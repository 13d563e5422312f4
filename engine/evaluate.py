"""Batched inference: uint8 pixels from the image cache -> scores over the 1,000 ImageNet classes -> one row per
image with both setups' predictions (1 vs 1000 and 1 vs 20 come from the same forward pass)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import torch
from tqdm import tqdm

from engine.data import Dataset
from engine.devices import autocast
from engine.images import ImageCache
from engine.models import LoadedModel

TOP_K = 5


class Scorer:
    """A model as a function of uint8 pixels: (B, H, W, 3) uint8 -> (B, 1000) scores and probabilities."""

    def __init__(self, model: LoadedModel, head: torch.Tensor | None, device: torch.device) -> None:
        self.model, self.head, self.device = model, head, device
        self.mean = torch.tensor(model.recipe.mean, device=device)  # (3,), broadcast over the channel-last axis
        self.std = torch.tensor(model.recipe.std, device=device)
        # CLIP: cosine similarities scaled by the model's learned temperature give its class probabilities.
        self.scale = model.network.logit_scale.exp().item() if model.family == "CLIP" else 1.0

    @torch.no_grad()
    def __call__(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # ToTensor + Normalize's arithmetic, element for element ((x / 255 - mean) / std), done on the device in the
        # cached channel-last layout where memory is contiguous, then viewed as (B, 3, H, W) without a copy.
        x = pixels.to(self.device, non_blocking=True).float().div_(255).sub_(self.mean).div_(self.std)
        x = x.permute(0, 3, 1, 2)  # (B, 3, H, W), channels-last strides
        with autocast(self.device):
            if self.model.family == "CLIP":
                features = self.model.network.encode_image(x)  # (B, D)
                features = features.float() / features.float().norm(dim=-1, keepdim=True)
                scores = features @ self.head  # (B, 1000) cosine similarity
            else:
                scores = self.model.network(x)  # (B, 1000) logits
        scores = scores.float()
        return scores, torch.softmax(scores * self.scale, dim=-1)


def batches(cache: ImageCache, batch_size: int, pin: bool) -> Iterator[tuple[slice, torch.Tensor]]:
    """Consecutive (slice, (B, H, W, 3) uint8 tensor) batches of the cache, pinned for async copies to a GPU."""
    pixels = cache.pixels
    for start in range(0, len(cache.image_ids), batch_size):
        window = slice(start, min(start + batch_size, len(cache.image_ids)))
        with warnings.catch_warnings():  # the memory map is read-only, and nothing writes to this tensor
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            batch = torch.from_numpy(pixels[window])
        yield window, (batch.pin_memory() if pin else batch)


def score_all(
    scorer: Scorer, cache: ImageCache, batch_size: int, progress: bool = True, desc: str = "inference"
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """Scores and probabilities of every cached image, batch by batch, on the CPU."""
    pin = scorer.device.type == "cuda"
    with tqdm(total=len(cache.image_ids), desc=desc, unit="img", disable=not progress) as bar:
        for window, pixels in batches(cache, batch_size, pin):
            scores, probs = scorer(pixels)
            yield window, scores.cpu(), probs.cpu()
            bar.update(window.stop - window.start)


def candidate_matrix(class_ids: np.ndarray, candidates: dict[int, tuple[int, ...]]) -> torch.Tensor:
    """(N, 20) candidate ImageNet indices of each image's class."""
    missing = sorted(set(class_ids.tolist()) - set(candidates))
    if missing:
        raise ValueError(f"no 1 vs 20 candidates for classes {missing}")
    return torch.tensor(np.stack([candidates[c] for c in class_ids.tolist()]), dtype=torch.long)


def predict(
    scorer: Scorer,
    dataset: Dataset,
    cache: ImageCache,
    candidates: dict[int, tuple[int, ...]] | None,
    batch_size: int,
    progress: bool = True,
) -> pa.Table:
    """One row per readable image: truth, both setups' predictions, and the top-5 classes with scores and
    probabilities. `candidates=None` leaves the 1 vs 20 columns empty."""
    records = {image.image_id: image for image in dataset.images}
    rows = [records[image_id] for image_id in cache.image_ids]
    class_ids = np.array([r.class_id for r in rows], dtype=np.int64)
    options = candidate_matrix(class_ids, candidates) if candidates else None
    pred, pred20 = np.empty(len(rows), np.int64), np.full(len(rows), -1, np.int64)
    top_ids, top_scores, top_probs = (np.empty((len(rows), TOP_K), t) for t in (np.int64, np.float32, np.float32))
    desc = f"{scorer.model.spec.text} inference"
    for window, scores, probs in score_all(scorer, cache, batch_size, progress, desc):
        best = scores.topk(TOP_K, dim=-1)
        top_ids[window], top_scores[window] = best.indices.numpy(), best.values.numpy()
        top_probs[window] = probs.gather(1, best.indices).numpy()
        pred[window] = best.indices[:, 0].numpy()
        if options is not None:
            allowed = options[window]  # (B, 20)
            pred20[window] = allowed.gather(1, scores.gather(1, allowed).argmax(dim=1, keepdim=True)).squeeze(1).numpy()
    return _table(rows, class_ids, pred, pred20 if options is not None else None, top_ids, top_scores, top_probs)


def _table(rows, class_ids, pred, pred20, top_ids, top_scores, top_probs) -> pa.Table:
    def lists(values: np.ndarray, kind: pa.DataType) -> pa.Array:
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), kind), TOP_K)

    return pa.table(
        {
            "image_id": pa.array([r.image_id for r in rows], pa.string()),
            "class_id": pa.array(class_ids, pa.int16()),
            "split": pa.array([r.split for r in rows], pa.string()).dictionary_encode(),
            "background": pa.array([r.background for r in rows], pa.string()).dictionary_encode(),
            "pred_1vs1000": pa.array(pred, pa.int16()),
            "correct_1vs1000": pa.array(pred == class_ids),
            "pred_1vs20": pa.array(pred20, pa.int16()) if pred20 is not None else pa.nulls(len(rows), pa.int16()),
            "correct_1vs20": pa.array(pred20 == class_ids) if pred20 is not None else pa.nulls(len(rows), pa.bool_()),
            "top5_ids": lists(top_ids, pa.int16()),
            "top5_scores": lists(top_scores, pa.float32()),
            "top5_probs": lists(top_probs, pa.float32()),
        }
    )
