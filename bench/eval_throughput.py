"""Evaluation throughput: the obvious pipeline against the engine, for 1 and for 5 models sharing a recipe.

The obvious pipeline is what most evaluation scripts do: per model, a DataLoader whose workers open each JPEG and
apply the model's own transform (decode, resize, crop, to tensor, normalize), then the forward pass. The engine
decodes and resizes each photo once per recipe into its uint8 cache (in threads), shared by every model with that
recipe, scores each batch as soon as its photos are decoded, and normalizes on the device. Both compute the same
zero-shot predictions; the text heads are built before timing.

Images: generated photo-like JPEGs of 400-600 px in the real folder layout. Models: two sizes of a narrow open_clip
ViT with random weights: at 224 px (a real model's input size, so normalizing and moving pixels cost what they
would; on a CPU that is already a sizeable share), and at 32 px, the tests' tiny size, where decoding is nearly all
the work, as it is on a GPU, whose forward passes outrun CPU decoding.
Reported: images/s (images x models / seconds) and the engine's speed-up over the obvious pipeline, cold (the
image cache built inside the timing) and warm (the cache already on disk, as for every later model or run). Each
figure is the median of --repeats runs, the three pipelines taking turns, so that a busy machine slows them alike;
the range of the per-turn speed-ups says how noisy the machine was.

    .venv/bin/python bench/eval_throughput.py [--images 1800] [--workers N] [--device auto] [--repeats 3]

Figures go to bench/results/eval_throughput.json and a table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import open_clip
import torch
from PIL import Image
from torch.utils.data import DataLoader

from engine.dataset.reader import Dataset, load_dataset, paper_classes
from engine.dataset.synthetic import write_dataset
from engine.inference.devices import autocast, resolve_device
from engine.inference.evaluator import EvalOptions, Evaluator
from engine.inference.labels import imagenet_classnames, templates
from engine.inference.text_heads import text_head
from engine.models import load_model

OUTPUT = Path(__file__).resolve().parent / "results" / "eval_throughput.json"
IMAGE_SIZES = (224, 32)  # model input sizes, pixels
MODEL_COUNTS = (1, 5)
BATCH = 64


def architecture(image_size: int) -> dict:
    """A narrow 2-layer ViT (cheap forward) at `image_size` px."""
    patch = 32 if image_size >= 64 else 8
    return {
        "embed_dim": 64,
        "vision_cfg": {"image_size": image_size, "layers": 2, "width": 64, "head_width": 32, "patch_size": patch},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
    }


def make_models(folder: Path, image_size: int, count: int) -> list[str]:
    """`count` specs of one architecture with different random weights (so one recipe)."""
    arch = f"ca-bench-vit-{image_size}"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / f"{arch}.json"
    config.write_text(json.dumps(architecture(image_size)))
    open_clip.add_model_config(config)
    specs = []
    for i in range(count):
        torch.manual_seed(i)
        path = folder / f"{arch}-{i}.pt"
        torch.save(open_clip.create_model(arch).state_dict(), path)
        specs.append(f"open_clip:{arch}@{path}")
    return specs


class Photos(torch.utils.data.Dataset):
    """The obvious dataset: open a file, apply the model's transform."""

    def __init__(self, dataset: Dataset, transform) -> None:
        self.paths = [dataset.root / image.image_id for image in dataset.images]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.paths[i]) as image:
            return self.transform(image.convert("RGB"))


def obvious_pipeline(specs: list[str], dataset: Dataset, heads: dict, device: torch.device, workers: int) -> float:
    """Seconds to predict every image with every model, decoding per model."""
    start = time.perf_counter()
    for spec in specs:
        arch, path = spec.removeprefix("open_clip:").split("@", 1)
        model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=path, device=device)
        loader = DataLoader(Photos(dataset, preprocess), batch_size=BATCH, num_workers=workers, pin_memory=False)
        with torch.no_grad(), autocast(device):
            for images in loader:
                features = model.encode_image(images.to(device), normalize=True)
                (features.float() @ heads[spec]).argmax(dim=-1).cpu()
    return time.perf_counter() - start


