"""Thumbnails of dataset photos, made once server-side and kept on disk, so a page never ships full-size photos it
does not show. Keyed by the photo's path, size and modification time: a changed photo gets a new thumbnail."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from PIL import Image, ImageDraw

GALLERY_PX = 224  # longest side of a gallery thumbnail
DETAIL_PX = 640  # longest side of the enlarged view


def thumbnail(photo: Path, size: int, cache: Path, enlarge: bool = False) -> Path | None:
    """A JPEG of `photo` no larger than `size` px (`enlarge`: a smaller photo scaled up to `size`), from the cache or
    made now; None if the photo is missing or unreadable."""
    try:
        stat = photo.stat()
    except OSError:
        return None
    key = hashlib.sha1(f"{photo.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{size}|{enlarge}".encode()).hexdigest()
    path = cache / "thumbnails" / key[:2] / f"{key}.jpg"
    if path.is_file():
        return path
    try:
        with Image.open(photo) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at reduced scale directly (display only, not evaluation)
            image = image.convert("RGB")
            image.thumbnail((size, size))
            if enlarge and max(image.size) < size:  # the enlarged view: a small photo fills it, not a corner of it
                scale = size / max(image.size)
                image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    except Exception:  # an unreadable photo gets the placeholder, never an error page
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    # Every viewer is a thread of one server process: a unique name per write, and the last rename wins (all
    # writers of one key write the same picture).
    partial = path.with_name(f"{path.stem}.{uuid.uuid4().hex}.partial")
    _square(image, size).save(partial, "JPEG", quality=85)
    partial.replace(path)
    return path


def _square(image: Image.Image, size: int) -> Image.Image:
    """The picture centred on a square white tile, so a grid of thumbnails lines up whatever the photos' shapes."""
    tile = Image.new("RGB", (size, size), (255, 255, 255))
    tile.paste(image, ((size - image.width) // 2, (size - image.height) // 2))
    return tile


def placeholder(size: int, cache: Path) -> Path:
    """A grey tile saying the photo is missing."""
    path = cache / "thumbnails" / f"missing-{size}.png"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tile = Image.new("RGB", (size, size), (220, 220, 220))
        ImageDraw.Draw(tile).text((size // 2 - 40, size // 2 - 6), "photo missing", fill=(90, 90, 90))
        tile.save(path)
    return path
