"""Write a curated dataset in the CounterAnimal layout, and its report.

    <out>/<index> <name>/common-<background>/<photo>    hard links to the collection's photos (copies, times kept,
    <out>/<index> <name>/counter-<background>/<photo>   across file systems), so the source is never changed
    <out>/imagenet_names.txt                            `index<TAB>name` per class
    <out>/dataset.json                                  {"name", "kind": "curated"}: runs on it are its own
    <out>/curation.json                                 the report: every class, background, count, accuracy ...

The folder is built next to `out` and renamed into place, so a crash leaves no half dataset. Re-running with the
same outcome changes nothing; a different outcome into an existing folder is refused rather than mixed in.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

from engine.curation.select import ClassChoice
from engine.dataset.reader import COUNTERANIMAL, ImageRecord, write_dataset_file
from engine.errors import UserError
from engine.files import digest, write_json

CURATION_FILE = "curation.json"
REPORT_FIELDS = {"name", "dataset", "source", "reference", "rules", "kept", "dropped", "classes"}
CURATIONS = "curations"  # under the results folder: a copy of every report, for the dashboard's Curate page


class CurationError(UserError):
    """The curated dataset cannot be written; the message says why and what to do."""


def read_report(folder: Path) -> dict | None:
    """The curation report in a curated dataset's folder; None when there is none (or none that can be read)."""
    try:
        return json.loads((Path(folder) / CURATION_FILE).read_text())
    except (OSError, ValueError):
        return None


def check_out(out: Path, source: Path, name: str) -> None:
    """Refuse, before anything is evaluated, an `out` curation could not write to, and a name that is not the set's.

    Raises:
        CurationError: `out` is a file, lies inside the collection (or holds it), or holds files that are not a
            curation; or the name is CounterAnimal's, whose runs the dashboard shows with the paper's numbers.
    """
    out, source = Path(out).expanduser().absolute(), Path(source).absolute()
    if name.strip().casefold() == COUNTERANIMAL.casefold():
        raise CurationError(f"{name!r} names the paper's dataset; give the curated set another --name.")
    if out.exists() and not out.is_dir():
        raise CurationError(f"{out} is a file; --out takes a folder (new, or one holding an earlier curation).")
    if out.is_relative_to(source) or source.is_relative_to(out):
        raise CurationError(f"--out {out} and the photos in {source} must not lie inside one another.")
    if out.is_dir() and any(out.iterdir()) and read_report(out) is None:
        raise CurationError(f"{out} exists and holds other files; choose another --out, or remove it first.")


def record_report(results: Path, report: dict) -> Path:
    """Keep a copy of the report in the results folder (one per curated dataset folder), where the dashboard reads it
    wherever the dataset lies."""
    path = Path(results) / CURATIONS / f"{digest(report['dataset'])[:16]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, report)
    return path


def list_reports(results: Path) -> list[dict]:
    """Every curation report recorded in the results folder, by name (a file that is not one is passed over: the
    dataset's own curation.json still has it)."""
    reports = []
    for path in sorted((Path(results) / CURATIONS).glob("*.json")):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(report, dict) and set(report) >= REPORT_FIELDS:
            reports.append(report)
    return sorted(reports, key=lambda r: (r["name"], r["dataset"]))


def write_curated(
    source: Path, photos: tuple[ImageRecord, ...], choices: list[ClassChoice], report: dict, out: Path
) -> bool:
    """Write the curated dataset of the kept classes into `out`; False when `out` already holds this very curation.

    Args:
        source: the collection's root; `photos` are its photos (image ids relative to it).
        report: what curation.json says; equal reports mean equal datasets.

    Raises:
        CurationError: no class was kept, or `out` holds something else.
    """
    out = Path(out).expanduser().absolute()
    kept = [c for c in choices if c.kept]
    if not kept:
        reasons = "; ".join(f"{c.name}: {c.reason}" for c in choices[:3]) + ("; ..." if len(choices) > 3 else "")
        raise CurationError(f"No class was kept ({reasons}), so there is no dataset to write.")
    if out.exists() and _unchanged(out, report):
        return False
    if out.exists() and any(out.iterdir()):
        raise CurationError(
            f"{out} exists and holds another curation or other files; choose another --out, or remove it first."
        )
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _write_tree(source, photos, kept, report, partial)
        if out.exists():
            out.rmdir()  # empty: checked above
        partial.rename(out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return True


def _unchanged(out: Path, report: dict) -> bool:
    try:
        return read_report(out) == json.loads(json.dumps(report))
    except ValueError:
        return False


def _write_tree(source: Path, photos: tuple[ImageRecord, ...], kept: list[ClassChoice], report: dict, to: Path) -> None:
    to.mkdir(parents=True)
    by_group: dict[tuple[int, str], list[ImageRecord]] = {}
    for photo in photos:
        by_group.setdefault((photo.class_id, photo.background), []).append(photo)
    for choice in kept:
        folder = to / f"{choice.class_id} {choice.name}"
        for split, background in (("common", choice.common), ("counter", choice.counter)):
            _link_group(source, by_group[choice.class_id, background], folder / f"{split}-{background}")
    names = "".join(f"{c.class_id}\t{c.name}\n" for c in kept)
    (to / "imagenet_names.txt").write_text(names)
    write_dataset_file(to, report["name"], "curated")
    write_json(to / CURATION_FILE, report)


def _link_group(source: Path, photos: list[ImageRecord], group: Path) -> None:
    """Hard-link each photo into `group` under its own file name (numbered when two photos share one)."""
    group.mkdir(parents=True)
    taken: set[str] = set()
    for photo in sorted(photos, key=lambda p: p.image_id):
        name, number = Path(photo.image_id).name, 1
        while name in taken:
            number += 1
            name = f"{Path(photo.image_id).stem}-{number}{Path(photo.image_id).suffix}"
        taken.add(name)
        _link(source / photo.image_id, group / name)


def _link(src: Path, dst: Path) -> None:
    """A hard link; a copy with the file's times where links cannot be made (another file system, no permission), so
    the dataset's fingerprint (paths, sizes and times) is the same either way."""
    try:
        os.link(src, dst)
    except OSError as error:
        if error.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copy2(src, dst)
