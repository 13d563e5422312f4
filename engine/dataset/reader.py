"""Find, validate and list a CounterAnimal dataset folder.

Two layouts exist (see results/paper/README.md):
- the distributed archive: `LAION-final/<ImageNet index> <name>/common-<background>/*.jpg` and `counter-<background>/`,
  with `imagenet_names.txt` at the root;
- the paper's appendix: `CounterAnimal/<object name>/common-<background>/...`, class folders named by the animal.
Class folders map to ImageNet-1K indices (the 45 CounterAnimal classes, or any other class in a curated set); every
class folder must hold exactly one common and one counter group. An optional `dataset.json` at the root names the
dataset (`{"name": ..., "kind": "curated" | "synthetic"}`); without it the dataset is CounterAnimal.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from engine.config import paper_dir
from engine.errors import UserError

SPLITS = ("common", "counter")
DATASET_FILE = "dataset.json"  # {"name", "kind"} of a dataset that is not CounterAnimal itself
COUNTERANIMAL = "CounterAnimal"  # the name of a dataset without DATASET_FILE: the paper's
_INDEXED_FOLDER = re.compile(r"^(\d+)\s+(.+)$")  # "100 black swan"


GET_DATASET = (
    "Get the dataset with `counteranimal download` and pass the extracted folder, or make a small synthetic one "
    "with `counteranimal demo` and start the dashboard as it prints."
)


class DatasetError(UserError):
    """The folder is not a usable CounterAnimal dataset; the message says why and what to do."""


@dataclass(frozen=True)
class ImageRecord:
    """One photo. `image_id` is its path relative to the dataset root, with forward slashes."""

    image_id: str
    class_id: int  # ImageNet-1K index
    split: str  # "common" or "counter"
    background: str


@dataclass(frozen=True)
class ClassFolder:
    """One class folder and its two background groups."""

    class_id: int
    folder: str
    common_background: str
    counter_background: str


@dataclass(frozen=True)
class Dataset:
    """A validated dataset: its root, classes and images (sorted by image id)."""

    root: Path
    layout: str  # "indexed" (LAION-final/<index> <name>) or "named" (CounterAnimal/<name>)
    classes: tuple[ClassFolder, ...]
    images: tuple[ImageRecord, ...]
    empty_files: tuple[str, ...]  # zero-byte files, left out of `images`
    name: str = COUNTERANIMAL  # how the dashboard groups and shows the runs made on it (`DATASET_FILE`)

    def provenance(self) -> dict:
        """What a run's manifest says of the dataset it measured."""
        return {"root": str(self.root), "layout": self.layout, "fingerprint": self.fingerprint, "name": self.name}

    @cached_property  # stats every file: computed once per dataset object
    def fingerprint(self) -> str:
        """Identity of the contents: every photo's path, size and modification time (an edited photo changes it;
        copies that keep times, as `cp -p`, `rsync -a` and unpacking an archive do, keep it)."""
        digest = hashlib.sha256()
        for image in self.images:
            stat = (self.root / image.image_id).stat()
            digest.update(f"{image.image_id}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()


def paper_classes() -> dict[int, dict[str, str]]:
    """The 45 CounterAnimal classes from the published tables, by ImageNet index."""
    with (paper_dir() / "classes.csv").open(newline="") as f:
        return {int(row["class_id"]): row for row in csv.DictReader(f)}


def visible_subfolders(folder: Path) -> list[Path]:
    """Subfolders, sorted, without hidden ones (ours included: `.extract-*`, `.partial`) and macOS zip metadata."""
    try:
        children = sorted(folder.iterdir())
    except OSError:  # an unreadable folder cannot hold the dataset
        return []
    return [c for c in children if c.is_dir() and not c.name.startswith((".", "__"))]


def _is_class_folder(path: Path) -> bool:
    groups = {child.name.lower().partition("-")[0] for child in visible_subfolders(path) if "-" in child.name}
    return set(SPLITS) <= groups


def locate_dataset(root: Path, max_depth: int = 3) -> Path | None:
    """The shallowest folder under `root` (itself included) holding class folders, within `max_depth` levels.

    Covers the archive's `LAION-final/100 black swan/common-water/` and the appendix's
    `CounterAnimal/black swan/common-water/`, wherever they were extracted.
    """
    level = [Path(root)] if Path(root).is_dir() else []
    for _ in range(max_depth + 1):
        for folder in level:
            if any(_is_class_folder(child) for child in visible_subfolders(folder)):
                return folder
        level = [child for folder in level for child in visible_subfolders(folder)]
    return None


def find_dataset_root(path: Path) -> Path:
    """The folder holding the class folders: `path` itself or the shallowest such folder inside it."""
    path = Path(path).expanduser()
    if not path.is_dir():  # messages name the absolute path: a relative one hides which folder was meant
        raise DatasetError(
            f"{path.absolute()} is not a folder. Pass the dataset folder, or the folder the archive went into. "
            + GET_DATASET
        )
    if root := locate_dataset(path):
        return root
    raise DatasetError(
        f"No CounterAnimal class folders (with common-<background>/ and counter-<background>/ inside) in "
        f"{path.absolute()} or below. {GET_DATASET}"
    )


@cache
def imagenet_classes() -> dict[int, dict[str, str]]:
    """All 1,000 ImageNet-1K classes by index: {"label": "ice bear", "name": "ice bear, polar bear, ..."}."""
    with (paper_dir() / "imagenet_classes.csv").open(newline="") as f:
        return {int(row["class_id"]): row for row in csv.DictReader(f)}


def synonym_index(classes: dict[int, dict[str, str]]) -> dict[str, int | None]:
    """Every synonym of every class ("ice bear", "polar bear", ...) -> its ImageNet index. A synonym two classes share
    means the CounterAnimal class when one of them is ("panther": the jaguar), else None: only the index can name it
    (ImageNet has two "crane"s)."""
    counteranimal, index = paper_classes().keys(), {}
    for class_id, row in classes.items():
        for synonym in _synonyms(row):
            index.setdefault(synonym, set()).add(class_id)
    return {s: _one(ids, counteranimal) for s, ids in index.items()}


def _one(ids: set[int], preferred: Iterable[int]) -> int | None:
    if len(ids) == 1:
        return next(iter(ids))
    chosen = ids & set(preferred)
    return next(iter(chosen)) if len(chosen) == 1 else None


def _normalize(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("-", " ").lower().split())


def folder_class_id(folder: str, names: dict[str, int | None], classes: dict[int, dict[str, str]]) -> int:
    """The ImageNet index a class folder (or a manifest's class) names: "296 ice bear" or a class name ("ice bear")."""
    if match := _INDEXED_FOLDER.match(folder.strip()):
        class_id = int(match.group(1))
    elif (key := _normalize(folder)) in names:
        if (class_id := names[key]) is None:
            shared = ", ".join(f"'{i} {folder.strip()}'" for i, r in classes.items() if key in _synonyms(r))
            raise DatasetError(f"Class {folder!r} names two ImageNet classes; name it by its index: {shared}.")
    else:
        raise DatasetError(
            f"Class {folder!r} is not an ImageNet-1K class. Name it by the ImageNet index and name (e.g. "
            "'296 ice bear') or by a class name (e.g. 'ice bear'); results/paper/imagenet_classes.csv lists them."
        )
    if class_id not in classes:
        raise DatasetError(f"Class {folder!r}: {class_id} is not an ImageNet-1K class index (0 to 999).")
    return class_id


def _synonyms(row: dict[str, str]) -> set[str]:
    return {_normalize(s) for s in row["name"].split(",")}


def dataset_name(root: Path) -> str:
    """The name `DATASET_FILE` gives the dataset at `root`; CounterAnimal without one."""
    try:
        return str(json.loads((root / DATASET_FILE).read_text())["name"])
    except FileNotFoundError:
        return COUNTERANIMAL
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(
            f"{root / DATASET_FILE} is not a dataset description ({error}); fix or remove it."
        ) from error


def write_dataset_file(root: Path, name: str, kind: str) -> None:
    """Name a dataset that is not CounterAnimal (a curated or synthetic one), so its runs are never mixed with it."""
    if name.strip().casefold() == COUNTERANIMAL.casefold():
        raise DatasetError(f"{name!r} is the paper's dataset; a curated or synthetic set needs a name of its own.")
    (root / DATASET_FILE).write_text(json.dumps({"name": name, "kind": kind}, indent=2) + "\n")


def _groups(class_dir: Path) -> dict[str, Path]:
    groups = {}
    for split in SPLITS:
        found = [p for p in visible_subfolders(class_dir) if p.name.lower().startswith(f"{split}-")]
        if len(found) != 1:
            names = ", ".join(p.name for p in visible_subfolders(class_dir)) or "nothing"
            raise DatasetError(
                f"Class folder {class_dir.name!r} must hold exactly one {split}-<background> folder; it holds {names}."
            )
        groups[split] = found[0]
    return groups


def _list_class(root: Path, class_dir: Path, class_id: int) -> tuple[ClassFolder, list[ImageRecord], list[str]]:
    groups = _groups(class_dir)
    images, empty = [], []
    for split, group in groups.items():
        background = group.name.split("-", 1)[1]
        for file in sorted(p for p in group.iterdir() if p.is_file() and not p.name.startswith(".")):
            image_id = file.relative_to(root).as_posix()
            if file.stat().st_size == 0:
                empty.append(image_id)
            else:
                images.append(ImageRecord(image_id, class_id, split, background))
    folder = ClassFolder(
        class_id=class_id,
        folder=class_dir.name,
        common_background=groups["common"].name.split("-", 1)[1],
        counter_background=groups["counter"].name.split("-", 1)[1],
    )
    return folder, images, empty


def load_dataset(path: Path) -> Dataset:
    """Validate a dataset folder (or the folder it was extracted to) and list its images.

    Raises:
        DatasetError: no class folders, an unknown class, a class without exactly one common and one counter group,
            or two folders for the same class.
    """
    root = find_dataset_root(path)
    classes = imagenet_classes()
    names = synonym_index(classes)
    class_dirs = [p for p in visible_subfolders(root) if p.is_dir()]
    folders, images, empty = [], [], []
    seen: dict[int, str] = {}
    for class_dir in class_dirs:
        class_id = folder_class_id(class_dir.name, names, classes)
        if class_id in seen:
            raise DatasetError(f"Folders {seen[class_id]!r} and {class_dir.name!r} are the same class ({class_id}).")
        seen[class_id] = class_dir.name
        folder, class_images, class_empty = _list_class(root, class_dir, class_id)
        folders.append(folder)
        images += class_images
        empty += class_empty
    layout = "indexed" if all(_INDEXED_FOLDER.match(f.folder) for f in folders) else "named"
    images.sort(key=lambda image: image.image_id)
    classes_found = tuple(sorted(folders, key=lambda f: f.class_id))
    return Dataset(root, layout, classes_found, tuple(images), tuple(empty), dataset_name(root))
