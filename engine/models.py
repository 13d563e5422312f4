"""Model loaders behind one interface: a network mapping a batch of images to scores over the 1,000 ImageNet
classes, plus the preprocessing recipe that comes with its weights.

Model specs (one string everywhere):
    open_clip:ARCH/TAG          pretrained weights by open_clip tag, e.g. open_clip:ViT-B-32/laion2b_s34b_b79k
    open_clip:ARCH@FILE         local weights for an open_clip architecture
    open_clip:local-dir:DIR     a folder with open_clip_config.json and weights, as open_clip saves for the hub
    torchvision:NAME/WEIGHTS    e.g. torchvision:resnet50/IMAGENET1K_V1;  torchvision:NAME@FILE for local weights
    timm:NAME                   e.g. timm:convnext_base.fb_in1k (pretrained);  timm:NAME@FILE for local weights
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision import transforms as T

from engine.checkpoints import CheckpointError, fit_report, load_weights, read_state_dict, sha256_file
from engine.config import WEIGHT_SUFFIXES
from engine.images import Recipe
from engine.zoo import load_zoo

IMAGENET_CLASSES = 1000


class ModelError(Exception):
    """A model spec cannot be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class Spec:
    """A parsed model spec."""

    text: str
    kind: str  # open_clip | torchvision | timm
    name: str  # architecture, with /TAG or /WEIGHTS for hub weights
    file: Path | None  # local weights (ARCH@FILE)


@dataclass
class LoadedModel:
    """A model ready for inference (eval mode, on its device)."""

    spec: Spec
    family: str  # "CLIP" (zero-shot via text embeddings) or "ImageNet" (its own 1,000 logits)
    network: torch.nn.Module
    recipe: Recipe
    checkpoint: dict  # {"source": where the weights came from, "sha256": hash of the weight file or None}
    text_config: str | None = None  # CLIP only: what `open_clip.get_tokenizer` takes (an arch or local-dir:DIR)


def parse_spec(text: str) -> Spec:
    """Parse a spec, or a zoo entry's paper name (e.g. "CLIP-OpenAI-ViT/B/32") into its id."""
    by_name = {m.name: m for m in load_zoo() if m.role == "main"}
    if text in by_name:
        if not by_name[text].loader:
            raise ModelError(
                f"{text} ({by_name[text].id}) is listed for its published numbers; it cannot be evaluated."
            )
        text = by_name[text].id
    kind, sep, rest = text.partition(":")
    if not sep or kind not in LOADERS or not rest:
        raise ModelError(f"Unknown model spec {text!r}. Use one of: {', '.join(f'{k}:...' for k in LOADERS)}.")
    if kind == "open_clip" and rest.startswith("local-dir:"):
        return Spec(text, kind, rest, None)
    name, at, file = rest.partition("@")
    return Spec(text, kind, name, Path(file).expanduser() if at else None)


RANDOM_INIT = {"source": "random init", "sha256": None}


def load_model(text: str, device: torch.device, random_weights: bool = False) -> LoadedModel:
    """Load a model spec onto `device`, in eval mode.

    Args:
        random_weights: build the architecture with random weights (and the preprocessing its weights come with),
            fetching and reading nothing: for benchmarks, and for recipes on the meta device. Such models have no
            weight identity (`checkpoint` says "random init"), so their runs and text heads are keyed alike.
    Raises:
        ModelError: unknown spec, unknown architecture or weights, or weights that cannot be fetched.
        CheckpointError: a local weight file that is unreadable, unsafe, or does not fit the architecture.
    """
    spec = parse_spec(text)
    loaded = LOADERS[spec.kind](spec, random_weights)
    loaded.network.eval().to(device)
    return loaded


def architecture(text: str) -> LoadedModel:
    """A spec's architecture with random weights and its preprocessing, reading no weights: built on the meta device
    (no memory, milliseconds), or on the CPU for the few architectures whose construction computes on its tensors
    (torchvision's RegNets)."""
    try:
        with torch.device("meta"):
            return load_model(text, torch.device("meta"), random_weights=True)
    except NotImplementedError:  # "Cannot copy out of meta tensor"
        return load_model(text, torch.device("cpu"), random_weights=True)


def model_recipe(text: str) -> Recipe:
    """A spec's preprocessing recipe without its weights, so image caches can be prepared before models load."""
    return architecture(text).recipe


def check_weights(text: str) -> dict:
    """Check, before anything runs, that a spec's local weight file fits its architecture: the architecture is built
    on the meta device and only the file's names and shapes are read, so this takes seconds even for gigabytes.

    Returns:
        {"spec", "family", "file", "tensors", "parameters"} of the checked weights.
    Raises:
        ModelError: a spec without a local weight file, or an unknown architecture.
        CheckpointError: an unreadable or unsafe file, or weights that do not fit, in plain words.
    """
    spec = parse_spec(text)
    if spec.file is None and not spec.name.startswith("local-dir:"):
        raise ModelError(f"{text} names no weight file; give one as ARCH@FILE or open_clip:local-dir:FOLDER.")
    model = architecture(text)
    path = spec.file or _open_clip_weights(Path(spec.name.removeprefix("local-dir:")).expanduser())
    state_dict = read_state_dict(path, shapes_only=True)
    if problems := fit_report(model.network, state_dict):
        raise CheckpointError(f"{path.name} does not fit the {spec.name} architecture: {problems}.")
    parameters = sum(t.numel() for t in state_dict.values())
    return {
        "spec": text,
        "family": model.family,
        "file": str(path),
        "tensors": len(state_dict),
        "parameters": parameters,
    }


