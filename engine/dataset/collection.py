"""Read a photo collection labelled by class and background: the input of curation (`counteranimal curate`).

Two forms:
- folders `<class>/<background>/*`, the class folder named "<ImageNet index> <name>" or by an ImageNet class name,
  the background folder by any label ("snow", "grass", ...);
- a CSV manifest with the columns `path`, `class`, `background` (paths relative to the manifest's folder, or
  absolute), e.g. the one `counteranimal backgrounds suggest` writes.

Either becomes a `Dataset` the engine evaluates like any other; its photos are in no split yet (`POOL`), and every
photo keeps its background label. Torch-free.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

from engine.dataset.reader import (
    ClassFolder,
    Dataset,
    DatasetError,
    ImageRecord,
    folder_class_id,
    imagenet_classes,
    synonym_index,
    visible_subfolders,
)

UNLABELLED = "unlabelled"  # the background of a photo lying directly in its class folder (to be suggested)
POOL = "pool"  # the split of a collection's photos: curation decides which backgrounds become common and counter
COLLECTION = "collection"  # the layout of such a dataset
MANIFEST_COLUMNS = ("path", "class", "background")
# The paper's background labels (CounterAnimal's backgrounds): the default labels to suggest.
PAPER_BACKGROUNDS = (
    "ground", "water", "earth", "sand", "snow", "grass", "human", "sky", "road", "rock", "shrub", "indoor", "tree",
    "outdoor",
)  # fmt: skip


def load_collection(photos: Path, name: str | None = None, unlabelled: bool = False) -> Dataset:
    """The collection in a folder (`<class>/<background>/*`) or a CSV manifest, as a dataset of unsplit photos.

    Args:
        unlabelled: also take photos lying directly in a class folder, with the background `UNLABELLED` (for
            background suggestions, not for curation).

    Raises:
        DatasetError: no such folder or file, an unknown or ambiguous class, a background label that cannot name a
            folder, a manifest without its columns or naming missing or repeated photos, or no photos at all.
    """
    photos = Path(photos).expanduser()
    if photos.is_file():
        root, rows = _manifest_rows(photos)
    elif photos.is_dir():
        root, rows = photos, _folder_rows(photos, unlabelled)
    else:
        raise DatasetError(
            f"{photos.absolute()} is neither a folder of <class>/<background>/ photos nor a CSV manifest "
            f"({', '.join(MANIFEST_COLUMNS)})."
        )
    return _dataset(root.resolve(), rows, name or root.name)


def _folder_rows(root: Path, unlabelled: bool) -> list[tuple[str, str, str]]:
    """(image id, class as written, background) of every photo under `<class>/<background>/` (and `<class>/`)."""
    rows = []
    for class_dir in visible_subfolders(root):
        if unlabelled:
            rows += [(f.relative_to(root).as_posix(), class_dir.name, UNLABELLED) for f in _photos(class_dir)]
        for background_dir in visible_subfolders(class_dir):
            rows += [
                (f.relative_to(root).as_posix(), class_dir.name, background_dir.name) for f in _photos(background_dir)
            ]
    if not rows:
        raise DatasetError(
            f"No photos in {root.absolute()}: a collection holds <class>/<background>/<photo> files, e.g. "
            "'296 ice bear/snow/0001.jpg' (or pass a CSV manifest)."
        )
    return rows


def _photos(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))


def _manifest_rows(manifest: Path) -> tuple[Path, list[tuple[str, str, str]]]:
    """The manifest's photos as (image id relative to the root, class, background), and that root: the manifest's
    folder, or the folder holding every listed photo when some lie elsewhere."""
    with manifest.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if missing := [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]:
            needs = ", ".join(MANIFEST_COLUMNS)
            raise DatasetError(f"{manifest} lacks the column(s) {', '.join(missing)} (a manifest has {needs}).")
        entries = [(_photo_path(manifest.parent, row["path"]), row["class"], row["background"]) for row in reader]
    if not entries:
        raise DatasetError(f"{manifest} lists no photos.")
    if absent := [str(p) for p, _, _ in entries if not p.is_file()]:
        raise DatasetError(f"{manifest} names {len(absent)} photo(s) that do not exist, e.g. {', '.join(absent[:3])}.")
    paths = [p for p, _, _ in entries]
    root = manifest.parent.resolve()
    if not all(p.is_relative_to(root) for p in paths):
        root = Path(os.path.commonpath([p.parent for p in paths]))
    return root, [(p.relative_to(root).as_posix(), c, b) for p, c, b in entries]


def _photo_path(folder: Path, written: str) -> Path:
    path = Path((written or "").strip()).expanduser()
    return (path if path.is_absolute() else folder / path).resolve()


def _dataset(root: Path, rows: list[tuple[str, str, str]], name: str) -> Dataset:
    if repeated := [i for i, n in Counter(i for i, _, _ in rows).items() if n > 1]:
        raise DatasetError(f"The collection lists {len(repeated)} photo(s) twice, e.g. {repeated[0]}.")
    classes = imagenet_classes()
    names, class_ids = synonym_index(classes), {}
    images, empty = [], []
    for image_id, written_class, written_background in rows:
        if written_class not in class_ids:
            class_ids[written_class] = folder_class_id(written_class, names, classes)
        record = ImageRecord(image_id, class_ids[written_class], POOL, _background(written_background, image_id))
        (images if (root / image_id).stat().st_size else empty).append(record)
    folders = {
        r.class_id: ClassFolder(r.class_id, classes[r.class_id]["label"], "", "") for r in images + empty
    }  # fmt: skip
    images.sort(key=lambda r: r.image_id)
    return Dataset(
        root, COLLECTION, tuple(folders[c] for c in sorted(folders)), tuple(images),
        tuple(sorted(r.image_id for r in empty)), name,
    )  # fmt: skip


def _background(label: str, image_id: str) -> str:
    """A background label as written (trimmed); it must be able to name a folder (`common-<background>`)."""
    label = " ".join((label or "").split())
    if not label or "/" in label or "\\" in label or label.startswith("."):
        raise DatasetError(f"{image_id}: background {label!r} cannot name a folder; use a word such as 'snow'.")
    return label
