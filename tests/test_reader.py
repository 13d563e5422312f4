"""Reading dataset folders: both real layouts, awkward files, and clear errors."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.dataset.reader import DatasetError, find_dataset_root, load_dataset
from engine.dataset.synthetic import write_dataset
from engine.inference.image_cache import find_unreadable


@pytest.fixture
def named(tmp_path):
    return write_dataset(tmp_path, [296, 9], per_group=2, layout="named", sizes=(40, 50))


def test_archive_layout_maps_folders_to_imagenet_indices(dataset_dir):
    dataset = load_dataset(dataset_dir)
    assert dataset.layout == "indexed"
    assert [c.class_id for c in dataset.classes] == [9, 100, 296]
    bear = next(c for c in dataset.classes if c.class_id == 296)
    assert (bear.folder, bear.common_background, bear.counter_background) == ("296 ice bear", "snow", "grass")
    assert len(dataset.images) == 3 * 2 * 4


def test_image_records_carry_class_split_and_background(dataset_dir):
    image = next(i for i in load_dataset(dataset_dir).images if i.class_id == 296 and i.split == "counter")
    assert image.image_id.startswith("296 ice bear/counter-grass/")
    assert image.background == "grass"


def test_papers_appendix_layout_maps_animal_names(named):
    dataset = load_dataset(named)
    assert dataset.layout == "named"
    assert {c.folder: c.class_id for c in dataset.classes} == {"ice bear": 296, "ostrich": 9}


def test_synonyms_and_case_identify_a_class(named):
    (named / "ice bear").rename(named / "Polar_Bear")
    assert {c.class_id for c in load_dataset(named).classes} == {9, 296}


def test_extraction_folder_finds_the_dataset_inside(dataset_dir):
    assert find_dataset_root(dataset_dir.parent) == dataset_dir


def test_unknown_class_folder_is_an_error(named):
    (named / "unicorn" / "common-grass").mkdir(parents=True)
    (named / "unicorn" / "counter-snow").mkdir()
    with pytest.raises(DatasetError, match="'unicorn' is not an ImageNet-1K class"):
        load_dataset(named)


def test_any_imagenet_class_may_be_in_a_curated_set_but_not_an_index_past_999(tmp_path):
    dataset = write_dataset(tmp_path, [296], per_group=1, sizes=(40, 40))
    (dataset / "296 ice bear").rename(dataset / "1 goldfish")
    assert [c.class_id for c in load_dataset(dataset).classes] == [1]
    (dataset / "1 goldfish").rename(dataset / "1000 nothing")
    with pytest.raises(DatasetError, match="1000 is not an ImageNet-1K class index"):
        load_dataset(dataset)


def test_a_class_name_two_imagenet_classes_share_asks_for_the_index(named):
    (named / "crane" / "common-grass").mkdir(parents=True)
    (named / "crane" / "counter-snow").mkdir()
    with pytest.raises(
        DatasetError, match="names two ImageNet classes; name it by its index: '134 crane', '517 crane'"
    ):
        load_dataset(named)


def test_class_without_a_counter_group_is_an_error(named):
    shutil.rmtree(next((named / "ostrich").glob("counter-*")))
    (named / "ostrich" / "notes").mkdir()
    with pytest.raises(DatasetError, match="'ostrich' must hold exactly one counter-<background> folder"):
        load_dataset(named)


def test_class_with_two_common_groups_is_an_error(named):
    (named / "ostrich" / "common-sand").mkdir()
    with pytest.raises(DatasetError, match="exactly one common-<background>"):
        load_dataset(named)


def test_a_folder_without_any_dataset_is_explained(tmp_path):
    (tmp_path / "holiday photos").mkdir()
    with pytest.raises(DatasetError, match="counteranimal download"):
        load_dataset(tmp_path)


def write_awkward_files(group):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(group / "upper.JPG")
    Image.fromarray(pixels).save(group / "long.jpeg")
    Image.fromarray(pixels).save(group / "lossless.png")
    Image.fromarray(pixels[..., 0]).save(group / "gray.jpg")
    Image.fromarray(pixels).convert("CMYK").save(group / "cmyk.jpg")
    Image.fromarray(np.dstack([pixels, pixels[..., :1]])).save(group / "alpha.png")
    whole = (group / "upper.JPG").read_bytes()
    (group / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (group / "notes.txt").write_text("not a photo")
    (group / "empty.jpg").write_bytes(b"")


def test_awkward_files_are_read_or_reported(named):
    group = next((named / "ostrich").glob("common-*"))
    write_awkward_files(group)
    dataset = load_dataset(named)
    assert dataset.empty_files == (f"ostrich/{group.name}/empty.jpg",)
    unreadable = find_unreadable(dataset, workers=1, progress=False)
    assert set(unreadable) == {f"ostrich/{group.name}/truncated.jpg", f"ostrich/{group.name}/notes.txt"}
    assert "truncated" in unreadable[f"ostrich/{group.name}/truncated.jpg"]
    assert "UnidentifiedImageError" in unreadable[f"ostrich/{group.name}/notes.txt"]


def test_fingerprint_survives_copying_and_changes_with_contents(named, tmp_path):
    copy = shutil.copytree(named, tmp_path / "copy")
    assert load_dataset(copy).fingerprint == load_dataset(named).fingerprint
    next(copy.rglob("*.jpg")).write_bytes(b"different size")
    assert load_dataset(copy).fingerprint != load_dataset(named).fingerprint


def test_a_missing_dataset_folder_is_named_absolutely_with_the_next_step(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError) as raised:
        find_dataset_root(Path("data"))
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'data'} is not a folder")
    assert "counteranimal download" in message and "counteranimal demo" in message
