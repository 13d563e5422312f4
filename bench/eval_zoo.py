"""The paper's whole zoo on one device: the engine against the sum of the models' forward passes alone, and against
the obvious pipeline. Meant for a GPU (it runs on a CPU too, with --models to pick a few small ones).

For every evaluable zoo model (its architecture with random weights, the preprocessing its real weights use):
- forward only: the model on random, already-normalized tensors, timed on --forward-images and scaled to the
  dataset; the floor no pipeline can beat;
- engine: `Evaluator.evaluate_model` with every recipe's image cache prefetched in the background (decoding for
  later models overlaps with the models running now), text heads, 1 vs 20, Parquet, provenance: all timed;
- obvious: a DataLoader applying the model's own transform to each JPEG, timed on --obvious-images and scaled.
Goals (issue 3): engine <= 1.3x the sum of forward passes, and >= 8x faster than the obvious pipeline.

    .venv/bin/python bench/eval_zoo.py --device cuda --batch-size 512 --workers 16      # a GPU machine
    .venv/bin/python bench/eval_zoo.py --device cpu --images 90 --models torchvision:resnet18/IMAGENET1K_V1

Figures go to bench/results/eval_zoo.json and a table to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from torchvision import transforms as T

from engine.dataset.reader import Dataset, load_dataset, paper_classes
from engine.dataset.synthetic import write_dataset
from engine.inference.devices import autocast, resolve_device
from engine.inference.evaluator import EvalOptions, Evaluator
from engine.models import LoadedModel, load_model, model_recipe
from engine.zoo.catalog import load_zoo

OUTPUT = Path(__file__).resolve().parent / "results" / "eval_zoo.json"
DATASET_IMAGES = 13_100  # CounterAnimal's size


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build(spec: str, device: torch.device) -> LoadedModel:
    with torch.device(device):  # random initialization on the device itself: seconds even for ViT-bigG
        return load_model(spec, device, random_weights=True)


def forward_seconds(model: LoadedModel, head: torch.Tensor | None, images: int, batch: int, scale_to: int) -> float:
    """Forward passes alone on random normalized input, timed on `images` and scaled to `scale_to` images."""
    device = next(model.network.parameters()).device
    height, width = model.recipe.output_size()
    x = torch.randn(batch, 3, height, width, device=device)
    run = model.network.encode_image if model.family == "CLIP" else model.network
    with torch.no_grad():
        with autocast(device):
            run(x)  # warm-up: kernels chosen, memory allocated
        synchronize(device)
        start = time.perf_counter()
        for _ in range(math.ceil(images / batch)):
            with autocast(device):
                out = run(x)
            if head is not None:  # as the engine: the head in fp32
                out = out.float() @ head
        synchronize(device)
    return (time.perf_counter() - start) * scale_to / (math.ceil(images / batch) * batch)


class Photos(torch.utils.data.Dataset):
    def __init__(self, dataset: Dataset, transform: T.Compose) -> None:
        self.paths, self.transform = [dataset.root / i.image_id for i in dataset.images], transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        from PIL import Image

        with Image.open(self.paths[i]) as image:
            return self.transform(image.convert("RGB"))


def obvious_seconds(model: LoadedModel, head, dataset: Dataset, images: int, batch: int, workers: int) -> float:
    """The model's own transform in a DataLoader, decoding every photo, timed on `images` and scaled."""
    device = next(model.network.parameters()).device
    transform = T.Compose([model.recipe.steps, T.ToTensor(), T.Normalize(model.recipe.mean, model.recipe.std)])
    subset = Subset(Photos(dataset, transform), range(min(images, len(dataset.images))))
    loader = DataLoader(subset, batch_size=batch, num_workers=workers, pin_memory=device.type == "cuda")
    start = time.perf_counter()
    with torch.no_grad(), autocast(device):
        for x in loader:
            x = x.to(device, non_blocking=True)
            out = model.network.encode_image(x) if model.family == "CLIP" else model.network(x)
            if head is not None:
                out = out.float() @ head
            out.argmax(dim=-1).cpu()
    return (time.perf_counter() - start) * len(dataset.images) / len(subset)


