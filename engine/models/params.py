"""Parameter counts of the zoo's architectures, measured by building them on the meta device (no memory, no weights).

Used by `scripts/build_models_csv.py` to fill `results/paper/models.csv`; the counts are never typed in by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.models.loading import architecture


@dataclass(frozen=True)
class ParamCount:
    """Parameters of one architecture."""

    backbone: int  # the image encoder: CLIP's visual tower, or the whole ImageNet classifier
    total: int  # everything, CLIP's text tower included


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_parameters(model_id: str) -> ParamCount:
    """Count the parameters of a model id, e.g. `open_clip:ViT-B-32/openai` or `torchvision:resnet50/IMAGENET1K_V1`,
    built by its loader with random weights."""
    model = architecture(model_id)
    backbone = model.network.visual if model.family == "CLIP" else model.network
    return ParamCount(backbone=_count(backbone), total=_count(model.network))
