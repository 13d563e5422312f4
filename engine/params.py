"""Parameter counts of the zoo's architectures, measured by building them on the meta device (no memory, no weights).

Used by `scripts/build_models_csv.py` to fill `results/paper/models.csv`; the counts are never typed in by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ParamCount:
    """Parameters of one architecture."""

    backbone: int  # the image encoder: CLIP's visual tower, or the whole ImageNet classifier
    total: int  # everything, CLIP's text tower included


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _open_clip(name: str) -> ParamCount:
    import open_clip

    arch = name.split("/", 1)[0]
    model = open_clip.create_model(arch, pretrained=None, device="meta")
    return ParamCount(backbone=_count(model.visual), total=_count(model))


def _torchvision(name: str) -> ParamCount:
    import torchvision

    model = torchvision.models.get_model(name.split("/", 1)[0], weights=None)
    return ParamCount(backbone=_count(model), total=_count(model))


def _timm(name: str) -> ParamCount:
    import timm

    model = timm.create_model(name, pretrained=False)
    return ParamCount(backbone=_count(model), total=_count(model))


# One small builder per model source, keyed by the model id's prefix.
BUILDERS: dict[str, Callable[[str], ParamCount]] = {
    "open_clip": _open_clip,
    "torchvision": _torchvision,
    "timm": _timm,
}


def count_parameters(model_id: str) -> ParamCount:
    """Count the parameters of a model id, e.g. `open_clip:ViT-B-32/openai` or `torchvision:resnet50/IMAGENET1K_V1`."""
    kind, _, name = model_id.partition(":")
    if kind not in BUILDERS:
        raise ValueError(f"cannot build {model_id!r}: known sources are {sorted(BUILDERS)}")
    with torch.device("meta"):
        return BUILDERS[kind](name)