def _fetch_error(spec: Spec, error: Exception) -> ModelError:
    return ModelError(
        f"Could not fetch the weights of {spec.text} ({type(error).__name__}: {str(error).splitlines()[0][:200]}). "
        "Without internet, download the weight file on another machine and pass it as "
        f"{spec.kind}:{spec.name.split('/')[0]}@/path/to/weights (see README, 'Real weights')."
    )


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    # open_clip logs "No pretrained weights loaded ... initialized randomly" before we load the user's weights.
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# ---- open_clip ---------------------------------------------------------------------------------------------------


def _describe_step(step: object) -> str:
    # Functions (open_clip's _convert_to_rgb) repr with their address; describe them by name so keys are stable.
    return f"{step.__module__}.{step.__qualname__}" if inspect.isfunction(step) else repr(step)


def recipe_from_compose(compose: T.Compose) -> Recipe:
    """Split an eval transform at its tensor conversion: PIL steps before it, Normalize's mean and std after."""
    steps, mean, std, tensor_seen = [], None, None, False
    for step in compose.transforms:
        tensor_seen = tensor_seen or "ToTensor" in type(step).__name__
        if isinstance(step, T.Normalize):
            mean, std = tuple(float(v) for v in step.mean), tuple(float(v) for v in step.std)
        elif not tensor_seen:
            steps.append(step)
    if mean is None:
        raise ModelError(f"The model's preprocessing has no Normalize step: {compose}")
    key = " | ".join(_describe_step(s) for s in steps)
    converts = any("convert" in _describe_step(s).lower() for s in steps)  # open_clip: RGB after resizing
    return Recipe(steps=T.Compose(steps), key=key, mean=mean, std=std, convert_first=not converts)


def _open_clip_weights(folder: Path) -> Path:
    preferred = [folder / "open_clip_model.safetensors", folder / "open_clip_pytorch_model.bin"]
    found = [p for p in preferred if p.is_file()] or sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES)
    if not found:
        raise CheckpointError(f"No weight file ({', '.join(WEIGHT_SUFFIXES)}) in {folder}.")
    return found[0]


def _load_open_clip(spec: Spec, random_weights: bool) -> LoadedModel:
    import open_clip

    if spec.name.startswith("local-dir:"):
        folder = Path(spec.name.removeprefix("local-dir:")).expanduser()
        if not (folder / "open_clip_config.json").is_file():
            raise ModelError(f"{folder} has no open_clip_config.json; save the model with open_clip's hub format.")
        with _quiet_root_logger():
            model, _, preprocess = open_clip.create_model_and_transforms(
                f"local-dir:{folder}", load_weights=False, device=torch.get_default_device()
            )
        if random_weights:
            checkpoint = RANDOM_INIT
        else:
            weights = _open_clip_weights(folder)
            checkpoint = {"source": str(weights), "sha256": load_weights(model, weights, f"open_clip {folder.name}")}
            checkpoint["config_sha256"] = sha256_file(folder / "open_clip_config.json")
        text_config = f"local-dir:{folder}"
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
    with _quiet_root_logger():
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
        with _quiet_root_logger():
            model, _, preprocess = open_clip.create_model_and_transforms(
                arch, pretrained=tag, force_quick_gelu=_quick_gelu(config)
            )
    except Exception as error:
        raise _fetch_error(spec, error) from error
    return model, preprocess, {"source": f"open_clip {arch}/{tag}", "sha256": sha256_file(path)}


# ---- timm ----------------------------------------------------------------------------------------------------------


def _load_timm(spec: Spec, random_weights: bool) -> LoadedModel:
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
            raise _fetch_error(spec, error) from error
        source = model.pretrained_cfg.get("hf_hub_id") or model.pretrained_cfg.get("url") or spec.name
        checkpoint = {"source": f"timm {source}", "sha256": _hub_file_sha256(model.pretrained_cfg)}
    _require_imagenet_head(spec, model.num_classes)
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


def _require_imagenet_head(spec: Spec, num_classes: int) -> None:
    if num_classes != IMAGENET_CLASSES:
        raise ModelError(f"{spec.text} predicts {num_classes} classes; CounterAnimal needs an ImageNet-1K classifier.")


# ---- torchvision ---------------------------------------------------------------------------------------------------


def _torchvision_recipe(weights: object) -> Recipe:
    preset = weights.transforms()  # torchvision's ImageClassification: resize, center crop, normalize
    steps = T.Compose(
        [
            T.Resize(preset.resize_size, interpolation=preset.interpolation, antialias=preset.antialias),
            T.CenterCrop(preset.crop_size),
        ]
    )
    return recipe_from_compose(T.Compose([*steps.transforms, T.ToTensor(), T.Normalize(preset.mean, preset.std)]))


def _load_torchvision(spec: Spec, random_weights: bool) -> LoadedModel:
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
            raise _fetch_error(spec, error) from error
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        checkpoint = {"source": weights.url, "sha256": sha256_file(path) if path.is_file() else None}
    _require_imagenet_head(spec, len(weights.meta["categories"]))
    return LoadedModel(spec, "ImageNet", model, _torchvision_recipe(weights), checkpoint)


LOADERS: dict[str, Callable[[Spec, bool], LoadedModel]] = {
    "open_clip": _load_open_clip,
    "torchvision": _load_torchvision,
    "timm": _load_timm,
}
