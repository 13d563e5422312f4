"""Safe extraction of the dataset archive, called directly (the downloader's tests reach it over HTTP)."""

import pytest

from engine.dataset.extract import ArchiveError, extract_archive
from tests.test_download import LAYOUT, make_tar_gz, make_zip


def test_a_zip_lands_as_its_root_folder(tmp_path):
    archive = make_zip(tmp_path / "CounterAnimal.zip", LAYOUT)
    (tmp_path / "to").mkdir()
    found = extract_archive(archive, archive.name, tmp_path / "to")
    assert found == tmp_path / "to" / "LAION-final"
    assert (found / "100 black swan" / "common-water" / "a.jpg").read_bytes() == b"jpeg a"


@pytest.mark.parametrize(
    "members", [{"../evil.jpg": b"x"}, {"/abs/evil.jpg": b"x"}, {"LAION-final\\..\\..\\evil.jpg": b"x"}]
)
def test_a_member_reaching_outside_is_refused_before_anything_is_written(tmp_path, members):
    archive = make_zip(tmp_path / "bad.zip", LAYOUT | members)
    (tmp_path / "to").mkdir()
    with pytest.raises(ArchiveError, match="would reach outside"):
        extract_archive(archive, archive.name, tmp_path / "to")
    assert not list((tmp_path / "to").iterdir())


def test_a_link_pointing_upwards_is_refused(tmp_path):
    archive = make_tar_gz(tmp_path / "bad.tar.gz", LAYOUT, symlinks={"LAION-final/up": "../../etc"})
    (tmp_path / "to").mkdir()
    with pytest.raises(ArchiveError, match="a link to '../../etc'"):
        extract_archive(archive, archive.name, tmp_path / "to")


def test_an_archive_without_class_folders_is_not_the_dataset(tmp_path):
    archive = make_zip(tmp_path / "other.zip", {"notes/readme.txt": b"hello"})
    (tmp_path / "to").mkdir()
    with pytest.raises(ArchiveError, match="not the dataset"):
        extract_archive(archive, archive.name, tmp_path / "to")
    assert not list((tmp_path / "to").iterdir())
