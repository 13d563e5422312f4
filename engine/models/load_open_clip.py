"""open_clip models: pretrained tags, local weight files for an architecture, and folders in open_clip's hub format."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision import transforms as T

from engine.config import WEIGHT_SUFFIXES
from engine.files import sha256_file
from engine.models.checkpoints import CheckpointError, load_weights
from engine.models.loaded import RANDOM_INIT, LoadedModel, fetch_error, quiet_root_logger
from engine.models.recipes import recipe_from_compose
from engine.zoo.specs import LOCAL_DIR, ModelError, Spec


def open_clip_weights(folder: Path) -> Path:
    preferred = [folder / "open_clip_model.safetensors", folder / "open_clip_pytorch_model.bin"]
    found = [p for p in preferred if p.is_file()] or sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES)
    if not found:
        raise CheckpointError(f"No weight file ({', '.join(WEIGHT_SUFFIXES)}) in {folder}.")
    return found[0]


def _open_clip_folder(folder: Path) -> tuple[torch.nn.Module, T.Compose]:
    """The architecture an open_clip hub-format folder describes (no weights read), and its preprocessing."""
    import open_clip

    if not (folder / "open_clip_config.json").is_file():
        raise ModelError(f"{folder} has no open_clip_config.json; save the model with open_clip's hub format.")
    try:
        with quiet_root_logger():
            model, _, preprocess = open_clip.create_model_and_transforms(
                f"{LOCAL_DIR}{folder}", load_weights=False, device=torch.get_default_device()
            )
    except (ValueError, KeyError, TypeError, RuntimeError) as error:  # what open_clip raises on a bad config
        raise ModelError(
            f"{folder}/open_clip_config.json does not describe a model open_clip can build: {error}"
        ) from error
    return model, preprocess


def load_open_clip(spec: Spec, random_weights: bool) -> LoadedModel:
    import open_clip

    if folder := spec.folder:
        model, preprocess = _open_clip_folder(folder)
        if random_weights:
            checkpoint = RANDOM_INIT
        else:
            weights = open_clip_weights(folder)
            checkpoint = {"source": str(weights), "sha256": load_weights(model, weights, f"open_clip {folder.name}")}
            checkpoint["config_sha256"] = sha256_file(folder / "open_clip_config.json")
        text_config = f"{LOCAL_DIR}{folder}"
    else:
        arch, _, tag = spec.name.partition("/")
        if arch not in open_clip.list_models():
            raise ModelError(f"open_clip has no architecture {arch!r}; `open_clip.list_models()` lists them.")
        model, preprocess, checkpoint = _open_clip_weights_for(spec, arch, tag, random_weights)
        text_config = arch
    recipe = recipe_from_compose(preprocess)
    return LoadedModel(spec, "CLIP", model, recipe, checkpoint, text_config)


def _open_clip_random(arch: str, config: dict) -> tuple[torch.nn.Module, T.Compose]:
    """The architecture with random weights and the preprocessing of the pretrained weights `config` describes."""
    import open_clip

    overrides = {"mean": "image_mean", "std": "image_std", "interpolation": "image_interpolation"}
    overrides["resize_mode"] = "image_resize_mode"
    kwargs = {arg: config[key] for key, arg in overrides.items() if config.get(key)}
    with quiet_root_logger():
        model, _, preprocess = open_clip.create_model_and_transforms(
            arch, pretrained=None, device=torch.get_default_device(), force_quick_gelu=_quick_gelu(config), **kwargs
        )
    return model, preprocess


def _quick_gelu(config: dict) -> bool:
    # Weights trained with QuickGELU (all OpenAI CLIPs, some LAION-400M ones) must run with it. open_clip only warns
    # when an architecture without it loads them ("QuickGELU mismatch"), and the predictions are then wrong.
    return bool(config.get("quick_gelu", False))


def _open_clip_weights_for(
    spec: Spec, arch: str, tag: str, random_weights: bool
) -> tuple[torch.nn.Module, T.Compose, dict]:
    import open_clip

    if spec.file:
        model, preprocess = _open_clip_random(arch, {})
        checkpoint = RANDOM_INIT if random_weights else {"source": str(spec.file)}
        if not random_weights:
            checkpoint["sha256"] = load_weights(model, spec.file, arch)
        return model, preprocess, checkpoint
    if not tag:
        raise ModelError(f"{spec.text}: give pretrained weights as open_clip:{arch}/TAG or a file as {arch}@FILE.")
    config = open_clip.get_pretrained_cfg(arch, tag)
    if not config:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
        raise ModelError(f"open_clip has no weights {tag!r} for {arch}; known tags: {tags}.")
    if random_weights:
        return (*_open_clip_random(arch, config), RANDOM_INIT)
    try:
        path = open_clip.download_pretrained(config)
        with quiet_root_logger():
            model, _, preprocess = open_clip.create_model_and_transforms(
                arch, pretrained=tag, force_quick_gelu=_quick_gelu(config)
            )
    except Exception as error:
        raise fetch_error(spec, error) from error
    return model, preprocess, {"source": f"open_clip {arch}/{tag}", "sha256": sha256_file(path)}
