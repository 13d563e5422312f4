"""Find, validate and list a CounterAnimal dataset folder.

Two layouts exist (see results/paper/README.md):
- the distributed archive: `LAION-final/<ImageNet index> <name>/common-<background>/*.jpg` and `counter-<background>/`,
  with `imagenet_names.txt` at the root;
- the paper's appendix: `CounterAnimal/<object name>/common-<background>/...`, class folders named by the animal.
Class folders map to ImageNet indices; every class folder must hold exactly one common and one counter group.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from engine.config import paper_dir
from engine.errors import UserError

SPLITS = ("common", "counter")
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


def synonym_index(classes: dict[int, dict[str, str]]) -> dict[str, int]:
    """Every synonym of every class ("ice bear", "polar bear", ...) -> its ImageNet index."""
    index = {}
    for class_id, row in classes.items():
        for synonym in row["name"].split(","):
            index[_normalize(synonym)] = class_id
    return index


def _normalize(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("-", " ").lower().split())


def folder_class_id(folder: str, names: dict[str, int], classes: dict[int, dict[str, str]]) -> int:
    if match := _INDEXED_FOLDER.match(folder):
        class_id = int(match.group(1))
    elif _normalize(folder) in names:
        class_id = names[_normalize(folder)]
    else:
        raise DatasetError(
            f"Class folder {folder!r} is not one of CounterAnimal's 45 classes. Name it by the ImageNet index and "
            "name (e.g. '296 ice bear') or by a class name (e.g. 'ice bear'); `counteranimal data check` lists them."
        )
    if class_id not in classes:
        raise DatasetError(
            f"Class folder {folder!r}: ImageNet class {class_id} is not one of CounterAnimal's 45 classes."
        )
    return class_id


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
    classes = paper_classes()
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
    return Dataset(root, layout, tuple(sorted(folders, key=lambda f: f.class_id)), tuple(images), tuple(empty))
