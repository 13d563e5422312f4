"""A model's preprocessing as a recipe: the PIL steps decoded once into the image cache, and the normalization done
on the device. Built from the eval transform a model's weights come with."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from torchvision import transforms as T

from engine.files import digest
from engine.zoo.specs import ModelError


@dataclass(frozen=True)
class Recipe:
    """A model's preprocessing: PIL steps (resize, crop) applied once into the cache, then normalization on device."""

    steps: Callable[[Image.Image], Image.Image]  # PIL image -> PIL image of the model's input size
    key: str  # describes the steps exactly; equal keys give equal pixels
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    # Where the conversion to RGB happens, as the model's own pipeline does it: open_clip converts after resizing
    # (its steps end with a conversion), timm's and torchvision's loaders convert on opening.
    convert_first: bool = True

    def output_size(self) -> tuple[int, int]:
        """(height, width) the steps produce, probed on a blank landscape image."""
        width, height = self.steps(Image.new("RGB", (640, 480))).size
        return height, width

    def apply(self, image: Image.Image) -> np.ndarray:
        """(H, W, 3) uint8 pixels of a decoded photo."""
        if self.convert_first:
            image = image.convert("RGB")
        return np.asarray(self.steps(image).convert("RGB"), dtype=np.uint8)


ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # a default repr's memory address: another in every process


def _plain(step: object) -> str:
    """A step as its repr says it (a function by its name: its repr holds its address)."""
    if inspect.isfunction(step):
        return f"{step.__module__}.{step.__qualname__}"
    return ADDRESS.sub("", repr(step))


def _describe_step(step: object) -> str:
    """A step's part of a recipe key: two steps that may produce other pixels never share one (the image cache and
    the run's identity are keyed by it), and a step's key is the same in every process. A step whose repr shows every
    setting keeps that repr, so the usual models' keys (and run ids) do not change."""
    if isinstance(step, T.Lambda):  # reprs as "Lambda()" whatever it does: name its function and digest its code
        function = step.lambd
        body = f" {_function_digest(function)}" if inspect.isfunction(function) else ""
        return f"Lambda({_describe_step(function)}{body})"
    plain = _plain(step)
    if inspect.isfunction(step) or type(step).__module__.startswith("torchvision."):
        return plain  # torchvision's other reprs name every setting
    # Other libraries' reprs can leave settings out (timm's CenterCropOrPad omits its fill colour): add those that
    # neither the repr shows nor the class's defaults imply.
    hidden = [f"{k}={ADDRESS.sub('', repr(v))}" for k, v in sorted(_settings(step).items())]
    hidden = [text for text in hidden if text not in plain]
    return f"{plain} {{{', '.join(hidden)}}}" if hidden else plain


def _settings(step: object) -> dict[str, object]:
    """A step's public attributes that differ from its constructor's defaults."""
    try:
        defaults = {
            name: p.default
            for name, p in inspect.signature(type(step)).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
    except (TypeError, ValueError):  # a builtin without a signature
        defaults = {}
    attributes = getattr(step, "__dict__", {})
    return {
        k: v
        for k, v in attributes.items()
        if not k.startswith("_") and k != "training" and not (k in defaults and _same(v, defaults[k]))
    }


def _same(value: object, default: object) -> bool:
    try:
        return bool(value == default)
    except Exception:  # an array's comparison, say: not a plain default
        return False


def _function_digest(function) -> str:
    """What a Python function computes, the same in every process: its code (nested code by its own digest, sets in
    order), default arguments and the values it closes over."""
    cells = [ADDRESS.sub("", repr(cell.cell_contents)) for cell in function.__closure__ or ()]
    defaults = ADDRESS.sub("", repr((function.__defaults__, function.__kwdefaults__)))
    return digest([_code_digest(function.__code__), defaults, cells])


def _code_digest(code) -> str:
    constants = [
        _code_digest(c) if inspect.iscode(c) else sorted(map(repr, c)) if isinstance(c, frozenset) else repr(c)
        for c in code.co_consts
    ]
    return digest([code.co_code.hex(), list(code.co_names), constants])


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
    converts = any("convert" in _plain(s).lower() for s in steps)  # open_clip: RGB after resizing
    return Recipe(steps=T.Compose(steps), key=key, mean=mean, std=std, convert_first=not converts)
