"""`python:MODULE:FUNCTION[@CHECKPOINT]`: a network defined in the user's own code, evaluated like a built-in model
(decode-once image cache, both setups, bf16 on CUDA, content-keyed runs). Terminal only: the dashboard never runs
user code.

MODULE is a dotted module importable from sys.path or the current folder (`mypackage.models`), or the path of a .py
file (`./net.py`; its folder goes on sys.path, so it imports its neighbours as it would as a script). FUNCTION takes
no arguments and returns a dict:

    "network"     a torch.nn.Module. ImageNet family: (B, 3, H, W) normalized images -> (B, 1000) logits over the
                  ImageNet-1K classes in index order. CLIP family: `encode_image(images)` -> (B, D),
                  `encode_text(tokens)` -> (T, D), and `logit_scale` (the log of the softmax temperature), as
                  open_clip's models have.
    "preprocess"  the eval transform: a torchvision `transforms.Compose` of PIL steps (resize, crop), ToTensor and
                  Normalize, e.g. timm's `create_transform(...)` or open_clip's `preprocess`. The PIL steps are
                  decoded once into the image cache; the normalization runs on the device.
    "family"      "ImageNet" (the default) or "CLIP".
    "tokenizer"   CLIP only: the open_clip model name whose tokenizer turns the class prompts into `encode_text`'s
                  tokens (`open_clip.get_tokenizer(name)`; "ViT-B-32" is OpenAI's BPE, 77 tokens).

With @CHECKPOINT the engine loads that weight file into the network, safely (tensors only; every name and shape must
fit). Without it the network keeps the weights FUNCTION gave it. A run's identity holds the SHA-256 of the file that
defines FUNCTION and of the weights (the checkpoint file, or else the network's state dict), so editing that file or
the weights makes a new run; code it imports from elsewhere is not hashed (evaluate with --force after changing it).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

import torch
from torchvision import transforms as T

from engine.files import digest, sha256_file
from engine.models.checkpoints import load_weights
from engine.models.loaded import IMAGENET_CLASSES, RANDOM_INIT, LoadedModel
from engine.models.recipes import Recipe, recipe_from_compose
from engine.zoo.specs import ModelError, Spec, is_module_path

FAMILIES = ("ImageNet", "CLIP")
KEYS = ("network", "preprocess", "family", "tokenizer")
CLIP_PARTS = ("encode_image", "encode_text", "logit_scale")  # what the CLIP scorer and text head call
CONTRACT = (
    'Return {"network": nn.Module, "preprocess": transforms.Compose, "family": "ImageNet" or "CLIP", and for CLIP '
    '"tokenizer": an open_clip model name} (README, "Your own model code").'
)


def load_python(spec: Spec, random_weights: bool) -> LoadedModel:
    """Import MODULE, call FUNCTION, check what it returns against the contract, and load @CHECKPOINT into it."""
    module_name, function_name = spec.entry_point
    module = _import(spec, module_name)
    function = getattr(module, function_name, None)
    if not callable(function):
        found = ", ".join(n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_"))
        raise ModelError(f"{spec.text}: module {module_name} has no function {function_name!r} (it has: {found}).")
    network, preprocess, family, tokenizer = _parts(spec, _call(spec, function, random_weights))
    recipe = recipe_from_compose(preprocess)
    if family == "ImageNet":
        _check_logits(spec, network, recipe)
    files = _code_files(function, module)
    checkpoint = _weights(spec, network, random_weights)
    # The code's hash goes where an open_clip folder's architecture file goes: into the run's identity.
    checkpoint |= {"code": [str(f) for f in files], "config_sha256": digest([sha256_file(f) for f in files])}
    return LoadedModel(spec, family, network, recipe, checkpoint, text_config=tokenizer)


def _code_files(function: object, module: ModuleType) -> list[Path]:
    """The files whose code builds the network: the one defining FUNCTION (through decorators such as
    @torch.no_grad() or @functools.cache, which would otherwise name their own file) and MODULE's own."""
    try:
        defining = inspect.getsourcefile(inspect.unwrap(function))
    except TypeError:  # a callable object without source (a builtin, a C extension)
        defining = None
    return sorted({Path(f).resolve() for f in (defining, getattr(module, "__file__", None)) if f})


def _import(spec: Spec, module: str) -> ModuleType:
    if is_module_path(module):
        return _import_file(spec, Path(module).expanduser())
    if os.getcwd() not in sys.path:  # the console script's sys.path starts at its own folder, not the current one
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name and (module == error.name or module.startswith(f"{error.name}.")):
            raise ModelError(
                f"{spec.text}: no module {module!r} in the current folder ({os.getcwd()}) or on sys.path. Run from "
                f"the folder that holds it, install its package, or give the file: python:./path/to/file.py:FUNCTION."
            ) from error
        raise _code_error(spec, f"importing {module}", error) from error
    except Exception as error:  # the user's module failed while importing: say where
        raise _code_error(spec, f"importing {module}", error) from error


