"""Evaluation on a Ray cluster (many GPUs, many nodes) with the same runs as on one machine: workers compute, the driver
writes each run with the one atomic writer. May import torch and ray (ray lazily: the engine works without it)."""

from importlib import import_module

# Exported lazily: the progress actor's process imports this package, and should not pay for torch.
_EXPORTS = {
    "ClusterOutcome": "engine.distributed.driver",
    "ClusterRequest": "engine.distributed.driver",
    "evaluate_on_cluster": "engine.distributed.driver",
    "RayMissing": "engine.distributed.cluster",
    "connect": "engine.distributed.cluster",
    "import_ray": "engine.distributed.cluster",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine.distributed' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
