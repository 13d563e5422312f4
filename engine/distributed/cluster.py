"""Connecting to a Ray cluster: `--ray auto|local|ADDRESS`, and the one-line answer when Ray is not installed."""

from __future__ import annotations

import os
import socket
from types import ModuleType

from engine.errors import UserError

INSTALL_RAY = "pip install -e '.[ray]'"
LOCAL = "local"  # a cluster of this machine alone, started for this command and ended with it


class RayMissing(UserError):
    """Ray is needed and not installed."""


class ClusterError(UserError):
    """The cluster cannot be reached or cannot run the evaluation; the message says why."""


def import_ray() -> ModuleType:
    """Ray, imported only when a command asks for a cluster, so everything else works without it."""
    try:
        import ray
    except ModuleNotFoundError as error:
        raise RayMissing(f"--ray needs Ray, which is not installed here: {INSTALL_RAY}") from error
    return ray


def connect(address: str) -> bool:
    """Join the cluster at `address` ("auto": the one `ray start` runs on this machine; "local": start one here;
    `host:port` or `ray://host:10001`). Returns whether this call connected (and so should disconnect); False when
    this process was already connected (a test, a notebook), which is then used as it is."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    _check_listening(address)
    try:
        ray.init(
            address=None if address == LOCAL else address,
            log_to_driver=False,  # workers' own bars and logs would garble the driver's progress bars
            include_dashboard=False,
            runtime_env={"env_vars": _forwarded_env()},
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ClusterError(f"cannot connect to the Ray cluster at {address!r}: {first}") from error
    return True


def _check_listening(address: str, timeout_s: float = 5.0) -> None:
    """Refuse at once a `host:port` where nothing listens: Ray itself keeps retrying it for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local": Ray finds or starts the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise ClusterError(
            f"no Ray cluster answers at {address} ({error.strerror or error}); is `ray start` running there?"
        ) from error


def _forwarded_env() -> dict[str, str]:
    """Settings the workers must share with the driver for their runs to be the driver's (offline hub use)."""
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return {name: os.environ[name] for name in names if name in os.environ}


def disconnect() -> None:
    import_ray().shutdown()


def driver_node_id() -> str:
    return import_ray().get_runtime_context().get_node_id()


def alive_nodes() -> list[dict]:
    return [node for node in import_ray().nodes() if node.get("Alive")]


def cluster_gpus() -> float:
    return float(import_ray().cluster_resources().get("GPU", 0))


def describe(address: str) -> str:
    """Where the cluster's work runs, in words: for the terminal and a job's card."""
    nodes = alive_nodes()
    gpus = sum(node.get("Resources", {}).get("GPU", 0) for node in nodes)
    cpus = sum(node.get("Resources", {}).get("CPU", 0) for node in nodes)
    where = "a local Ray cluster" if address == LOCAL else f"the Ray cluster at {address}"
    return f"{where}: {len(nodes)} node(s), {gpus:g} GPU(s), {cpus:g} CPU(s)"
