"""How much of the cluster each model's task asks for: a fraction of a GPU for small models (several share one), one
GPU, or a whole node for a model whose weights and activations need more than one GPU's memory."""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.distributed.cluster import ClusterError

DEFAULT_GPU_BYTES = 80e9  # a GPU's memory when the driver has none to measure (an H100's)
ACTIVATION_BYTES = 6e9  # a batch of 1,024 photos through a ViT-L/14 in bf16, with room to spare
FRACTIONS = (0.25, 0.5, 1.0)  # GPU shares a model may get: at most four models share one GPU


@dataclass(frozen=True)
class Placement:
    num_cpus: float  # for scheduling only; the task decodes with its own processes
    num_gpus: float


@dataclass(frozen=True)
class Nodes:
    """What the cluster's nodes offer, as far as placing a task goes."""

    gpus: float  # in the whole cluster
    gpus_per_node: float  # the largest node's
    cpus_per_node: float  # the largest node's


def placement(spec: str, nodes: Nodes, threads: int, gpus_per_model: float | None = None) -> Placement:
    """The resources of one task of `spec`. Without GPUs, the CPUs its `threads` use (the driver's torch threads, for
    the same runs as the driver's; at most a node's)."""
    if nodes.gpus == 0:
        return Placement(max(1, min(threads, nodes.cpus_per_node)), 0)
    gpus_per_node = nodes.gpus_per_node
    if gpus_per_model:
        return Placement(1, gpus_per_model)
    need, gpu = memory_needed(spec), gpu_bytes()
    share = next((f for f in FRACTIONS if need <= f * gpu), None)
    if share is not None:
        return Placement(1, share)
    if math.ceil(need / gpu) > gpus_per_node:
        raise ClusterError(f"{spec} needs about {need / 1e9:.0f} GB, more than one node's {gpus_per_node:g} GPUs hold")
    return Placement(1, gpus_per_node)  # the node's GPUs, with nothing packed next to the model


def memory_needed(spec: str) -> float:
    """Bytes on the GPU: bf16 weights and a fifth more, plus a batch's activations (the architecture is built on the
    meta device: no weights are read)."""
    from engine.models import architecture

    parameters = sum(p.numel() for p in architecture(spec).network.parameters())
    return parameters * 2 * 1.2 + ACTIVATION_BYTES


def gpu_bytes() -> float:
    import torch

    return torch.cuda.get_device_properties(0).total_memory if torch.cuda.is_available() else DEFAULT_GPU_BYTES
