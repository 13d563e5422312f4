"""Vision-language scoring: the engine's prefix-shared pass against the naive loop, on the same model and photos.

The paper scores each photo's 20 candidate answers by their language-model loss. Naive: 20 forward passes per photo,
each over the whole prompt (hundreds of image tokens, the question, one answer), through the model's own processor.
Engine: the photo and question once per photo; the 20 answers packed side by side in one pass that continues from
its KV cache (a 4D mask keeps each answer to the prompt and itself); photos batched, pixels from the decode-once cache.
The naive loop also runs the processor per answer (about a tenth of its time), as such loops do. Both give the same
losses (tests/test_lvlm.py).

Model: a tiny random LLaVA with LLaVA-1.5's prompt shape (336 px photos in 14 px patches: 576 image tokens), so the
ratio of prompt to answer tokens is the real one; only the widths are small. Goal (issue 13): >= 8x on this machine.

Also printed: an estimate of LLaVA-1.5-7B over all 13,100 photos on one H200 from its parameter count and token
counts (goal <= 15 minutes); on a machine with the weights and a GPU, `--model hf:llava-hf/llava-1.5-7b-hf --device
cuda` measures it on --photos photos and extrapolates instead.

    .venv/bin/python bench/lvlm_throughput.py [--photos 12] [--device auto] [--model SPEC]

Figures go to bench/results/lvlm_throughput.json and a table to stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from engine.dataset.reader import load_dataset
from engine.dataset.synthetic import write_dataset
from engine.inference.devices import resolve_device
from engine.inference.evaluator import LVLM_PHOTOS
from engine.inference.image_cache import decode, load_or_build_cache
from engine.inference.labels import answer_names, load_candidates
from engine.inference.lvlm import predict_lvlm
from engine.models import load_model
from engine.models.tiny_llava import write_tiny_llava
from engine.models.vlm import ANSWER, QUESTION

OUTPUT = Path(__file__).resolve().parent / "results" / "lvlm_throughput.json"
DATASET_IMAGES = 13_100
CLASSES = [296, 279, 9, 100]
# LLaVA-1.5-7B: Vicuna-7B (6.74 B) + CLIP ViT-L/14-336 (0.30 B) + projector (0.02 B); per photo, 576 image tokens
# and ~35 prompt tokens once, then 20 answers of ~6 tokens (with the closing token).
LLAVA_7B_PARAMETERS = 7.06e9
LLAVA_PROMPT_TOKENS, LLAVA_ANSWER_TOKENS = 611, 6
H200_BF16_FLOPS = 989e12  # dense bf16 peak
ASSUMED_UTILISATION = 0.35  # of the peak, for large-batch prefill; measured runs replace the estimate


def naive_seconds(model, dataset, candidates, names, photos: int) -> tuple[float, np.ndarray]:
    """One forward pass per photo and candidate through the model's processor (fp32 on the CPU): the obvious loop.
    Returns the seconds and each photo's lowest loss."""
    vlm, device = model.vlm, model.vlm.device
    predictions = []
    start = time.perf_counter()
    for image in dataset.images[:photos]:
        photo = decode(dataset.root / image.image_id).convert("RGB")
        losses = []
        for c in candidates[image.class_id]:
            talk = vlm.conversation(QUESTION, ANSWER.format(names[c]))
            inputs = vlm.processor(images=[photo], text=[talk.full], return_tensors="pt").to(device)
            offsets = vlm.tokenizer(talk.full, return_offsets_mapping=True)["offset_mapping"]
            scored = torch.tensor([a < talk.answer[1] and b > talk.answer[0] for a, b in offsets])
            ids = inputs["input_ids"][0]
            position = torch.arange(len(ids), device=device)[-len(offsets) :][scored.to(device)]
            with torch.no_grad():
                logits = model.network(**inputs).logits[0].float()
            losses.append(torch.nn.functional.cross_entropy(logits[position - 1], ids[position]).item())
        predictions.append(min(losses))
    return time.perf_counter() - start, np.array(predictions)


def engine_seconds(model, dataset, cache, candidates, names, photos: int) -> tuple[float, np.ndarray]:
    """The engine's scoring of every cached photo (the cache built beforehand, as for every later model). Returns
    the seconds and each photo's lowest loss (its best score, negated)."""
    start = time.perf_counter()
    table = predict_lvlm(model.vlm, dataset, cache, candidates, names, photos=photos, progress=False)
    best = -np.stack(table.column("top5_1vs20_scores").to_numpy(zero_copy_only=False))[:, 0]
    return time.perf_counter() - start, best


def h200_estimate_minutes() -> float:
    flops = 2 * LLAVA_7B_PARAMETERS * (LLAVA_PROMPT_TOKENS + 20 * LLAVA_ANSWER_TOKENS) * DATASET_IMAGES
    return flops / (H200_BF16_FLOPS * ASSUMED_UTILISATION) / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=16, help="photos in all (4 classes x 2 backgrounds)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", help="a real model spec to time instead of the tiny LLaVA (engine path only)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    names = list(answer_names("wordnet"))
    candidates = load_candidates(None)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        per_group = max(1, args.photos // (2 * len(CLASSES)))
        dataset = load_dataset(write_dataset(root / "data", CLASSES, per_group=per_group, sizes=(400, 600)))
        spec = args.model or write_tiny_llava(root / "llava", names, image_size=336, patch_size=14, width=256, layers=4)
        model = load_model(spec, device)
        cache = load_or_build_cache(dataset, model.recipe, root / "cache", workers=1, progress=False)
        count = len(cache.image_ids)
        engine_s, engine_best = engine_seconds(model, dataset, cache, candidates, names, LVLM_PHOTOS)
        if args.model:
            naive_s, difference = None, None
        else:
            naive_s, naive_best = naive_seconds(model, dataset, candidates, names, count)
            difference = float(np.abs(naive_best - engine_best).max())
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.platform()} ({platform.machine()}), {torch.get_num_threads()} threads",
        "device": str(device),
        "torch": torch.__version__,
        "model": args.model or "tiny LLaVA: 576 image tokens, Llama 4 x 256",
        "photos": count,
        "engine_s": round(engine_s, 3),
        "engine_photos_per_s": round(count / engine_s, 2),
        "naive_s": None if naive_s is None else round(naive_s, 3),
        "speedup": None if naive_s is None else round(naive_s / engine_s, 1),
        "max_best_loss_difference": difference,  # the two ways agree (ties make argmins arbitrary)
        "llava_7b_h200_minutes_estimated": round(h200_estimate_minutes(), 1),
        "estimate_assumes": f"{LLAVA_7B_PARAMETERS / 1e9} B parameters, {LLAVA_PROMPT_TOKENS} + 20 x "
        f"{LLAVA_ANSWER_TOKENS} tokens per photo, {ASSUMED_UTILISATION:.0%} of the H200's bf16 peak",
    }
    if args.model:
        result["extrapolated_minutes_for_13100"] = round(engine_s / count * DATASET_IMAGES / 60, 1)
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'photos':>8} {'naive s':>9} {'engine s':>9} {'speed-up':>9}  max difference of the best losses")
    print(f"{count:>8} {result['naive_s'] or '-':>9} {engine_s:>9.2f} {result['speedup'] or '-':>9}  {difference}")
    print(f"LLaVA-1.5-7B, 13,100 photos, one H200 (estimated): {result['llava_7b_h200_minutes_estimated']} minutes")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
