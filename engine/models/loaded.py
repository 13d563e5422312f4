"""What every loader returns (`LoadedModel`), and what the loaders share."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from engine.models.recipes import Recipe
from engine.zoo.specs import ModelError, Spec

if TYPE_CHECKING:
    from engine.models.vlm import VisionLanguageModel

IMAGENET_CLASSES = 1000
RANDOM_INIT = {"source": "random init", "sha256": None}


@dataclass
class LoadedModel:
    """A model ready for inference (eval mode, on its device)."""

    spec: Spec
    family: str  # "CLIP" (zero-shot via text embeddings), "ImageNet" (its own 1,000 logits) or "LVLM" (answer loss)
    network: torch.nn.Module
    recipe: Recipe | None  # None: an LVLM whose processor sizes each photo its own way (no image cache)
    checkpoint: dict  # {"source": where the weights came from, "sha256": hash of the weight file or None}
    text_config: str | None = None  # CLIP only: what `open_clip.get_tokenizer` takes (an arch or local-dir:DIR)
    vlm: VisionLanguageModel | None = None  # LVLM only: prompts, prefix encoding and answer continuation


def fetch_error(spec: Spec, error: Exception) -> ModelError:
    return ModelError(
        f"Could not fetch the weights of {spec.text} ({type(error).__name__}: {str(error).splitlines()[0][:200]}). "
        "Without internet, download the weight file on another machine and pass it as "
        f"{spec.kind}:{spec.architecture}@/path/to/weights (see README, 'Real weights')."
    )


@contextlib.contextmanager
def quiet_root_logger() -> Iterator[None]:
    # open_clip logs "No pretrained weights loaded ... initialized randomly" before we load the user's weights.
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def require_imagenet_head(spec: Spec, num_classes: int) -> None:
    if num_classes != IMAGENET_CLASSES:
        raise ModelError(f"{spec.text} predicts {num_classes} classes; CounterAnimal needs an ImageNet-1K classifier.")
