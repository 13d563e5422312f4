"""Scoring vision-language models as the paper does (1 vs 20 only): for each photo and each of its class's 20
candidate labels, the loss of the answer "A <label>" to the question; the prediction is the lowest loss.

The photo and question (the prefix: hundreds of image tokens) are encoded once per photo, and all 20 answers (a few
tokens each) continue from its KV cache in one batched pass, instead of 20 forward passes over the whole prompt."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch
from tqdm import tqdm

from engine.dataset.reader import Dataset
from engine.inference.devices import autocast
from engine.inference.image_cache import DECODE_ERRORS, ImageCache, Report, decode, unreadable_reason
from engine.inference.scorers import TopK, batches, candidate_matrix, run_table
from engine.models.vlm import ANSWER, QUESTION, Prefix, VisionLanguageModel
from engine.zoo.specs import ModelError

SCORES = ("mean", "sum")  # the answer's loss: mean over its tokens (the paper's), or their sum


@dataclass(frozen=True)
class Answers:
    """Every candidate answer tokenized after the shared prefix: row c is ImageNet class c's answer."""

    prefix: str
    ids: torch.Tensor  # (1000, L) continuation tokens, padded with 0
    mask: torch.Tensor  # (1000, L) 1 for real tokens (answer and the template's closing tokens), 0 for padding
    scored: torch.Tensor  # (1000, L) 1 for the answer's own tokens: the only ones the loss counts


def tokenize_answers(vlm: VisionLanguageModel, question: str, answer: str, names: list[str]) -> Answers:
    """Tokenize each candidate's whole conversation and keep what follows the prompt all candidates share, so that
    tokens join at the boundary as they would in one pass; the answer's tokens are those whose characters overlap
    the answer text. `{}` in the question or the answer stands for the candidate's name: with the name in the
    question ("Is the main object in the image a {}?", answer "Yes"), the rest of the question is part of each
    candidate's continuation and only the photo is shared."""
    talks = [vlm.conversation(question.replace("{}", name), answer.replace("{}", name)) for name in names]
    prefix = shared_prefix([t.prefix for t in talks])
    head = vlm.tokenizer(prefix)["input_ids"]
    rows, scored = [], []
    for name, talk in zip(names, talks, strict=True):
        ids, offsets = _continuation(vlm, talk.full, prefix, head)
        start, end = talk.answer
        rows.append(ids)
        scored.append([a < end and b > start for a, b in offsets])
        if not any(scored[-1]):
            raise ModelError(f"The answer {answer.replace('{}', name)!r} has no tokens of its own in the template.")
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    score = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, (row, s) in enumerate(zip(rows, scored, strict=True)):
        ids[i, : len(row)], mask[i, : len(row)], score[i, : len(row)] = torch.tensor(row), 1, torch.tensor(s)
    return Answers(prefix=prefix, ids=ids, mask=mask, scored=score)


def _continuation(vlm: VisionLanguageModel, full: str, prefix: str, head: list[int]) -> tuple[list[int], list]:
    """The tokens of `full` after `prefix` (whose tokens are `head`) with their character offsets in `full`, as the
    model saw answers in training: tokenized with the prompt as one text (chat models: "ASSISTANT:" + " A lion"), or
    on their own (MiniGPT-4 tokenizes its targets apart, so its prompt's trailing space stays a token of its own)."""
    if vlm.tokenizes_answers_apart:
        rest = vlm.tokenizer(full[len(prefix) :], add_special_tokens=False, return_offsets_mapping=True)
        return rest["input_ids"], [(a + len(prefix), b + len(prefix)) for a, b in rest["offset_mapping"]]
    whole = vlm.tokenizer(full, return_offsets_mapping=True)
    if whole["input_ids"][: len(head)] != head:
        raise ModelError(
            f"Tokenized with its answer, the prompt's last tokens change ({prefix[-30:]!r} + {full[len(prefix) :]!r}), "
            "so answers cannot continue from a shared prompt with this tokenizer."
        )
    return whole["input_ids"][len(head) :], whole["offset_mapping"][len(head) :]


def shared_prefix(prefixes: list[str]) -> str:
    """The prompt text every candidate shares: all of it when the question does not name the candidate, else up to
    the last space before the first difference (tokenizers attach a space to the word after it)."""
    common = os.path.commonprefix(prefixes)
    if len(common) == min(len(p) for p in prefixes):
        return common
    cut = max(common.rfind(" "), common.rfind("\n"))
    if cut <= 0:
        raise ModelError("The candidates' prompts share nothing; put the candidate's name after the photo.")
    return common[:cut]


