"""Generated CounterAnimal-shaped datasets: real folder layouts, photo-sized JPEGs of a class-coloured "animal" on a
background texture. For tests, benchmarks and trying the tool without the real archive; not for measuring models."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from engine.dataset.reader import imagenet_classes, paper_classes, write_dataset_file

# Background textures: base colour (RGB) and how strongly noise varies it.
TEXTURES = {
    "snow": ((235, 238, 245), 12),
    "grass": ((70, 140, 55), 40),
    "water": ((40, 90, 160), 30),
    "ground": ((130, 100, 70), 35),
    "earth": ((120, 85, 60), 35),
    "sky": ((150, 190, 235), 10),
    "tree": ((60, 100, 40), 50),
    "sand": ((215, 195, 140), 20),
    "rock": ((120, 120, 115), 45),
    "shrub": ((85, 110, 55), 45),
    "human": ((200, 160, 140), 25),
    "road": ((90, 90, 95), 15),
    "indoor": ((180, 170, 150), 15),
    "outdoor": ((110, 130, 90), 40),
}


def synthetic_photo(rng: np.random.Generator, background: str, class_id: int, size: tuple[int, int]) -> Image.Image:
    """A `size` (width, height) RGB image: textured background, a blurred ellipse coloured by the class."""
    width, height = size
    base, spread = TEXTURES.get(background, ((128, 128, 128), 30))
    # Mostly brightness noise (shared by the channels), a little colour: reads as texture, not confetti.
    shape = (height // 8 + 1, width // 8 + 1)
    noise = rng.normal(0, spread, (*shape, 1)) + rng.normal(0, spread / 4, (*shape, 3))
    field = np.clip(np.array(base) + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(field).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    colour = tuple(int(c) for c in np.random.default_rng(class_id).integers(0, 255, 3))
    cx, cy = rng.integers(width // 3, 2 * width // 3), rng.integers(height // 3, 2 * height // 3)
    rx, ry = rng.integers(width // 8, width // 4), rng.integers(height // 8, height // 4)
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(1))


def _save(photo: Image.Image, path: Path) -> None:
    """Write a photo unless it is there: the photos are the same on every call, and a folder written again keeps its
    files' times, so its fingerprint, and the runs and curations made on it, stay valid."""
    if not path.exists():
        photo.save(path, quality=90)


def _class_folder(class_id: int, name: str, layout: str) -> str:
    short = name.split(",")[0].strip()
    return f"{class_id} {short}" if layout == "indexed" else short


def _write_class(dataset: Path, row: dict, class_id: int, per_group: int, layout: str, sizes: tuple, seed: int) -> None:
    rng = np.random.default_rng([seed, class_id])  # one stream per class: the same photos however classes are split
    for split in ("common", "counter"):
        background = row[f"{split}_background"]
        group = dataset / _class_folder(class_id, row["name"], layout) / f"{split}-{background}"
        group.mkdir(parents=True, exist_ok=True)
        for i in range(per_group):
            size = tuple(int(s) for s in rng.integers(sizes[0], sizes[1] + 1, 2))
            _save(synthetic_photo(rng, background, class_id, size), group / f"{i:04d}.jpg")


def write_dataset(
    root: Path,
    class_ids: list[int],
    per_group: int,
    layout: str = "indexed",
    sizes: tuple[int, int] = (400, 600),
    seed: int = 0,
    workers: int = 1,
    name: str | None = None,
) -> Path:
    """Write a dataset of `per_group` JPEGs per class and background group, in the real layout.

    Args:
        root: where to create it; the dataset folder is `root/LAION-final` ("indexed" layout, with
            imagenet_names.txt) or `root/CounterAnimal` ("named" layout).
        class_ids: ImageNet indices among the 45 CounterAnimal classes; backgrounds are the paper's.
        sizes: smallest and largest side, in pixels, drawn per image.
        workers: processes writing classes in parallel (the photos do not depend on it).
        name: the dataset's name (`dataset.json`), so its runs are not taken for CounterAnimal's; None: unnamed.
    Returns:
        The dataset folder.
    """
    classes = paper_classes()
    dataset = Path(root) / ("LAION-final" if layout == "indexed" else "CounterAnimal")
    tasks = [(dataset, classes[c], c, per_group, layout, sizes, seed) for c in class_ids]
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            pool.starmap(_write_class, tasks)
    else:
        for task in tasks:
            _write_class(*task)
    if layout == "indexed":
        (dataset / "imagenet_names.txt").write_text("".join(f"{c}\t{classes[c]['name']}\n" for c in sorted(classes)))
    if name:
        write_dataset_file(dataset, name, "synthetic")
    return dataset


def write_collection(
    root: Path, photos: dict[int, dict[str, int]], sizes: tuple[int, int] = (160, 320), seed: int = 1
) -> Path:
    """A background-labelled photo collection, the input of curation: `root/<index> <name>/<background>/NNNN.jpg`,
    with `photos[class][background]` photos of each class on each of its backgrounds. Returns `root`."""
    classes = imagenet_classes()
    for class_id, counts in photos.items():
        rng = np.random.default_rng([seed, class_id])
        folder = Path(root) / f"{class_id} {classes[class_id]['label']}"
        for background, count in counts.items():
            (folder / background).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                size = tuple(int(s) for s in rng.integers(sizes[0], sizes[1] + 1, 2))
                _save(synthetic_photo(rng, background, class_id, size), folder / background / f"{i:04d}.jpg")
    return Path(root)
