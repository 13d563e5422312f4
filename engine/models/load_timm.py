"""timm models: pretrained weights by name (from the Hugging Face hub), or local weight files."""

from __future__ import annotations

from pathlib import Path

import torch

from engine.files import sha256_file
from engine.models.checkpoints import load_weights
from engine.models.loaded import RANDOM_INIT, LoadedModel, fetch_error, require_imagenet_head
from engine.models.recipes import recipe_from_compose
from engine.zoo.specs import ModelError, Spec


def load_timm(spec: Spec, random_weights: bool) -> LoadedModel:
    import timm
    from timm.data import create_transform, resolve_data_config

    arch, _, tag = spec.name.partition(".")
    if arch not in timm.list_models():
        raise ModelError(f"timm has no model {arch!r}; `timm.list_models()` lists them.")
    if tag and not spec.file and spec.name not in timm.list_pretrained(arch):
        known = ", ".join(timm.list_pretrained(arch)) or "none"
        raise ModelError(f"timm has no pretrained weights {spec.name!r}; known: {known}.")
    if random_weights or spec.file:
        model = timm.create_model(spec.name, pretrained=False)
        checkpoint = RANDOM_INIT if random_weights else {"source": str(spec.file)}
        if not random_weights:
            checkpoint["sha256"] = load_weights(model, spec.file, spec.name)
    else:
        try:
            model = timm.create_model(spec.name, pretrained=True)
        except Exception as error:
            raise fetch_error(spec, error) from error
        source = model.pretrained_cfg.get("hf_hub_id") or model.pretrained_cfg.get("url") or spec.name
        checkpoint = {"source": f"timm {source}", "sha256": _hub_file_sha256(model.pretrained_cfg)}
    require_imagenet_head(spec, model.num_classes)
    with torch.device("cpu"):  # timm makes mean/std tensors: real ones, even when the model is built on meta
        recipe = recipe_from_compose(create_transform(**resolve_data_config({}, model=model)))
    return LoadedModel(spec, "ImageNet", model, recipe, checkpoint)


def _hub_file_sha256(config: dict) -> str | None:
    """SHA-256 of the weight file timm fetched from the Hugging Face hub, found in the hub's local cache."""
    from huggingface_hub import try_to_load_from_cache

    repo = config.get("hf_hub_id")
    names = [config.get("hf_hub_filename"), "model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"]
    for name in filter(None, names) if repo else ():
        path = try_to_load_from_cache(repo, name)
        if isinstance(path, str):
            return sha256_file(Path(path))
    return None
