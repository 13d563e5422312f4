"""`counteranimal demo`: a small synthetic dataset in the real layout plus two runs of tiny models (a random CLIP, and
a ResNet whose read-out is fitted on the common-background photos), so every dashboard page can be tried without
the real archive or any download. The numbers demonstrate the pages; they say nothing about any real model."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from engine.dataset.reader import load_dataset
from engine.dataset.synthetic import write_dataset
from engine.inference.evaluator import EvalOptions, Evaluator, Outcome
from engine.zoo.specs import spec_for

# Ice bear, Arctic fox, ostrich, black swan, lion, sea lion: classes whose backgrounds look different.
DEMO_CLASSES = [296, 279, 9, 100, 291, 150]
PHOTOS_PER_GROUP = 16
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
    """Write the demo dataset and models under `to` and evaluate them into `to/results`; returns that folder."""
    to = Path(to)
    per_group = per_group or PHOTOS_PER_GROUP
    data = write_dataset(to / "data", DEMO_CLASSES, per_group, sizes=(160, 320), workers=workers)
    specs = [
        _timm_file(to / "models" / "demo-resnet.safetensors", data),
        write_clip_folder(to / "models" / "demo-clip"),
    ]
    results = to / "results"
    options = EvalOptions(results, cache, torch.device("cpu"), workers=workers, progress=progress, batch_size=64)
    evaluator = Evaluator(load_dataset(data), options)
    return results, [evaluator.evaluate(spec) for spec in specs]
