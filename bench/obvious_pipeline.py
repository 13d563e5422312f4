"""The obvious evaluation script, bench/eval_throughput.py's baseline: per model, a DataLoader whose worker processes
open each JPEG and apply the model's own open_clip transform (decode, resize, crop, to tensor, normalize), then the
forward pass and the zero-shot head. It imports nothing of the engine and runs with torch's defaults, as a
researcher's own script would.

    python bench/obvious_pipeline.py PHOTOS.txt HEADS.pt SPEC [SPEC ...] [--configs DIR] [--workers N] [--device cpu]

PHOTOS.txt: one photo path per line. HEADS.pt: {spec: (D, 1000) zero-shot head}. SPEC: open_clip:ARCH@WEIGHTS.
--configs: a folder of open_clip architecture configs (ARCH.json) to register.
Prints {"seconds": ...}: models loaded and every photo predicted (imports and the heads are not timed).
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import nullcontext
from pathlib import Path

import open_clip
import torch
from PIL import Image
from torch.utils.data import DataLoader

BATCH = 64


class Photos(torch.utils.data.Dataset):
    """Open a file, apply the model's transform."""

    def __init__(self, paths: list[str], transform) -> None:
        self.paths, self.transform = paths, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.paths[i]) as image:
            return self.transform(image.convert("RGB"))


def predict_all(specs: list[str], paths: list[str], heads: dict, device: torch.device, workers: int) -> None:
    bf16 = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    for spec in specs:
        arch, weights = spec.removeprefix("open_clip:").split("@", 1)
        model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=weights, device=device)
        loader = DataLoader(Photos(paths, preprocess), batch_size=BATCH, num_workers=workers)
        with torch.no_grad(), bf16:
            for images in loader:
                features = model.encode_image(images.to(device), normalize=True)
                (features.float() @ heads[spec].to(device)).argmax(dim=-1).cpu()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("heads", type=Path)
    parser.add_argument("specs", nargs="+")
    parser.add_argument("--configs", type=Path, help="folder of open_clip architecture configs to register")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    for config in sorted(args.configs.glob("*.json")) if args.configs else []:
        open_clip.add_model_config(config)
    paths, heads = args.photos.read_text().splitlines(), torch.load(args.heads, weights_only=True)
    start = time.perf_counter()
    predict_all(args.specs, paths, heads, torch.device(args.device), args.workers)
    print(json.dumps({"seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
