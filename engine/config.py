"""Where things live: the results folder and the published numbers that ship with the project."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

RESULTS_ENV = "COUNTERANIMAL_RESULTS"  # the results folder (evaluation runs); default ./results
PAPER_ENV = "COUNTERANIMAL_PAPER_DIR"  # another copy of the published tables, e.g. a newer transcription
CACHE_ENV = "COUNTERANIMAL_CACHE"  # decoded images, text embeddings, thumbnails; default ~/.cache/counteranimal
_PACKAGE_DIR = Path(__file__).resolve().parent


def results_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The results folder: an explicit `--results DIR`, else `$COUNTERANIMAL_RESULTS`, else `./results`."""
    return Path(explicit or os.environ.get(RESULTS_ENV) or "results")


def paper_dir() -> Path:
    """The published numbers. They come with the installed project, wherever the results folder is.

    A wheel carries them as `engine/paper_data/`; a source checkout (editable install) has them in `results/paper/`.
    """
    if override := os.environ.get(PAPER_ENV):
        return Path(override)
    packaged = _PACKAGE_DIR / "paper_data"
    return packaged if packaged.is_dir() else _PACKAGE_DIR.parent / "results" / "paper"


def cache_root(explicit: str | os.PathLike | None = None) -> Path:
    """The cache folder: an explicit `--cache DIR`, else `$COUNTERANIMAL_CACHE`, else `~/.cache/counteranimal`."""
    return Path(explicit or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "counteranimal")


DATA_ENV = "COUNTERANIMAL_DATA"  # the dataset the dashboard evaluates on by default; default ./data
ROOTS_ENV = "COUNTERANIMAL_ALLOWED_ROOTS"  # folders the dashboard may read weights and datasets from (os.pathsep)
WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")


def data_dir() -> Path:
    """The default dataset folder: `$COUNTERANIMAL_DATA`, else `./data` (where `counteranimal download` puts it)."""
    return Path(os.environ.get(DATA_ENV) or "data")


def allowed_roots(results: Path) -> list[Path]:
    """Folders whose files a browser may name as weights or dataset: `$COUNTERANIMAL_ALLOWED_ROOTS`, else `./weights`;
    and always the default dataset folder and the results folder (where uploads are stored)."""
    configured = os.environ.get(ROOTS_ENV)
    roots = [Path(p) for p in configured.split(os.pathsep) if p] if configured else [Path("weights")]
    return [root.expanduser().resolve() for root in [*roots, data_dir(), Path(results)]]


# A shared dashboard is one others can reach: `serve` sets SHARED_ENV to "1" when it listens beyond the loopback address
# (or was already told so: a loopback server behind a reverse proxy), else "0". On a shared dashboard the Evaluate page
# (uploads, server paths, GPU jobs) is off unless EVALUATE_TOKEN_ENV holds a secret, which a visitor must then enter.
SHARED_ENV = "COUNTERANIMAL_SHARED"
# Set by `counteranimal serve` for the dashboard it starts: a served dashboard prepares what its pages will need (the
# Evaluate page's architecture lists) in the background; a test's AppTest session does not.
SERVED_ENV = "COUNTERANIMAL_SERVED"
EVALUATE_TOKEN_ENV = "COUNTERANIMAL_EVALUATE_TOKEN"


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is reachable from this machine only: 127.0.0.0/8, ::1 or localhost. Anything
    else is not: 0.0.0.0, a network address, a host name, or "" (Streamlit then listens on every interface)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def marked_shared() -> bool:
    """Whether `$COUNTERANIMAL_SHARED` marks the dashboard as shared ("1", "true" or "yes")."""
    return os.environ.get(SHARED_ENV, "").strip().lower() in ("1", "true", "yes")


def evaluate_token() -> str:
    """The secret that unlocks the Evaluate page of a shared dashboard: `$COUNTERANIMAL_EVALUATE_TOKEN`, "" if unset."""
    return os.environ.get(EVALUATE_TOKEN_ENV, "").strip()


RAY_ADDRESS_ENV = "COUNTERANIMAL_RAY_ADDRESS"  # a Ray cluster to evaluate on ("auto", "local", host:port, ray://...)


def ray_address(explicit: str | None = None) -> str | None:
    """Where evaluations run: an explicit `--ray ADDRESS`, else `$COUNTERANIMAL_RAY_ADDRESS`, else None (this process,
    no cluster)."""
    return explicit or os.environ.get(RAY_ADDRESS_ENV, "").strip() or None