def _import_file(spec: Spec, path: Path) -> ModuleType:
    if not path.is_file():
        raise ModelError(f"{spec.text}: {path.absolute()} is not a file; give a .py file's path, or a module name.")
    name = f"_counteranimal_{path.stem}_{digest(str(path.resolve()))[:8]}"  # unique: two folders may hold a net.py
    if name in sys.modules:
        return sys.modules[name]
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise _code_error(spec, f"importing {path}", error) from error
    return module


def _call(spec: Spec, function: Callable[[], object], random_weights: bool) -> object:
    try:
        return function()
    except Exception as error:
        # A recipe asked for on the meta device (no memory): code that computes on its tensors, or reads weights,
        # cannot run there. Build it on the CPU instead.
        if random_weights and torch.get_default_device().type == "meta":
            with torch.device("cpu"):
                return _call(spec, function, random_weights=False)
        raise _code_error(spec, f"{function.__name__}()", error) from error


def _code_error(spec: Spec, what: str, error: Exception) -> ModelError:
    """The user's code failed: what, where (the innermost frame) and why, in one line."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    reason = str(error).splitlines()[0][:300] if str(error) else ""
    return ModelError(f"{spec.text}: {what} raised {type(error).__name__}{where}: {reason}")


def _parts(spec: Spec, built: object) -> tuple[torch.nn.Module, T.Compose, str, str | None]:
    """The network, preprocessing, family and tokenizer FUNCTION returned, or every way they break the contract."""
    function = spec.entry_point[1]
    if not isinstance(built, Mapping):
        raise ModelError(f"{spec.text}: {function}() returned {type(built).__name__}, not a dict. {CONTRACT}")
    network, preprocess = built.get("network"), built.get("preprocess")
    family, tokenizer = built.get("family", "ImageNet"), built.get("tokenizer")
    problems = [f"unknown keys {sorted(unknown)}" for unknown in [set(built) - set(KEYS)] if unknown]
    if not isinstance(network, torch.nn.Module):
        problems.append(f'"network" is {type(network).__name__}, not a torch.nn.Module')
    if not isinstance(preprocess, T.Compose):
        problems.append(f'"preprocess" is {type(preprocess).__name__}, not a torchvision transforms.Compose')
    if family not in FAMILIES:
        problems.append(f'"family" is {family!r}, not one of {", ".join(FAMILIES)}')
    elif family == "CLIP":
        if missing := [part for part in CLIP_PARTS if not hasattr(network, part)]:
            problems.append(f"the CLIP network has no {', '.join(missing)}")
        if not isinstance(tokenizer, str):
            problems.append('a CLIP model needs "tokenizer": the open_clip name of its tokenizer, e.g. "ViT-B-32"')
    if problems:
        raise ModelError(f"{spec.text}: {function}() returned a dict with {'; '.join(problems)}. {CONTRACT}")
    return network, preprocess, family, tokenizer if family == "CLIP" else None


def _check_logits(spec: Spec, network: torch.nn.Module, recipe: Recipe) -> None:
    """An ImageNet classifier must map a photo to 1,000 logits: one forward pass on a blank photo says so (skipped
    on the meta device, where only the recipe is wanted)."""
    parameter = next(network.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    if device.type == "meta":
        return
    height, width = recipe.output_size()
    network.eval()
    try:
        with torch.no_grad():
            out = network(torch.zeros(1, 3, height, width, device=device))  # (1, 1000) logits expected
    except Exception as error:
        raise _code_error(spec, f"the network's forward pass on a {height}x{width} photo", error) from error
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if shape != (1, IMAGENET_CLASSES):
        raise ModelError(
            f"{spec.text}: the network maps one {height}x{width} photo to {shape}; an ImageNet classifier gives "
            f'(1, {IMAGENET_CLASSES}) logits over the ImageNet-1K classes (a CLIP model says "family": "CLIP").'
        )


def _weights(spec: Spec, network: torch.nn.Module, random_weights: bool) -> dict:
    """Where the weights came from and their SHA-256: the checkpoint file's, or else the state dict's."""
    if random_weights:
        return dict(RANDOM_INIT)
    if spec.file:
        return {"source": str(spec.file), "sha256": load_weights(network, spec.file, spec.name)}
    return {"source": f"python {spec.name}", "sha256": state_dict_sha256(network), "sha256_of": "state dict"}


def state_dict_sha256(network: torch.nn.Module) -> str:
    """SHA-256 of a network's tensors (names, dtypes, shapes and bytes): equal weights, equal hash."""
    hasher = hashlib.sha256()
    for name, tensor in sorted(network.state_dict().items()):
        hasher.update(f"{name}\t{tensor.dtype}\t{tuple(tensor.shape)}\n".encode())
        hasher.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return hasher.hexdigest()
