"""Evaluation throughput: the obvious pipeline against the engine, for 1 and for 5 models sharing a recipe.

The obvious pipeline is what most evaluation scripts do (bench/obvious_pipeline.py, which imports nothing of the
engine and runs with torch's defaults): per model, a DataLoader whose workers open each JPEG and apply the model's own
transform (decode, resize, crop, to tensor, normalize), then the forward pass. The engine decodes and resizes each
photo once per recipe into its uint8 cache (in threads), shared by every model with that recipe, scores each batch as
soon as its photos are decoded, normalizes on the device, and runs torch with the engine's process settings
(`engine.PROCESS_ENV`: OpenMP threads that sleep instead of spinning while they wait, so decoding keeps its cores).
Both compute the same zero-shot predictions; the text heads are built before timing. Every timed turn runs in a
fresh process started the way it is in use (imports not timed), so each gets its own settings; for one model, the
obvious script is also timed with the engine's settings, to show how much of the lead those settings alone are.

Images: generated photo-like JPEGs of 400-600 px in the real folder layout. Models: two sizes of a narrow open_clip
ViT with random weights: at 224 px (a real model's input size, so normalizing and moving pixels cost what they
would; on a CPU that is already a sizeable share), and at 32 px, the tests' tiny size, where decoding is nearly all
the work, as it is on a GPU, whose forward passes outrun CPU decoding.
Reported: images/s (images x models / seconds) and the engine's speed-up over the obvious pipeline, cold (the
image cache built inside the timing) and warm (the cache already on disk, as for every later model or run). Each
figure is the median of --repeats runs, the pipelines taking turns, so that a busy machine slows them alike; the
range of the per-turn speed-ups says how noisy the machine was.

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
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import open_clip
import torch

from engine import PROCESS_ENV
from engine.dataset.reader import Dataset, load_dataset, paper_classes
from engine.dataset.synthetic import write_dataset
from engine.inference.devices import resolve_device
from engine.inference.evaluator import EvalOptions, Evaluator
from engine.inference.labels import imagenet_classnames, templates
from engine.inference.text_heads import text_head
from engine.models import load_model

OUTPUT = Path(__file__).resolve().parent / "results" / "eval_throughput.json"
OBVIOUS = Path(__file__).resolve().parent / "obvious_pipeline.py"
IMAGE_SIZES = (224, 32)  # model input sizes, pixels
MODEL_COUNTS = (1, 5)
# Each pipeline's process environment: the engine's settings, or torch's defaults (without them) for a plain script;
# a setting of the caller's own is overridden on purpose, so that the two always differ in exactly these.
ENGINE_ENV = os.environ | PROCESS_ENV
PLAIN_ENV = {name: value for name, value in os.environ.items() if name not in PROCESS_ENV}


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


def timed(command: list[str], env: dict) -> float:
    """Seconds a pipeline process reports for its work (a fresh process per turn: imports are not timed)."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(command[:3])} ... failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def obvious_turn(specs: list[str], root: Path, device: torch.device, workers: int, env: dict) -> float:
    command = [sys.executable, str(OBVIOUS), str(root / "photos.txt"), str(root / "heads.pt"), *specs]
    return timed([*command, "--configs", str(root / "models"), "--workers", str(workers), "--device", str(device)], env)


def engine_turn(specs: list[str], root: Path, device: torch.device, workers: int) -> float:
    command = [sys.executable, __file__, "--engine-turn", str(root), "--device", str(device), "--workers", str(workers)]
    return timed([*command, *specs], ENGINE_ENV)


def engine_pipeline(specs: list[str], root: Path, device: torch.device, workers: int) -> float:
    """Seconds for the engine to evaluate every model into runs (parquet and provenance included); the body of an
    engine turn's process."""
    for config in sorted((root / "models").glob("*.json")):
        open_clip.add_model_config(config)
    dataset = load_dataset(root / "data")
    options = EvalOptions(root / "results", root / "cache", device, workers=workers, force=True, progress=False)
    start = time.perf_counter()
    evaluator = Evaluator(dataset, options)
    for spec in specs:
        evaluator.evaluate(spec)
    return time.perf_counter() - start