@torch.no_grad()
def candidate_losses(
    vlm: VisionLanguageModel,
    images: torch.Tensor | list,
    answers: Answers,
    options: torch.Tensor,
    score: str = "mean",
) -> torch.Tensor:
    """(B, C) float32 losses of candidates `options` (B, C) (rows of `answers`) for a batch of B photos."""
    device = vlm.device
    batch, count = options.shape
    picked = options.reshape(-1).cpu()
    width = int(answers.mask[picked].sum(1).max())  # padded to this batch's longest answer, not all 1,000's
    ids, mask = answers.ids[picked, :width].to(device), answers.mask[picked, :width].to(device)
    with autocast(device):
        prefix = vlm.encode_prefix(images, answers.prefix)
        continue_ = _packed if vlm.packs_answers else _repeated
        logits = continue_(vlm, prefix, ids, mask, count)  # (B * C, L, V) float32
    # Token 1 of each answer is predicted by the prompt's last position, token j > 1 by the answer's position j - 1.
    first = prefix.last_logits.repeat_interleave(count, dim=0).unsqueeze(1)
    predicting = torch.cat([first, logits[:, :-1]], dim=1).float()
    token_loss = torch.nn.functional.cross_entropy(predicting.transpose(1, 2), ids, reduction="none")  # (B*C, L)
    scored = answers.scored[picked, :width].to(device)
    total = (token_loss * scored).sum(dim=1)
    losses = total / scored.sum(dim=1) if score == "mean" else total
    return losses.reshape(batch, count)


def _repeated(vlm: VisionLanguageModel, prefix: Prefix, ids: torch.Tensor, mask: torch.Tensor, count: int):
    """Each photo's prompt cache copied once per answer; the answers continue as a batch of B * C rows."""
    prefix.cache.batch_repeat_interleave(count)  # in place
    attention = torch.cat([prefix.mask.repeat_interleave(count, dim=0), mask], dim=1)
    return vlm.continue_from(ids, attention, prefix.cache)


def _packed(vlm: VisionLanguageModel, prefix: Prefix, ids: torch.Tensor, mask: torch.Tensor, count: int):
    """A photo's C answers side by side in one row of C * L tokens, continuing from its one prompt cache: a 4D mask
    lets each answer see the prompt and its own earlier tokens only, and each answer's positions start where the
    prompt ends, so every answer is scored as if it alone followed the prompt, without copying the cache."""
    rows, width = ids.shape
    batch, length = rows // count, prefix.mask.shape[1]
    device = ids.device
    answer = torch.arange(count, device=device).repeat_interleave(width)  # which answer each packed token is
    step = torch.arange(width, device=device).repeat(count)  # its place in that answer
    own = (answer[:, None] == answer[None, :]) & (step[None, :] <= step[:, None])  # (C*L, C*L)
    real = mask.reshape(batch, 1, count * width).bool()
    seen = torch.cat([prefix.mask.bool()[:, None, :].expand(-1, count * width, -1), own[None] & real], dim=2)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32  # the attention's dtype (autocast on CUDA)
    additive = torch.zeros(seen.shape, dtype=dtype, device=device).masked_fill_(~seen, torch.finfo(dtype).min)
    positions = (length + step).expand(batch, -1)
    logits = vlm.continue_from(ids.reshape(batch, -1), additive[:, None], prefix.cache, positions)
    return logits.reshape(rows, width, -1)


def _photo_batches(
    vlm: VisionLanguageModel, dataset: Dataset, cache: ImageCache | None, image_ids: list[str], photos: int
) -> Iterator[tuple[slice, torch.Tensor | list]]:
    """(slice, photos) batches: normalized pixels from the image cache, or decoded photos for processors that size
    each photo themselves (those come one at a time: their prompts differ in length)."""
    if cache is not None:
        mean = torch.tensor(vlm.recipe.mean, device=vlm.device).view(1, 3, 1, 1)
        std = torch.tensor(vlm.recipe.std, device=vlm.device).view(1, 3, 1, 1)
        for window, pixels in batches(cache, photos, pin=vlm.device.type == "cuda"):
            x = pixels.to(vlm.device).permute(0, 3, 1, 2).float().div_(255)
            yield window, (x - mean) / std
        return
    for i, image_id in enumerate(image_ids):
        yield slice(i, i + 1), [decode(dataset.root / image_id).convert("RGB")]


def readable_photos(dataset: Dataset) -> tuple[list[str], dict[str, str]]:
    """For models without an image cache: the photos that decode, in the dataset's order, and the unreadable ones
    with their reasons (as the cache reports them, so the run lists them the same way)."""
    ids, skipped = [], {}
    for image in dataset.images:
        try:
            decode(dataset.root / image.image_id)
        except DECODE_ERRORS as error:
            skipped[image.image_id] = unreadable_reason(error)
            continue
        ids.append(image.image_id)
    return ids, skipped


