"""Batched inference: uint8 pixels from the image cache -> scores over the 1,000 ImageNet classes -> one row per
image with both setups' predictions (1 vs 1000 and 1 vs 20 come from the same forward pass)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch
from tqdm import tqdm

from engine.dataset.reader import Dataset
from engine.errors import UserError
from engine.inference.devices import autocast
from engine.inference.image_cache import Filling, ImageCache, Report
from engine.models import LoadedModel
from engine.runs.format import ONE_VS_20, ONE_VS_1000, TOP_K, arrow_array, predictions_table, setup_columns


class Scorer:
    """A model as a function of uint8 pixels: (B, H, W, 3) uint8 -> (B, 1000) scores and probabilities."""

    def __init__(self, model: LoadedModel, head: torch.Tensor | None, device: torch.device) -> None:
        self.model, self.head, self.device = model, head, device
        self.mean = torch.tensor(model.recipe.mean, device=device)  # (3,), broadcast over the channel-last axis
        self.std = torch.tensor(model.recipe.std, device=device)
        # CLIP: cosine similarities scaled by the model's learned temperature give its class probabilities.
        self.scale = model.network.logit_scale.exp().item() if model.family == "CLIP" else 1.0
        self._inputs: torch.Tensor | None = None  # float pixels of the largest batch so far, reused by every batch

    @torch.no_grad()
    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 1000) float32 scores on the device: cosine similarity (CLIP) or logits (ImageNet models)."""
        # ToTensor + Normalize's arithmetic, element for element ((x / 255 - mean) / std), done on the device in the
        # cached channel-last layout where memory is contiguous, then viewed as (B, 3, H, W) without a copy.
        pixels = pixels.to(self.device, non_blocking=True)  # uint8: a quarter of the bytes to move
        x = self._input_buffer(pixels.shape).copy_(pixels).div_(255).sub_(self.mean).div_(self.std)
        x = x.permute(0, 3, 1, 2)  # (B, 3, H, W), channels-last strides
        with autocast(self.device):  # the network in bf16 on CUDA ...
            out = self.model.network.encode_image(x) if self.model.family == "CLIP" else self.model.network(x)
        out = out.float()  # ... its scores in fp32: bf16 steps (~0.001 at 0.25) would tie and flip close classes
        if self.model.family == "CLIP":
            return (out / out.norm(dim=-1, keepdim=True)) @ self.head  # (B, D) @ (D, 1000)
        return out

    def _input_buffer(self, shape: torch.Size) -> torch.Tensor:
        """A float tensor of `shape` for a batch's normalized pixels, in memory kept from batch to batch: a fresh
        one per batch (150 MB at 256 x 224 px) is new memory that the system must fault in and zero, page by page,
        which cost one model on a cold cache a tenth of its time on a CPU (bench/eval_throughput.py)."""
        if self._inputs is None or self._inputs.shape[1:] != shape[1:] or len(self._inputs) < shape[0]:
            self._inputs = torch.empty(shape, dtype=torch.float32, device=self.device)
        return self._inputs[: shape[0]]


class Unaligned(Exception):
    """A cache being filled turned out not to line up with its photos (one was unreadable, or the build stopped):
    score the finished cache instead, whose batches hold other photos."""


def _read(source: np.ndarray | Filling, window: slice, pin: bool) -> torch.Tensor:
    """A window of (N, H, W, 3) uint8 pixels as a tensor; from a cache being filled once its photos are decoded."""
    pixels = source if isinstance(source, np.ndarray) else source.wait(window.stop)
    if pixels is None:
        raise Unaligned("the image cache left out a photo, or stopped, while it was read")
    with warnings.catch_warnings():  # the memory map is read-only, and nothing writes to this tensor
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        batch = torch.from_numpy(pixels[window])
    return batch.pin_memory() if pin else batch  # pinned: the copy to the GPU is asynchronous


def batches(cache: ImageCache | Filling, batch_size: int, pin: bool) -> Iterator[tuple[slice, torch.Tensor]]:
    """Consecutive (slice, (B, H, W, 3) uint8 tensor) batches of the cache. The next batch is read (and pinned) by a
    background thread while the current one is on the device, so the device does not wait for the disk. A cache still
    being filled yields each batch as soon as its photos are decoded, and raises Unaligned if they never line up."""
    pixels, total = cache.pixels if isinstance(cache, ImageCache) else cache, len(cache.image_ids)
    windows = [slice(start, min(start + batch_size, total)) for start in range(0, total, batch_size)]
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-reader")
    try:
        upcoming = reader.submit(_read, pixels, windows[0], pin) if windows else None
        for i, window in enumerate(windows):
            batch = upcoming.result()
            if i + 1 < len(windows):
                upcoming = reader.submit(_read, pixels, windows[i + 1], pin)
            yield window, batch
    finally:  # stopped early (an error, Ctrl-C): not waiting for a read that waits for photos still to be decoded
        reader.shutdown(wait=False, cancel_futures=True)


