import os

from PIL import Image

from app.thumbnails import placeholder, thumbnail


def photo(path, size=(600, 400), colour=(10, 200, 30)):
    Image.new("RGB", size, colour).save(path)
    return path


def test_a_thumbnail_is_small_and_made_once(tmp_path):
    source = photo(tmp_path / "p.jpg")
    first = thumbnail(source, 224, tmp_path / "cache")
    assert Image.open(first).size == (224, 224)  # squared, so grids line up
    made = first.stat().st_mtime_ns
    assert thumbnail(source, 224, tmp_path / "cache") == first and first.stat().st_mtime_ns == made


def test_a_changed_photo_gets_a_new_thumbnail(tmp_path):
    source = photo(tmp_path / "p.jpg")
    first = thumbnail(source, 224, tmp_path / "cache")
    photo(source, colour=(250, 0, 0))
    os.utime(source, ns=(1, 1))
    assert thumbnail(source, 224, tmp_path / "cache") != first


def test_missing_or_broken_photos_have_no_thumbnail_but_a_placeholder(tmp_path):
    broken = tmp_path / "b.jpg"
    broken.write_bytes(b"not a jpeg")
    assert thumbnail(tmp_path / "gone.jpg", 224, tmp_path) is None
    assert thumbnail(broken, 224, tmp_path) is None
    assert Image.open(placeholder(224, tmp_path)).size == (224, 224)


def test_an_enlarged_view_scales_a_small_photo_up_to_fill_it(tmp_path):
    source = photo(tmp_path / "small.jpg", size=(100, 50))
    enlarged = Image.open(thumbnail(source, 640, tmp_path / "cache", enlarge=True)).convert("RGB")
    assert enlarged.size == (640, 640)
    assert enlarged.getpixel((5, 320))[0] < 100 and enlarged.getpixel((320, 5)) == (255, 255, 255)  # photo 640 x 320
    plain = Image.open(thumbnail(source, 640, tmp_path / "cache")).convert("RGB")
    assert plain.getpixel((5, 320)) == (255, 255, 255)  # a gallery thumbnail never scales up
