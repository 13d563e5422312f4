"""Models: one loader per library (open_clip, timm, torchvision), safe checkpoint reading, preprocessing recipes.
Imports torch; only the CLI and the inference layer import it."""

from engine.models.checkpoints import CheckpointError
from engine.models.loaded import LoadedModel
from engine.models.loading import (
    LOADERS,
    architecture,
    check_local_weights,
    check_weights,
    load_model,
    model_recipe,
)
from engine.zoo.specs import ModelError, Spec, parse_spec

__all__ = [
    "LOADERS",
    "CheckpointError",
    "LoadedModel",
    "ModelError",
    "Spec",
    "architecture",
    "check_local_weights",
    "check_weights",
    "load_model",
    "model_recipe",
    "parse_spec",
]