def measure(specs: list[str], images: int, root: Path, device: torch.device, workers: int, repeats: int) -> dict:
    turns = []  # (obvious, cold, warm, obvious with the engine's settings or None) seconds, one per repeat
    for _ in range(repeats):
        obvious = obvious_turn(specs, root, device, workers, PLAIN_ENV)
        shutil.rmtree(root / "cache" / "images", ignore_errors=True)  # cold: the image cache is built inside the timing
        cold, warm = engine_turn(specs, root, device, workers), engine_turn(specs, root, device, workers)
        settings = obvious_turn(specs, root, device, workers, ENGINE_ENV) if len(specs) == 1 else None
        turns.append((obvious, cold, warm, settings))
    obvious, cold, warm = (statistics.median(column) for column in list(zip(*turns, strict=True))[:3])
    cold_speedups, warm_speedups = [o / c for o, c, _, _ in turns], [o / w for o, _, w, _ in turns]
    total = images * len(specs)
    row = {
        "image_size": int(specs[0].split("@")[0].rsplit("-", 1)[1]),
        "models": len(specs),
        "images": images,
        "obvious_s": round(obvious, 3),
        "engine_cold_s": round(cold, 3),
        "engine_warm_s": round(warm, 3),
        "obvious_images_per_s": round(total / obvious, 1),
        "engine_cold_images_per_s": round(total / cold, 1),
        "engine_warm_images_per_s": round(total / warm, 1),
        "speedup_cold": round(obvious / cold, 2),
        "speedup_warm": round(obvious / warm, 2),
        "speedup_cold_range": [round(min(cold_speedups), 2), round(max(cold_speedups), 2)],
        "speedup_warm_range": [round(min(warm_speedups), 2), round(max(warm_speedups), 2)],
        "repeats": repeats,
    }
    if len(specs) == 1:  # the obvious script given the engine's process settings: its share of the lead
        settings = statistics.median(t[3] for t in turns)
        row["obvious_engine_settings_s"] = round(settings, 3)
        row["speedup_cold_vs_obvious_engine_settings"] = round(settings / cold, 2)
    return row


def make_photos(root: Path, images: int) -> Dataset:
    classes = sorted(paper_classes())
    per_group = max(1, images // (2 * len(classes)))
    return load_dataset(write_dataset(root / "data", classes, per_group, sizes=(400, 600)))


def write_heads(specs: list[str], root: Path, device: torch.device) -> None:
    """Text heads before timing, for both pipelines: the engine keeps them in its cache, the obvious script reads
    them from heads.pt."""
    names, prompts = imagenet_classnames(), templates("paper")
    heads = {spec: text_head(load_model(spec, device), names, prompts, root / "cache", False) for spec in specs}
    torch.save({spec: head.cpu() for spec, head in heads.items()}, root / "heads.pt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1800, help="about this many generated photos")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decode processes, both pipelines")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3, help="turns of each pipeline; medians are reported")
    parser.add_argument("--engine-turn", type=Path, metavar="ROOT", help=argparse.SUPPRESS)  # one timed engine turn
    parser.add_argument("specs", nargs="*", help=argparse.SUPPRESS)  # the engine turn's models
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.engine_turn:
        print(json.dumps({"seconds": engine_pipeline(args.specs, args.engine_turn, device, args.workers)}))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dataset = make_photos(root, args.images)
        (root / "photos.txt").write_text("\n".join(str(dataset.root / image.image_id) for image in dataset.images))
        for size in IMAGE_SIZES:
            specs = make_models(root / "models", size, max(MODEL_COUNTS))
            write_heads(specs, root, device)
            images = len(dataset.images)
            rows += [measure(specs[:n], images, root, device, args.workers, args.repeats) for n in MODEL_COUNTS]
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
    for r in rows:
        if "speedup_cold_vs_obvious_engine_settings" in r:
            settings = ", ".join(f"{name}={value}" for name, value in PROCESS_ENV.items())
            speedup = r["speedup_cold_vs_obvious_engine_settings"]
            print(f"{r['image_size']} px, 1 model: cold {speedup}x the obvious script given the engine's {settings}")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