def engine_pipeline(specs: list[str], dataset: Dataset, options: EvalOptions) -> float:
    """Seconds for the engine to evaluate every model into runs (parquet and provenance included)."""
    start = time.perf_counter()
    evaluator = Evaluator(dataset, options)
    for spec in specs:
        evaluator.evaluate(spec)
    return time.perf_counter() - start


def measure(
    specs: list[str], dataset: Dataset, heads: dict, root: Path, device: torch.device, workers: int, repeats: int
) -> dict:
    images = len(dataset.images) * len(specs)
    options = EvalOptions(root / "results", root / "cache", device, workers=workers, force=True, progress=False)
    turns = []  # (obvious, cold, warm) seconds, one triple per repeat
    for _ in range(repeats):
        obvious = obvious_pipeline(specs, dataset, heads, device, workers)
        shutil.rmtree(root / "cache" / "images", ignore_errors=True)  # cold: the image cache is built inside the timing
        turns.append((obvious, engine_pipeline(specs, dataset, options), engine_pipeline(specs, dataset, options)))
    obvious, cold, warm = (statistics.median(column) for column in zip(*turns, strict=True))
    return {
        "image_size": int(specs[0].split("@")[0].rsplit("-", 1)[1]),
        "models": len(specs),
        "images": len(dataset.images),
        "obvious_s": round(obvious, 3),
        "engine_cold_s": round(cold, 3),
        "engine_warm_s": round(warm, 3),
        "obvious_images_per_s": round(images / obvious, 1),
        "engine_cold_images_per_s": round(images / cold, 1),
        "engine_warm_images_per_s": round(images / warm, 1),
        "speedup_cold": round(obvious / cold, 2),
        "speedup_warm": round(obvious / warm, 2),
        "speedup_cold_range": [round(min(o / c for o, c, _ in turns), 2), round(max(o / c for o, c, _ in turns), 2)],
        "speedup_warm_range": [round(min(o / w for o, _, w in turns), 2), round(max(o / w for o, _, w in turns), 2)],
        "repeats": repeats,
    }


def make_photos(root: Path, images: int) -> Dataset:
    classes = sorted(paper_classes())
    per_group = max(1, images // (2 * len(classes)))
    return load_dataset(write_dataset(root / "data", classes, per_group, sizes=(400, 600)))


def text_heads(specs: list[str], root: Path, device: torch.device) -> dict:
    """Text heads before timing, for both pipelines (the engine keeps them in its cache; the obvious one in memory)."""
    names, prompts = imagenet_classnames(), templates("paper")
    return {spec: text_head(load_model(spec, device), names, prompts, root / "cache", progress=False) for spec in specs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1800, help="about this many generated photos")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decode processes, both pipelines")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3, help="turns of each pipeline; medians are reported")
    args = parser.parse_args()
    device = resolve_device(args.device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dataset = make_photos(root, args.images)
        for size in IMAGE_SIZES:
            specs = make_models(root / "models", size, max(MODEL_COUNTS))
            heads = text_heads(specs, root, device)
            rows += [measure(specs[:n], dataset, heads, root, device, args.workers, args.repeats) for n in MODEL_COUNTS]
    report = {
        "date": date.today().isoformat(),
        "machine": f"{platform.platform()} ({platform.machine()}), {os.cpu_count()} CPUs",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "workers": args.workers,
        "torch": torch.__version__,
        "load_average_1min_at_end": round(os.getloadavg()[0], 1),  # other processes sharing the CPUs
        "results": rows,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(report, indent=2))
    print(f"{len(dataset.images)} photos (400-600 px), {args.workers} workers, device {report['device']}")
    print(f"medians of {args.repeats} turns; in brackets the range of the per-turn speed-ups")
    print("input px  models  obvious img/s  engine cold img/s  engine warm img/s  speed-up cold         speed-up warm")
    for r in rows:
        cold, warm = r["speedup_cold_range"], r["speedup_warm_range"]
        print(
            f"{r['image_size']:>8}  {r['models']:>6}  {r['obvious_images_per_s']:>13}  "
            f"{r['engine_cold_images_per_s']:>17}  {r['engine_warm_images_per_s']:>17}  "
            f"{r['speedup_cold']:>5}x [{cold[0]}-{cold[1]}]  {r['speedup_warm']:>6}x [{warm[0]}-{warm[1]}]"
        )
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