def score_all(
    scorer: Scorer,
    cache: ImageCache | Filling,
    batch_size: int,
    progress: bool = True,
    desc: str = "inference",
    report: Report | None = None,
) -> Iterator[tuple[slice, torch.Tensor]]:
    """(slice, (B, 1000) scores on the device) for every cached image, batch by batch."""
    pin = scorer.device.type == "cuda"
    total = len(cache.image_ids)
    with tqdm(total=total, desc=desc, unit="img", disable=not progress) as bar:
        for window, pixels in batches(cache, batch_size, pin):
            yield window, scorer(pixels)
            bar.update(window.stop - window.start)
            if report:  # windows run from the first image on; a disabled bar (progress off) counts nothing
                report(window.stop, total)


def candidate_matrix(class_ids: np.ndarray, candidates: dict[int, tuple[int, ...]]) -> torch.Tensor:
    """(N, 20) candidate ImageNet indices of each image's class."""
    missing = sorted(set(class_ids.tolist()) - set(candidates))
    if missing:
        raise UserError(f"no 1 vs 20 candidates for classes {missing}")
    return torch.tensor(np.stack([candidates[c] for c in class_ids.tolist()]), dtype=torch.long)


@dataclass
class TopK:
    """The k best classes of every image in one setup, filled batch by batch."""

    ids: np.ndarray  # (N, K) ImageNet indices, best first
    scores: np.ndarray  # (N, K) cosine similarity (CLIP) or logit
    probs: np.ndarray  # (N, K) probability among the setup's candidates

    @classmethod
    def empty(cls, n: int) -> TopK:
        return cls(np.empty((n, TOP_K), np.int64), np.empty((n, TOP_K), np.float32), np.empty((n, TOP_K), np.float32))

    def fill(self, window: slice, labels: torch.Tensor, scores: torch.Tensor, scale: float) -> None:
        """`scores` (B, C) over candidates `labels` (B, C) of ImageNet indices, on the device; only the (B, K)
        results cross to the CPU."""
        probs = torch.softmax(scores * scale, dim=-1)
        best = scores.topk(TOP_K, dim=-1)
        self.ids[window] = labels.gather(1, best.indices).cpu().numpy()
        self.scores[window] = best.values.cpu().numpy()
        self.probs[window] = probs.gather(1, best.indices).cpu().numpy()


def predict(
    scorer: Scorer,
    dataset: Dataset,
    cache: ImageCache | Filling,
    candidates: dict[int, tuple[int, ...]] | None,
    batch_size: int,
    progress: bool = True,
    report: Report | None = None,
) -> pa.Table:
    """One row per readable image: truth, and each setup's prediction with its top-5 classes, scores and
    probabilities (1 vs 20: among the class's candidates). `candidates=None` leaves the 1 vs 20 columns empty. A cache
    being filled is scored as it fills, in the same batches as the finished cache (Unaligned if they would differ)."""
    records = {image.image_id: image for image in dataset.images}
    rows = [records[image_id] for image_id in cache.image_ids]
    class_ids = np.array([r.class_id for r in rows], dtype=np.int64)
    device = scorer.device
    options = candidate_matrix(class_ids, candidates).to(device) if candidates else None  # (N, 20)
    all_classes = torch.arange(1000, device=device).expand(batch_size, -1)
    top1000, top20 = TopK.empty(len(rows)), TopK.empty(len(rows)) if options is not None else None
    desc = f"{scorer.model.spec.text} inference"
    for window, scores in score_all(scorer, cache, batch_size, progress, desc, report):
        top1000.fill(window, all_classes[: len(scores)], scores, scorer.scale)
        if top20 is not None:
            allowed = options[window]  # (B, 20)
            top20.fill(window, allowed, scores.gather(1, allowed), scorer.scale)
    return run_table(rows, class_ids, top1000, top20)


def run_table(rows: list, class_ids: np.ndarray, top1000: TopK | None, top20: TopK | None) -> pa.Table:
    """The run format's table; a setup without answers (None) has null columns."""
    columns = {
        "image_id": arrow_array([r.image_id for r in rows], pa.string()),
        "class_id": arrow_array(class_ids, pa.int16()),
        "split": arrow_array([r.split for r in rows], pa.string()),  # dictionary-encoded by predictions_table
        "background": arrow_array([r.background for r in rows], pa.string()),
    }
    if top1000 is not None:
        columns |= setup_columns(ONE_VS_1000, top1000.ids, top1000.scores, top1000.probs, class_ids)
    if top20 is not None:
        columns |= setup_columns(ONE_VS_20, top20.ids, top20.scores, top20.probs, class_ids)
    return predictions_table(columns)
