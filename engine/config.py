"""Where things live: the results folder and the published numbers that ship with the project."""

from __future__ import annotations

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
