"""`counteranimal demo`: a small synthetic dataset in the real layout plus two runs of tiny models (a random CLIP, and
a ResNet whose read-out is fitted on the common-background photos), so every dashboard page can be tried without
the real archive or any download. The numbers demonstrate the pages; they say nothing about any real model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from engine.curation.select import Rules
from engine.dataset.reader import load_dataset, paper_classes
from engine.dataset.synthetic import write_collection, write_dataset
from engine.inference.curation import curate
from engine.inference.evaluator import EvalOptions, Evaluator, Outcome
from engine.zoo.specs import spec_for

# Ice bear, Arctic fox, ostrich, black swan, lion, sea lion: classes whose backgrounds look different.
DEMO_CLASSES = [296, 279, 9, 100, 291, 150]
PHOTOS_PER_GROUP = 16
DEMO_NAME = "demo"  # the demo dataset's name: its runs are never shown as CounterAnimal's
LONE_CLASS, FEW_PHOTOS_CLASS = 340, 80  # zebra (one background only), black grouse (two photos per background)
TINY_CLIP = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}


def write_clip_folder(folder: Path) -> str:
    """A random tiny CLIP saved as open_clip saves for the hub: self-contained, loadable by any process."""
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP, "preprocess_cfg": {}}))
    config = folder.parent / "demo-clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    torch.save(open_clip.create_model("demo-clip").state_dict(), folder / "open_clip_pytorch_model.bin")
    return spec_for("local-dir", "", folder.resolve())


def _timm_file(path: Path, data: Path, steps: int = 300) -> str:
    """timm's tiny test ResNet with random features and a linear read-out fitted on the common-background photos
    only: like a real model, it leans on the background it saw, so counter photos are harder and the pages have
    both right and wrong answers to show."""
    import timm
    from PIL import Image
    from safetensors.torch import save_file
    from timm.data import create_transform, resolve_data_config

    torch.manual_seed(0)
    model = timm.create_model("test_resnet", pretrained=False).eval()
    transform = create_transform(**resolve_data_config({}, model=model))
    photos = sorted(data.glob("*/common-*/*.jpg"))
    labels = torch.tensor([int(p.parent.parent.name.split()[0]) for p in photos])
    with torch.no_grad():
        x = torch.stack([transform(Image.open(p).convert("RGB")) for p in photos])
        features = model.forward_head(model.forward_features(x), pre_logits=True)  # (N, D)
    head = model.get_classifier()
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(head(features), labels).backward()
        optimizer.step()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), str(path))
    return f"timm:test_resnet@{path.resolve()}"


def write_demo(
    to: Path, cache: Path, workers: int = 1, progress: bool = True, per_group: int | None = None
) -> tuple[Path, list[Outcome]]:
    """Write the demo dataset and models under `to`, evaluate them into `to/results`, and curate a background-labelled
    collection into `to/curated` (`demo_collection`); returns the results folder and the demo models' outcomes."""
    to = Path(to)
    per_group = per_group or PHOTOS_PER_GROUP
    data = write_dataset(to / "data", DEMO_CLASSES, per_group, sizes=(160, 320), workers=workers, name=DEMO_NAME)
    specs = [
        _timm_file(to / "models" / "demo-resnet.safetensors", data),
        write_clip_folder(to / "models" / "demo-clip"),
    ]
    results = to / "results"
    options = EvalOptions(results, cache, torch.device("cpu"), workers=workers, progress=progress, batch_size=64)
    with Evaluator(load_dataset(data), options) as evaluator:
        outcomes = [evaluator.evaluate(spec) for spec in specs]
    # A few hundred small photos: decoded in this process (a second decoding pool in one process once hung here).
    one_process = replace(options, workers=1)
    curate(demo_collection(to / "collection"), to / "curated", specs[0], Rules(5), one_process, f"{DEMO_NAME} curated")
    return results, outcomes


def demo_collection(folder: Path) -> Path:
    """Photos of the demo classes on four backgrounds each (their CounterAnimal pair and two more), plus a class seen
    on one background only and one with too few photos per background: curation keeps the first kind and says why
    it drops the others."""
    classes = paper_classes()
    photos = {}
    for class_id in DEMO_CLASSES:
        pair = [classes[class_id]["common_background"], classes[class_id]["counter_background"]]
        others = [b for b in ("road", "indoor", "sky", "tree") if b not in pair][:2]
        photos[class_id] = {pair[0]: 10, pair[1]: 8} | dict.fromkeys(others, 8)
    photos[LONE_CLASS] = {"grass": 8}
    photos[FEW_PHOTOS_CLASS] = dict.fromkeys(("grass", "snow", "water"), 2)
    return write_collection(folder, photos)
