"""Device choice and numeric precision: bf16 autocast on CUDA for speed, fp32 on CPU."""

from __future__ import annotations

import torch

from engine.errors import UserError


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" picks CUDA when there is a GPU, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but PyTorch sees no CUDA device; use --device cpu")
    return torch.device(name)


def autocast(device: torch.device) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def precision(device: torch.device) -> str:
    """What `autocast` does on this device, as recorded in run provenance."""
    return "bf16-autocast" if device.type == "cuda" else "fp32"
