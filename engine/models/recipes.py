"""A model's preprocessing as a recipe: the PIL steps decoded once into the image cache, and the normalization done
on the device. Built from the eval transform a model's weights come with."""

from __future__ import annotations

import inspect
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


def _describe_step(step: object) -> str:
    """A step's part of a recipe key: two steps that may produce other pixels must never share one (the image cache
    and the run's identity are keyed by it)."""
    if inspect.isfunction(step):  # open_clip's _convert_to_rgb reprs with its address: name it, so keys are stable
        return f"{step.__module__}.{step.__qualname__}"
    if isinstance(step, T.Lambda):  # reprs as "Lambda()" whatever it does: name its function and digest its code
        code = getattr(step.lambd, "__code__", None)
        body = digest([code.co_code.hex(), repr(code.co_consts), code.co_names]) if code else ""
        return f"Lambda({_describe_step(step.lambd)} {body})"
    if type(step).__module__.startswith("torchvision."):
        return repr(step)  # torchvision's other reprs name every parameter
    # Other libraries' reprs can leave parameters out (open_clip's and timm's CenterCropOrPad omit their fill colours,
    # which differ, and name no library): add the step's module and own attributes.
    attributes = {k: v for k, v in vars(step).items() if not k.startswith("_") and k != "training"}
    listed = ", ".join(f"{k}={v!r}" for k, v in sorted(attributes.items()))
    return f"{type(step).__module__}.{step!r} {{{listed}}}"


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
