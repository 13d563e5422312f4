"""What a browser may hand the engine: uploaded weight files, and paths of files on the server.

Uploads are stored under `<results>/uploads/` with sanitized, content-addressed names. Server paths must lie under
the configured allowed roots (`engine.config.allowed_roots`) once every symbolic link is resolved; `job submit`
checks a whole request (`resolve_request`), so no entry point can skip it. Torch-free: the dashboard uses this module
directly.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path
from typing import BinaryIO

from engine.config import ROOTS_ENV, WEIGHT_SUFFIXES
from engine.errors import UserError
from engine.zoo.specs import parse_spec

CHUNK_BYTES = 1 << 24


class InputError(UserError):
    """A file or path the browser gave cannot be used; the message says why and what to do."""


def uploads_dir(results: Path) -> Path:
    return Path(results) / "uploads"


def safe_name(filename: str) -> str:
    """A file name that is safe to store: letters, digits, `.`, `_` and `-` only, no leading dot, no folders."""
    name = Path(filename.replace("\\", "/")).name
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80] or "weights"
    return f"{stem}{suffix}"


def save_upload(results: Path, filename: str, data: BinaryIO, size: int, limit_bytes: int) -> tuple[Path, bool]:
    """Copy an upload to `<results>/uploads/<name>-<sha256 prefix><suffix>` in chunks; (its path, whether it is new).

    Raises:
        InputError: not a weight file's suffix, or over the upload limit.
    """
    name = safe_name(filename)
    suffix = Path(name).suffix
    if suffix not in WEIGHT_SUFFIXES:
        raise InputError(f"{filename} is not a weight file; upload one of {', '.join(WEIGHT_SUFFIXES)}.")
    if size > limit_bytes:
        raise _too_big(filename, size, limit_bytes)
    folder = uploads_dir(results)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".upload-{uuid.uuid4().hex}.partial"
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            written = 0
            while chunk := data.read(CHUNK_BYTES):
                written += len(chunk)
                if written > limit_bytes:  # the declared size is the client's word; the bytes are what counts
                    raise _too_big(filename, written, limit_bytes)
                digest.update(chunk)
                out.write(chunk)
        final = folder / f"{Path(name).stem}-{digest.hexdigest()[:12]}{suffix}"
        if final.exists():
            return final, False
        partial.rename(final)
        return final, True
    finally:
        partial.unlink(missing_ok=True)


def _too_big(filename: str, size: int, limit_bytes: int) -> InputError:
    return InputError(
        f"{filename} is {size / 2**20:,.0f} MB or more, over the upload limit of {limit_bytes / 2**20:,.0f} MB. "
        "Copy it to the server and give its path instead."
    )


def resolve_allowed(text: str, roots: list[Path], what: str = "file") -> Path:
    """The real path of a server path that lies under one of `roots`, symbolic links resolved.

    Raises:
        InputError: a path with `..`, outside every root (also through a link), or that does not exist.
    """
    text = text.strip()
    if not text:
        raise InputError(f"Give the {what}'s path on the server.")
    if ".." in Path(text).parts:
        raise InputError(f"{text}: paths with `..` are not accepted; give the {what}'s full path.")
    try:
        real = Path(text).expanduser().resolve()
        exists = real.exists()
    except (RuntimeError, ValueError, OSError) as error:  # an unknown ~user, a NUL byte, a link loop, a long name
        raise InputError(f"{text} is not a usable path ({error}).") from error
    if not any(real.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise InputError(
            f"{text} is outside the folders this dashboard may read ({allowed}). Move the {what} into one of them, "
            f"or start the dashboard with {ROOTS_ENV} set to the folders to allow."
        )
    if not exists:
        raise InputError(f"{text} does not exist on the server.")
    return real


def resolve_request(model: str, data: str, roots: list[Path]) -> Path:
    """The dataset folder's real path, once it and the model's local weights (a file, or an open_clip folder) are
    found under `roots`. Checked before anything reads the weights, whoever asks (the Evaluate page, a terminal).

    Raises:
        InputError: the weights or the dataset outside every root, with `..`, or missing: every problem in one
            message, so a wrong dataset does not hide a wrong weight path.
        InputError: a python: spec (user code is never queued).
        ModelError: an unknown model spec.
    """
    spec = parse_spec(model)
    if spec.kind == "python":  # the worker would import and run it: code only its author runs, from a terminal
        raise InputError(
            f"{model} runs Python code, which the dashboard's queue never does; evaluate it from a terminal with "
            "`counteranimal eval --model ...`."
        )
    checks = [(path, what) for path, what in ((spec.folder, "folder"), (spec.file, "weight file")) if path is not None]
    problems, dataset = [], None
    for path, what in [*checks, (data, "dataset")]:
        try:
            dataset = resolve_allowed(str(path), roots, what)  # the last check is the dataset's
        except InputError as error:
            problems.append(str(error))
    if problems:
        raise InputError(" ".join(dict.fromkeys(problems)))  # each problem once
    return dataset
