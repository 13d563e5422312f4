"""The decode-once image cache: same pixels as the model's own transform, built once, never half-built."""

import threading

import numpy as np
import pytest
from PIL import Image
from torchvision import transforms as T

from engine.dataset.reader import load_dataset
from engine.inference import image_cache
from engine.inference.image_cache import load_or_build_cache
from engine.models.recipes import Recipe

RECIPE = Recipe(
    steps=T.Compose([T.Resize(24, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(24)]),
    key="Resize(24, bicubic) | CenterCrop(24)",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
)


@pytest.fixture
def dataset(dataset_dir):
    return load_dataset(dataset_dir)


@pytest.mark.parametrize("workers", [1, 2])
def test_cached_pixels_equal_the_transform_applied_to_each_photo(dataset, tmp_path, workers):
    cache = load_or_build_cache(dataset, RECIPE, tmp_path, workers=workers, progress=False)
    assert cache.pixels.shape == (len(dataset.images), 24, 24, 3)
    for slot, image_id in enumerate(cache.image_ids):
        expected = np.asarray(RECIPE.steps(Image.open(dataset.root / image_id).convert("RGB")))
        np.testing.assert_array_equal(cache.pixels[slot], expected)


def test_a_second_request_reuses_the_cache_without_decoding(dataset, tmp_path, monkeypatch):
    load_or_build_cache(dataset, RECIPE, tmp_path, workers=1, progress=False)
    monkeypatch.setattr(image_cache, "decode", lambda path: pytest.fail("decoded again"))
    assert len(load_or_build_cache(dataset, RECIPE, tmp_path, workers=1, progress=False).image_ids) == 24


def test_another_recipe_gets_its_own_cache(dataset, tmp_path):
    other = Recipe(T.Compose([T.Resize(16), T.CenterCrop(16)]), "Resize(16) | CenterCrop(16)", RECIPE.mean, RECIPE.std)
    first = load_or_build_cache(dataset, RECIPE, tmp_path, workers=1, progress=False)
    second = load_or_build_cache(dataset, other, tmp_path, workers=1, progress=False)
    assert first.path != second.path and second.pixels.shape[1:3] == (16, 16)


def test_an_interrupted_build_is_never_used(dataset, tmp_path, monkeypatch):
    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(image_cache, "_compact", crash)
    with pytest.raises(KeyboardInterrupt):
        load_or_build_cache(dataset, RECIPE, tmp_path, workers=1, progress=False)
    assert not [p for p in (tmp_path / "images").iterdir() if "partial" not in p.name]
    monkeypatch.undo()
    assert len(load_or_build_cache(dataset, RECIPE, tmp_path, workers=1, progress=False).image_ids) == 24


def test_unreadable_photos_are_left_out_and_reported(dataset_dir, tmp_path):
    import shutil

    copy = shutil.copytree(dataset_dir, tmp_path / "data")
    broken = sorted(copy.rglob("*.jpg"))[3]
    broken.write_bytes(broken.read_bytes()[:200])
    dataset = load_dataset(copy)
    cache = load_or_build_cache(dataset, RECIPE, tmp_path / "cache", workers=2, progress=False)
    broken_id = broken.relative_to(dataset.root).as_posix()
    assert broken_id not in cache.image_ids and "truncated" in cache.skipped[broken_id].lower()
    assert cache.pixels.shape[0] == len(cache.image_ids) == len(dataset.images) - 1
    slot = 5
    expected = np.asarray(RECIPE.steps(Image.open(dataset.root / cache.image_ids[slot]).convert("RGB")))
    np.testing.assert_array_equal(cache.pixels[slot], expected)  # slots still line up after the gap


class Broken:
    """A preprocessing step with a bug: the build must fail loudly, not skip every photo as unreadable."""

    def __call__(self, image):
        raise RuntimeError("bug in a transform")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_broken_transform_fails_the_build_instead_of_skipping_photos(dataset, tmp_path, monkeypatch, workers):
    monkeypatch.setattr(Recipe, "output_size", lambda self: (24, 24))  # probing would run the step here
    recipe = Recipe(T.Compose([Broken()]), "broken", RECIPE.mean, RECIPE.std)
    with pytest.raises(RuntimeError, match="bug in a transform"):
        image_cache._build(dataset, recipe, tmp_path, workers=workers, progress=False, stop=threading.Event())


def test_a_broken_transform_fails_and_leaves_no_cache(dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(Recipe, "output_size", lambda self: (24, 24))
    recipe = Recipe(T.Compose([Broken()]), "broken", RECIPE.mean, RECIPE.std)
    with pytest.raises(RuntimeError, match="bug in a transform"):
        load_or_build_cache(dataset, recipe, tmp_path, workers=1, progress=False)
    assert not list((tmp_path / "images").iterdir())  # neither a cache nor a partial folder


def test_a_stopped_build_leaves_nothing(dataset, tmp_path):
    import threading
    from concurrent.futures import CancelledError

    stop = threading.Event()
    stop.set()
    with pytest.raises(CancelledError):
        load_or_build_cache(dataset, RECIPE, tmp_path, workers=1, progress=False, stop=stop)
    assert not list((tmp_path / "images").iterdir())


def awkward_photos(folder):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    Image.fromarray(pixels).convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.png")
    Image.fromarray(np.dstack([pixels, rng.integers(0, 255, (60, 80, 1), dtype=np.uint8)])).save(folder / "alpha.png")
    Image.fromarray(pixels[..., 0]).save(folder / "gray.jpg")
    Image.fromarray(pixels).convert("CMYK").save(folder / "cmyk.jpg")
    return ["palette.png", "alpha.png", "gray.jpg", "cmyk.jpg"]


@pytest.mark.parametrize("convert_first", [True, False])
def test_awkward_modes_convert_where_the_library_does(tmp_path, convert_first):
    names = awkward_photos(tmp_path)
    recipe = Recipe(RECIPE.steps, RECIPE.key, RECIPE.mean, RECIPE.std, convert_first=convert_first)
    for name in names:
        with Image.open(tmp_path / name) as opened:
            # timm's and torchvision's loaders: RGB on opening, then the transform; open_clip: the transform on the
            # photo as it is, RGB at the end.
            rgb_first = RECIPE.steps(opened.convert("RGB"))
            expected = rgb_first if convert_first else RECIPE.steps(opened).convert("RGB")
        np.testing.assert_array_equal(recipe.apply(image_cache.decode(tmp_path / name)), np.asarray(expected))


def test_a_build_removes_the_half_built_caches_of_killed_processes(dataset, tmp_path):
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process, like a build killed mid-way
    orphan = tmp_path / "images" / f"0123456789abcdef01234567.partial-{gone.pid}"
    orphan.mkdir(parents=True)
    load_or_build_cache(dataset, RECIPE, tmp_path, workers=1, progress=False)
    assert not orphan.exists()


def test_a_filling_cache_gives_each_slot_once_it_is_decoded(dataset, tmp_path):
    ids = tuple(image.image_id for image in dataset.images)
    filling = image_cache.Filling(ids)
    slots = []

    def read_as_it_fills():
        for ready in range(1, len(ids) + 1):
            slots.append(np.array(filling.wait(ready)[ready - 1]))

    reader = threading.Thread(target=read_as_it_fills)
    reader.start()
    cache = load_or_build_cache(dataset, RECIPE, tmp_path, workers=2, progress=False, filling=filling)
    reader.join(timeout=60)
    np.testing.assert_array_equal(np.stack(slots), cache.pixels)


def test_a_filling_cache_is_not_read_after_an_unreadable_photo(dataset_dir, tmp_path):
    import shutil

    copy = shutil.copytree(dataset_dir, tmp_path / "data")
    dataset = load_dataset(copy)
    broken = dataset.images[5].image_id
    (copy / broken).write_bytes((copy / broken).read_bytes()[:200])
    filling = image_cache.Filling(tuple(image.image_id for image in dataset.images))
    load_or_build_cache(dataset, RECIPE, tmp_path / "cache", workers=2, progress=False, filling=filling)
    assert filling.wait(1) is None  # even the slots before it: the finished cache is what gets read


def test_a_complete_cache_is_read_as_a_cache_not_as_a_filling_one(dataset, tmp_path):
    load_or_build_cache(dataset, RECIPE, tmp_path, workers=1, progress=False)
    filling = image_cache.Filling(tuple(image.image_id for image in dataset.images))
    load_or_build_cache(dataset, RECIPE, tmp_path, workers=1, progress=False, filling=filling)
    assert filling.wait(1) is None


def test_a_stopped_build_releases_a_waiting_reader(dataset, tmp_path):
    from concurrent.futures import CancelledError

    stop, filling = threading.Event(), image_cache.Filling(tuple(image.image_id for image in dataset.images))
    with pytest.raises(CancelledError):
        load_or_build_cache(dataset, RECIPE, tmp_path, 1, False, stop, lambda done, total: stop.set(), filling)
    assert filling.wait(len(dataset.images)) is None