def zoo_specs(chosen: str | None) -> list[str]:
    """Every evaluable zoo classifier (or the chosen ones), grouped by recipe so models sharing a cache run together.
    Vision-language models have their own benchmark, bench/lvlm_throughput.py."""
    specs = chosen.split(",") if chosen else [m.loader for m in load_zoo() if m.loader and m.family != "LVLM"]
    return sorted(specs, key=lambda spec: model_recipe(spec).key)


def run_engine(evaluator: Evaluator, specs: list[str], device: torch.device) -> tuple[float, dict]:
    """Engine seconds (model construction excluded), total and per model."""
    evaluator.prefetch(model_recipe(spec) for spec in specs)
    per_model = {}
    for spec in specs:
        model = build(spec, device)
        start = time.perf_counter()
        evaluator.evaluate_model(model)
        synchronize(device)
        per_model[spec] = time.perf_counter() - start
        del model
    return sum(per_model.values()), per_model


def measure_models(evaluator: Evaluator, specs: list[str], args: argparse.Namespace, device: torch.device) -> dict:
    rows = {}
    for spec in specs:
        model = build(spec, device)
        head = evaluator.scorer(model).head  # the engine cached it; the obvious pipeline gets the same head
        forward = forward_seconds(model, head, args.forward_images, args.batch_size, len(evaluator.dataset.images))
        obvious = obvious_seconds(model, head, evaluator.dataset, args.obvious_images, args.batch_size, args.workers)
        rows[spec] = {"forward_s": round(forward, 3), "obvious_s": round(obvious, 3)}
        print(f"{spec:55} forward {forward:8.2f} s   obvious {obvious:8.2f} s", flush=True)
        del model, head
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=DATASET_IMAGES, help="generated photos (default: 13,100)")
    parser.add_argument("--models", help="comma-separated specs (default: every evaluable zoo model)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--forward-images", type=int, default=2048, help="images timed for the forward-only floor")
    parser.add_argument("--obvious-images", type=int, default=1310, help="images timed for the obvious pipeline")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    device = resolve_device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        classes = sorted(paper_classes())
        per_group = max(1, round(args.images / (2 * len(classes))))
        data = write_dataset(root / "data", classes, per_group, sizes=(400, 600), workers=args.workers)
        dataset = load_dataset(data)
        specs = zoo_specs(args.models)
        options = EvalOptions(
            root / "results", root / "cache", device, batch_size=args.batch_size, workers=args.workers, progress=False
        )
        evaluator = Evaluator(dataset, options)
        start = time.perf_counter()
        engine_s, engine_per_model = run_engine(evaluator, specs, device)
        engine_wall_s = time.perf_counter() - start
        rows = measure_models(evaluator, specs, args, device)
    for spec, seconds in engine_per_model.items():
        rows[spec]["engine_s"] = round(seconds, 3)
    forward_s = sum(r["forward_s"] for r in rows.values())
    obvious_s = sum(r["obvious_s"] for r in rows.values())
    report = {
        "date": date.today().isoformat(),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "images": len(dataset.images),
        "models": len(specs),
        "batch_size": args.batch_size,
        "workers": args.workers,
        "sum_forward_s": round(forward_s, 2),
        "engine_s": round(engine_s, 2),
        "engine_wall_s_with_model_builds": round(engine_wall_s, 2),
        "obvious_s_extrapolated": round(obvious_s, 2),
        "engine_over_forward": round(engine_s / forward_s, 3),
        "speedup_over_obvious": round(obvious_s / engine_s, 2),
        "per_model": rows,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(report, indent=2))
    print(f"{len(specs)} models x {len(dataset.images)} photos on {report['device']}")
    print(f"sum of forward passes {forward_s:.1f} s | engine {engine_s:.1f} s ({report['engine_over_forward']}x)")
    print(f"obvious pipeline {obvious_s:.1f} s (extrapolated) | engine speed-up {report['speedup_over_obvious']}x")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
