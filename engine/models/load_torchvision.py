"""torchvision models: weights by enum name (e.g. IMAGENET1K_V1, fetched by torch.hub), or local weight files."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision import transforms as T

from engine.files import sha256_file
from engine.models.checkpoints import load_weights
from engine.models.loaded import RANDOM_INIT, LoadedModel, fetch_error, require_imagenet_head
from engine.models.recipes import Recipe, recipe_from_compose
from engine.zoo.specs import ModelError, Spec


def _torchvision_recipe(weights: object) -> Recipe:
    preset = weights.transforms()  # torchvision's ImageClassification: resize, center crop, normalize
    steps = T.Compose(
        [
            T.Resize(preset.resize_size, interpolation=preset.interpolation, antialias=preset.antialias),
            T.CenterCrop(preset.crop_size),
        ]
    )
    return recipe_from_compose(T.Compose([*steps.transforms, T.ToTensor(), T.Normalize(preset.mean, preset.std)]))


def load_torchvision(spec: Spec, random_weights: bool) -> LoadedModel:
    from torchvision.models import get_model, get_model_weights, list_models

    arch, _, weights_name = spec.name.partition("/")
    if arch not in list_models():
        raise ModelError(f"torchvision has no model {arch!r}; `torchvision.models.list_models()` lists them.")
    available = get_model_weights(arch)
    if spec.file:  # local weights: preprocess as the architecture's default weights do
        weights = available.DEFAULT
    elif weights_name in available.__members__:
        weights = available[weights_name]
    else:
        known = ", ".join(available.__members__)
        raise ModelError(f"torchvision {arch} has no weights {weights_name!r}; known: {known}.")
    if random_weights or spec.file:
        model = get_model(arch, weights=None)
        checkpoint = RANDOM_INIT if random_weights else {"source": str(spec.file)}
        if not random_weights:
            checkpoint["sha256"] = load_weights(model, spec.file, arch)
    else:
        try:
            model = get_model(arch, weights=weights)
        except Exception as error:
            raise fetch_error(spec, error) from error
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        checkpoint = {"source": weights.url, "sha256": sha256_file(path) if path.is_file() else None}
    require_imagenet_head(spec, len(weights.meta["categories"]))
    return LoadedModel(spec, "ImageNet", model, _torchvision_recipe(weights), checkpoint)
