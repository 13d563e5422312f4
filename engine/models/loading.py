"""Loading a model spec: one small loader function per model source, behind one interface. Each returns a
`LoadedModel`: a network mapping a batch of images to scores over the 1,000 ImageNet classes, plus the preprocessing
recipe that comes with its weights. The spec grammar is `engine.zoo.specs`."""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.models.checkpoints import CheckpointError, fit_report, read_state_dict
from engine.models.load_minigpt4 import load_minigpt4
from engine.models.load_open_clip import load_open_clip, open_clip_weights
from engine.models.load_python import load_python
from engine.models.load_timm import load_timm
from engine.models.load_torchvision import load_torchvision
from engine.models.load_transformers import load_transformers, weight_files
from engine.models.loaded import LoadedModel
from engine.models.recipes import Recipe
from engine.zoo.catalog import VLM_SOURCES
from engine.zoo.specs import ModelError, Spec, parse_spec

# One loader per source of `engine.zoo.catalog.SOURCES`: (spec, random_weights) -> a model on the current device.
# Vision-language loaders also take the dtype to load in: 7B parameters in bf16 on a GPU, never fp32 first.
LOADERS: dict[str, Callable[..., LoadedModel]] = {
    "open_clip": load_open_clip,
    "torchvision": load_torchvision,
    "timm": load_timm,
    "hf": load_transformers,
    "minigpt4": load_minigpt4,
    "python": load_python,
}


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
    if spec.kind in VLM_SOURCES:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32  # losses are taken in fp32 either way
        loaded = LOADERS[spec.kind](spec, random_weights, dtype)
    else:
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


def model_recipe(text: str) -> Recipe | None:
    """A spec's preprocessing recipe without its weights, so image caches can be prepared before models load (None:
    a vision-language model whose processor sizes each photo itself)."""
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
    if spec.file is None and spec.folder is None:
        raise ModelError(f"{text} names no weight file; give one as ARCH@FILE or open_clip:local-dir:FOLDER.")
    if spec.kind == "hf":
        return _check_folder(text, spec)
    if spec.kind == "minigpt4":
        raise ModelError(
            f"{text}: MiniGPT-4 folders are checked as they load; evaluate them with `counteranimal eval`."
        )
    model = architecture(text)
    path = spec.file or open_clip_weights(spec.folder)
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


def check_local_weights(text: str) -> None:
    """`check_weights` for a spec that names local weights; nothing for one fetched by name, nor for a MiniGPT-4
    folder (both are checked as they load)."""
    spec = parse_spec(text)
    if (spec.file or spec.folder) and spec.kind != "minigpt4":
        check_weights(text)


def _saved_numel(network: torch.nn.Module) -> int:
    """How many numbers save_pretrained writes for a network: its parameters (tied ones once) and its persistent
    buffers (such as position ids), which sit in the state dict too."""
    parameters = dict(network.named_parameters(remove_duplicate=False))
    buffers = sum(t.numel() for name, t in network.state_dict(keep_vars=True).items() if name not in parameters)
    return sum(p.numel() for p in network.parameters()) + buffers


def _check_folder(text: str, spec: Spec) -> dict:
    """A vision-language model folder: its configuration and processor build the architecture on the meta device, and
    the weight files' headers (not their values) must hold exactly as many parameters as that architecture. Names
    are checked when the run loads the weights (transformers renames checkpoint keys between versions)."""
    model = architecture(text)
    files = weight_files(spec.folder)
    if not files:
        raise CheckpointError(f"No weight file (*.safetensors, *.bin) in {spec.folder.resolve()}.")
    state_dict = {}
    for path in files:
        state_dict |= read_state_dict(path, shapes_only=True)
    given = sum(t.numel() for t in state_dict.values())
    expected = _saved_numel(model.network)
    if given != expected:
        raise CheckpointError(
            f"The weights in {spec.folder} hold {given:,} parameters, but its config.json describes a model with "
            f"{expected:,}: they are another model's weights, or some files are missing."
        )
    return {
        "spec": text,
        "family": model.family,
        "file": str(spec.folder),
        "tensors": len(state_dict),
        "parameters": given,
    }