def predict_lvlm(
    vlm: VisionLanguageModel,
    dataset: Dataset,
    cache: ImageCache | None,
    candidates: dict[int, tuple[int, ...]],
    names: list[str],
    *,
    image_ids: list[str] | None = None,
    question: str = QUESTION,
    answer: str = ANSWER,
    score: str = "mean",
    photos: int = 8,
    progress: bool = True,
    report: Report | None = None,
) -> pa.Table:
    """The run table of a vision-language model: 1 vs 20 predictions (the lowest loss among the class's candidates,
    scores = -loss, probabilities = softmax(-loss) among the 20); the 1 vs 1000 columns stay empty. Photos come from
    `cache`, or, without one, are decoded from `image_ids` (default: every readable photo)."""
    if score not in SCORES:
        raise ModelError(f"unknown answer score {score!r}; use one of {', '.join(SCORES)}")
    records = {image.image_id: image for image in dataset.images}
    if cache is not None:
        image_ids = list(cache.image_ids)
    elif image_ids is None:
        image_ids = readable_photos(dataset)[0]
    rows = [records[i] for i in image_ids]
    class_ids = np.array([r.class_id for r in rows], dtype=np.int64)
    options = candidate_matrix(class_ids, candidates)  # (N, 20)
    answers = tokenize_answers(vlm, question, answer, names)
    top20 = TopK.empty(len(rows))
    with tqdm(total=len(rows), desc="answers", unit="img", disable=not progress) as bar:
        for window, images in _photo_batches(vlm, dataset, cache, image_ids, photos):
            allowed = options[window]
            losses = candidate_losses(vlm, images, answers, allowed, score)
            top20.fill(window, allowed.to(losses.device), -losses, 1.0)
            bar.update(window.stop - window.start)
            if report:  # windows run from the first photo on; a disabled bar (progress off) counts nothing
                report(window.stop, len(rows))
    return run_table(rows, class_ids, None, top20)


# A photo's work in tokens, for the time estimate: LLaVA-1.5's 576 image tokens and the question, then 20 answers of a
# few tokens each. Models with fewer image tokens (MiniGPT-4: 32) take less; tiling ones (LLaVA-NeXT) more.
TOKENS_PER_PHOTO = 600 + 20 * 8
LONGEST_UNASKED_HOURS = 2.0  # a longer estimated run needs --allow-large


@dataclass(frozen=True)
class SizeEstimate:
    """What a vision-language model will cost on this machine, before its weights are read."""

    parameters: int
    weight_bytes: int  # as loaded on the device, plus room for a batch's caches and activations
    free_bytes: int  # memory the weights must fit in: free GPU memory, or the machine's available memory
    hours: float
    flops_per_second: float

    def problem(self, device: torch.device, photos: int) -> str:
        """Why this run is refused without --allow-large, or "" when it is reasonable."""
        where = "GPU memory" if device.type == "cuda" else "memory"
        size = (
            f"{self.parameters / 1e9:.2f} B parameters ({self.weight_bytes / 2**30:.1f} GiB as loaded on {device.type})"
        )
        if self.weight_bytes > self.free_bytes:
            return f"the model has {size}, more than the {self.free_bytes / 2**30:.1f} GiB of {where} available."
        if self.hours > LONGEST_UNASKED_HOURS:
            return (
                f"the model has {size}; {photos:,} photos would take about {_duration(self.hours)} here "
                f"(this {device.type} measured {self.flops_per_second / 1e9:,.0f} GFLOP/s)."
            )
        return ""


def _duration(hours: float) -> str:
    return (
        f"{hours * 60:.0f} minutes" if hours < 1 else f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.0f} days"
    )


def measured_flops(device: torch.device, seconds: float = 0.3) -> float:
    """Matrix-multiply throughput of this device in the precision models run in, measured now (noisy, but right to
    within a small factor, which is what an estimate in hours needs)."""
    import time

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    size = 4096 if device.type == "cuda" else 1024
    a = torch.randn(size, size, device=device, dtype=dtype)
    a @ a  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ a
        runs += 1
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return 2 * size**3 * runs / (time.perf_counter() - start)


def available_bytes(device: torch.device) -> int:
    """Memory a model can still take: free GPU memory (after returning what earlier models of this process left in
    PyTorch's cache), or the machine's available memory (MemAvailable, which counts reclaimable caches)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):  # not Linux
        import os

        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def estimate_size(parameters: int, device: torch.device, photos: int) -> SizeEstimate:
    # The weights and a fifth more for the prompt caches, activations and logits of a batch.
    weight_bytes = int(parameters * (2 if device.type == "cuda" else 4) * 1.2)
    free_bytes = available_bytes(device)
    flops = measured_flops(device)
    work = 2 * parameters * TOKENS_PER_PHOTO * photos / (0.5 * flops)  # seconds, at half the matmul peak
    return SizeEstimate(parameters, weight_bytes, free_bytes, work / 3600, flops)


def refuse_if_too_large(spec: str, parameters: int, device: torch.device, photos: int) -> None:
    """Refuse, before any weights are read, a vision-language model that does not fit this machine or would take
    more than LONGEST_UNASKED_HOURS over `photos` photos, saying its size and the estimated time."""
    if problem := estimate_size(parameters, device, photos).problem(device, photos):
        raise ModelError(
            f"{spec}: {problem} Run it on a GPU, or from the terminal with --allow-large to run it anyway."
        )
