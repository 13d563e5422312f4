"""Extracting the dataset archive safely: every member is checked before the first byte is written (no absolute
paths, no `..`, no links pointing upwards, no special files), extraction happens in a hidden folder, and only a
folder holding the dataset is renamed into place. A failure leaves the destination as it was."""

from __future__ import annotations

import shutil
import tarfile
import uuid
import zipfile
import zlib
from pathlib import Path, PureWindowsPath

from engine.dataset.pages import ARCHIVE_SUFFIXES
from engine.dataset.reader import locate_dataset, visible_subfolders
from engine.errors import UserError

DEFAULT_NAME = "CounterAnimal"  # the archive's name when neither the server nor the URL gives one
# Python >= 3.11.4 vets tar members itself too; our own checks below also cover older interpreters.
_TAR_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


class ArchiveError(UserError):
    """The archive is not a safe, complete CounterAnimal archive; the message says why."""


def extract_archive(archive: Path, name: str, to: Path) -> Path:
    """Extract `archive` (named `name`) under `to` and return the folder holding the class folders.

    Raises:
        ArchiveError: not a zip or tar file, a damaged or unsafe archive, or one that holds no dataset.
    """
    _check_is_archive(archive)
    # Not tempfile.mkdtemp: its 0o700 mode would stay on a renamed folder and hide the dataset from the lab.
    staging = to / f".extract-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        _extract_members(archive, staging)
        return _move_into_place(staging, to, _strip_archive_suffix(name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the whole folder was renamed


def _check_is_archive(path: Path) -> None:
    if zipfile.is_zipfile(path) or tarfile.is_tarfile(path):
        return
    with path.open("rb") as file:
        head = file.read(200)
    is_html = b"<html" in head.lower() or b"<!doctype html" in head.lower()
    what = "an HTML page" if is_html else "a file that is neither a zip nor a tar archive"
    raise ArchiveError(
        f"Expected a zip or tar archive but received {what} ({path.stat().st_size:,} bytes, starting {head[:120]!r})."
    )


def _check_member(name: str, link_target: str | None = None) -> None:
    """Refuse a member that would land outside the destination: absolute, `..`, or a link pointing upwards."""
    for path in (name, link_target or ""):
        parsed = PureWindowsPath(path)  # parses both / and \ separators, and drive letters
        if parsed.anchor or ".." in parsed.parts:
            raise ArchiveError(
                f"Refusing to extract the archive: member {name!r}"
                f"{f' (a link to {link_target!r})' if link_target else ''} would reach outside the destination "
                "folder. The archive is damaged or malicious; nothing was extracted."
            )


def _check_tar_member(member: tarfile.TarInfo) -> None:
    if member.isdev():  # devices and FIFOs have no place in an image dataset
        raise ArchiveError(f"Refusing to extract the archive: member {member.name!r} is a special file.")
    _check_member(member.name, member.linkname if member.issym() or member.islnk() else None)


def _extract_members(archive: Path, staging: Path) -> None:
    # Every member is checked before the first byte is written, so a refused archive writes nothing.
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                for info in zipped.infolist():
                    _check_member(info.filename)
                zipped.extractall(staging)
        else:
            with tarfile.open(archive) as tarred:
                members = tarred.getmembers()
                for member in members:
                    _check_tar_member(member)
                tarred.extractall(staging, members=members, **_TAR_FILTER)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as error:
        raise ArchiveError(f"The archive is damaged ({error}); download it again.") from error
    except OSError as error:
        raise ArchiveError(f"Cannot extract into {staging.parent} ({error}); free some space or use --to.") from error


def _move_into_place(staging: Path, to: Path, stem: str) -> Path:
    dataset = locate_dataset(staging)
    if dataset is None:
        raise ArchiveError(
            "The archive holds no CounterAnimal class folders (folders with common-* and counter-* subfolders); "
            "it is not the dataset."
        )
    files = [p for p in staging.iterdir() if not p.is_dir() and not p.name.startswith(".")]
    entries = visible_subfolders(staging) + files
    # One root folder (LAION-final/) moves as it is; an archive without one gets a folder named after it.
    top = entries[0] if len(entries) == 1 and dataset.is_relative_to(entries[0]) else staging
    target = to / (top.name if top != staging else stem)
    if target.exists():
        raise ArchiveError(
            f"{target} already exists but holds no complete dataset; move or delete it and run again. "
            "Nothing was changed."
        )
    top.rename(target)
    return target / dataset.relative_to(top)


def _strip_archive_suffix(name: str) -> str:
    suffix = next((s for s in ARCHIVE_SUFFIXES if name.lower().endswith(s)), "")
    return name[: len(name) - len(suffix)] or DEFAULT_NAME
