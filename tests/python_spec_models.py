"""Models defined in "the user's own code", for `python:tests.python_spec_models:FUNCTION` specs in the tests: the
same networks the built-in loaders build, returned as the `python:` contract says (`engine.models.load_python`)."""

from __future__ import annotations

import functools

import torch

TIMM_ARCH = "test_resnet"  # timm's tiny ImageNet classifier, built offline in milliseconds


def tiny_resnet() -> dict:
    """timm's test_resnet with seeded random weights and its eval transform, as `timm:test_resnet` preprocesses."""
    import timm
    from timm.data import create_transform, resolve_data_config

    torch.manual_seed(0)
    network = timm.create_model(TIMM_ARCH, pretrained=False)
    with torch.device("cpu"):  # timm's transform holds mean/std tensors
        preprocess = create_transform(**resolve_data_config({}, model=network))
    return {"network": network, "preprocess": preprocess}


def tiny_clip() -> dict:
    """The tests' tiny open_clip architecture (registered by the `tiny_clip` fixture) as a CLIP-family model."""
    import open_clip

    from tests.conftest import TINY_CLIP

    network, _, preprocess = open_clip.create_model_and_transforms(TINY_CLIP)
    return {"network": network, "preprocess": preprocess, "family": "CLIP", "tokenizer": TINY_CLIP}


def twelve_classes() -> dict:
    """A classifier over 12 classes, not ImageNet's 1,000."""
    from torchvision import transforms as T

    network = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 12))
    preprocess = T.Compose([T.Resize(32), T.CenterCrop(32), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])
    return {"network": network, "preprocess": preprocess}


def only_a_network() -> torch.nn.Module:
    """The network alone, not the dict the contract asks for."""
    return torch.nn.Linear(3, 1000)


def no_preprocessing() -> dict:
    return {"network": torch.nn.Linear(3, 1000), "preprocess": "resize to 224"}


def broken() -> dict:
    raise RuntimeError("the weights server is down")


@functools.cache
def cached_resnet() -> dict:
    """tiny_resnet behind a decorator: the run must still name this file, not functools'."""
    return tiny_resnet()
