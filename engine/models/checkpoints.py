"""Reading weight files safely and fitting them to an architecture.

Nothing here unpickles anything but tensors: `.safetensors` files are read with safetensors, and every other file
with `torch.load(weights_only=True)`, which refuses pickles that would construct arbitrary objects or run code.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.config import WEIGHT_SUFFIXES
from engine.errors import UserError
from engine.files import sha256_file

_WRAPPER_KEYS = ("state_dict", "model", "module")  # how training scripts (open_clip, timm, Lightning) nest weights


class CheckpointError(UserError):
    """A weight file cannot be used; the message says why in plain words."""


def read_state_dict(path: Path, shapes_only: bool = False) -> dict[str, torch.Tensor]:
    """Tensors of a weight file: a bare state dict, or one wrapped under `state_dict` (open_clip's and timm's
    training checkpoints), with DistributedDataParallel's `module.` prefixes removed.

    Args:
        shapes_only: read names and shapes, not values (meta tensors, or memory-mapped ones): checking that a
            1.7 GB checkpoint fits an architecture then takes a moment, not the time and memory to load it.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder: give the weight file in it ({', '.join(WEIGHT_SUFFIXES)}).")
    if not path.is_file():
        raise CheckpointError(f"Weight file {path} does not exist.")
    safetensors = path.suffix == ".safetensors"
    raw = _read_safetensors(path, shapes_only) if safetensors else _read_torch(path, mmap=shapes_only)
    for key in _WRAPPER_KEYS:
        if isinstance(raw, dict) and isinstance(raw.get(key), dict):
            raw = raw[key]
            break
    tensors = {k: v for k, v in raw.items() if isinstance(v, torch.Tensor)} if isinstance(raw, dict) else {}
    if not tensors:
        raise CheckpointError(f"{path.name} holds no tensors: it is not a model's weights (state dict).")
    return {_strip_prefix(k): v for k, v in tensors.items()}


def _strip_prefix(key: str) -> str:
    return key.removeprefix("module.")


def _read_safetensors(path: Path, shapes_only: bool) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        if not shapes_only:
            return load_file(str(path), device="cpu")
        with safe_open(str(path), framework="pt") as f:
            return {k: torch.empty(f.get_slice(k).get_shape(), device="meta") for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path.name} is not a readable safetensors file ({error}); is it truncated?") from error


_SAVE_WEIGHTS = "Save only the weights (`torch.save(model.state_dict(), ...)` or safetensors) and try again."


def _read_torch(path: Path, mmap: bool = False) -> object:
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError as error:
            if not (mmap and "mmap can only be used" in str(error)):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)  # the legacy format cannot be mapped
    except Exception as error:
        text = str(error)
        if "Weights only load failed" in text and "global" in text.lower():
            raise CheckpointError(
                f"{path.name} was refused: besides tensors it contains Python objects that would run code when "
                f"loaded. {_SAVE_WEIGHTS}"
            ) from error
        if "Weights only load failed" in text:
            raise CheckpointError(
                f"{path.name} was refused: it is not a PyTorch weight file that can be read without running code "
                f"(random bytes, a damaged file, or a pickle of Python objects). {_SAVE_WEIGHTS}"
            ) from error
        raise CheckpointError(
            f"{path.name} is not a readable PyTorch weight file ({type(error).__name__}: {text.splitlines()[0]}); "
            "is it truncated or not a checkpoint?"
        ) from error


def fit_report(model: torch.nn.Module, state_dict: dict[str, torch.Tensor]) -> str:
    """Empty if the weights fit the architecture exactly; else a plain description of what does not fit."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = [
        f"{k} (checkpoint {tuple(state_dict[k].shape)}, model {tuple(expected[k].shape)})"
        for k in sorted(set(expected) & set(state_dict))
        if state_dict[k].shape != expected[k].shape
    ]
    if not (missing or unexpected or mismatched):
        return ""
    problems = [_in_plain_words(len(expected), len(state_dict), len(missing), len(unexpected), len(mismatched))]
    problems += [
        f"{len(keys)} {what}: {_preview(keys)}"
        for what, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("keys with other shapes", mismatched),
        )
        if keys
    ]
    return "; ".join(problems)


def _in_plain_words(expected: int, given: int, missing: int, unexpected: int, mismatched: int) -> str:
    if missing == expected:
        return "none of its tensor names is one the architecture uses: these are another architecture's weights"
    if mismatched and not (missing or unexpected):
        return "the names match but some shapes differ: another size or variant of this architecture"
    if missing and not (unexpected or mismatched):
        return f"{missing} of the architecture's {expected} tensors are not in the file: it is incomplete"
    return f"it does not match the architecture ({given} tensors in the file, {expected} expected)"


def _preview(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_weights(model: torch.nn.Module, path: Path, architecture: str) -> str:
    """Load a weight file into `model` (strictly) and return the file's SHA-256.

    Raises:
        CheckpointError: unreadable or unsafe file, or weights that do not fit `architecture`.
    """
    state_dict = read_state_dict(path)
    if problems := fit_report(model, state_dict):
        raise CheckpointError(f"{Path(path).name} does not fit the {architecture} architecture: {problems}.")
    model.load_state_dict(state_dict, strict=True)
    return sha256_file(path)
