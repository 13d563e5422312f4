"""The dataset downloader, against a local HTTP server: no test reaches the internet."""

from __future__ import annotations

import functools
import hashlib
import io
import socket
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.dataset.download import PROJECT_PAGE, URL_ENV, DownloadError, download_dataset
from engine.dataset.pages import drive_direct_url, find_download_url
from engine.dataset.reader import locate_dataset

# The distributed archive's layout, in miniature: one class with one common and one counter background.
LAYOUT = {
    "LAION-final/100 black swan/common-water/a.jpg": b"jpeg a",
    "LAION-final/100 black swan/counter-ground/b.jpg": b"jpeg b",
    "LAION-final/imagenet_names.txt": b"100\tblack swan\n",
}
TRUNCATED_PATH = "/truncated.zip"  # the server promises 1,000 bytes there and sends 8


@dataclass(frozen=True)
class Server:
    root: Path  # the folder served
    url: str  # http://127.0.0.1:<port>
    requests: list[str]  # request paths (with queries), in order


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def make_tar_gz(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            archive.addfile(link)
    return path


def make_dataset(folder: Path) -> Path:
    """An extracted dataset, as an earlier download would have left it."""
    for name, data in LAYOUT.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder / "LAION-final"


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def refused_url() -> str:
    """A local port with nothing listening."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/LAION-final.zip"


class Handler(SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        if self.path == TRUNCATED_PATH:
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"PK\x03\x04 cut")
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "served"
    root.mkdir()
    handler = type("RecordingHandler", (Handler,), {"requests": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Server(root, f"http://127.0.0.1:{httpd.server_address[1]}", handler.requests)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_zip_archive_is_downloaded_and_extracted(server, dest):
    make_zip(server.root / "LAION-final.zip", LAYOUT)
    folder = download_dataset(dest, url=f"{server.url}/LAION-final.zip")
    assert folder == dest / "LAION-final"
    assert (folder / "100 black swan" / "counter-ground" / "b.jpg").read_bytes() == b"jpeg b"
    assert (folder / "imagenet_names.txt").exists()


def test_successful_download_leaves_only_the_dataset_folder(server, dest):
    make_zip(server.root / "LAION-final.zip", LAYOUT)
    download_dataset(dest, url=f"{server.url}/LAION-final.zip", progress=False)
    assert [p.name for p in dest.iterdir()] == ["LAION-final"]


def test_matching_sha256_is_accepted(server, dest):
    archive = make_zip(server.root / "LAION-final.zip", LAYOUT)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest().upper()
    assert download_dataset(dest, url=f"{server.url}/LAION-final.zip", sha256=digest) == dest / "LAION-final"


def test_tar_gz_archive_is_extracted(server, dest):
    make_tar_gz(server.root / "LAION-final.tar.gz", LAYOUT)
    folder = download_dataset(dest, url=f"{server.url}/LAION-final.tar.gz")
    assert (folder / "100 black swan" / "common-water" / "a.jpg").read_bytes() == b"jpeg a"


def test_archive_without_root_folder_gets_a_folder_named_after_it(server, dest):
    members = {name.removeprefix("LAION-final/"): data for name, data in LAYOUT.items()}
    make_zip(server.root / "CounterAnimal.zip", members)
    assert download_dataset(dest, url=f"{server.url}/CounterAnimal.zip") == dest / "CounterAnimal"


def test_url_env_var_is_used_without_url(server, dest, monkeypatch):
    make_zip(server.root / "LAION-final.zip", LAYOUT)
    monkeypatch.setenv(URL_ENV, f"{server.url}/LAION-final.zip")
    assert download_dataset(dest) == dest / "LAION-final"


def test_explicit_url_overrides_env_var(server, dest, monkeypatch):
    make_zip(server.root / "LAION-final.zip", LAYOUT)
    monkeypatch.setenv(URL_ENV, refused_url())
    assert download_dataset(dest, url=f"{server.url}/LAION-final.zip") == dest / "LAION-final"


def test_project_page_link_to_archive_is_followed(server, dest):
    make_zip(server.root / "LAION-final.zip", LAYOUT)
    page = '<html><a href="paper.pdf">Paper</a> <a href="LAION-final.zip">Dataset</a></html>'
    (server.root / "index.html").write_text(page)
    assert download_dataset(dest, url=f"{server.url}/") == dest / "LAION-final"


def test_drive_confirm_form_is_followed(server, dest):
    make_zip(server.root / "download", LAYOUT)  # the handler ignores the query string
    form = (
        f'<form id="download-form" action="{server.url}/download" method="get">'
        '<input type="submit" id="uc-download-link" value="Download anyway"/>'
        '<input type="hidden" name="id" value="FILE123"><input type="hidden" name="export" value="download">'
        '<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="u-1"></form>'
    )
    (server.root / "warning.html").write_text(f"<html><title>Google Drive - Virus scan warning</title>{form}</html>")
    assert download_dataset(dest, url=f"{server.url}/warning.html") == dest / "LAION-final"
    assert server.requests[-1] == "/download?id=FILE123&export=download&confirm=t&uuid=u-1"


def test_old_drive_confirm_link_is_followed(server, dest):
    make_zip(server.root / "uc", LAYOUT)
    link = '<a id="uc-download-link" href="/uc?export=download&amp;confirm=AbCd&amp;id=FILE123">Download anyway</a>'
    (server.root / "warning.html").write_text(f"<html>{link}</html>")
    assert download_dataset(dest, url=f"{server.url}/warning.html") == dest / "LAION-final"
    assert server.requests[-1] == "/uc?export=download&confirm=AbCd&id=FILE123"


@pytest.mark.parametrize(
    "href",
    [
        "https://drive.google.com/file/d/1a-B_c/view?usp=sharing",
        "https://drive.google.com/open?id=1a-B_c",
        "https://drive.google.com/uc?id=1a-B_c&export=download",
    ],
)
def test_drive_file_links_become_direct_downloads(href):
    url = find_download_url(f'<a href="{href}">Dataset</a>', PROJECT_PAGE)
    assert url == "https://drive.usercontent.google.com/download?id=1a-B_c&export=download&confirm=t"


def test_link_mentioning_data_is_preferred():
    page = (
        '<a href="https://drive.google.com/file/d/PAPER/view">Paper</a> '
        '<a href="https://drive.google.com/file/d/DATA/view">Dataset</a>'
    )
    assert find_download_url(page, PROJECT_PAGE) == drive_direct_url("DATA")


def test_sha256_mismatch_fails_and_leaves_nothing(server, dest):
    make_zip(server.root / "LAION-final.zip", LAYOUT)
    with pytest.raises(DownloadError, match="SHA-256"):
        download_dataset(dest, url=f"{server.url}/LAION-final.zip", sha256="0" * 64)
    assert listing(dest) == []


def test_path_traversal_member_is_refused(server, tmp_path, dest):
    make_zip(server.root / "evil.zip", {**LAYOUT, "../evil.txt": b"owned"})
    with pytest.raises(DownloadError, match="outside the destination"):
        download_dataset(dest, url=f"{server.url}/evil.zip")
    assert not (tmp_path / "evil.txt").exists()
    assert listing(dest) == []


def test_tar_symlink_pointing_outside_is_refused(server, dest):
    make_tar_gz(server.root / "evil.tar.gz", LAYOUT, symlinks={"LAION-final/escape": "../../outside"})
    with pytest.raises(DownloadError, match="outside the destination"):
        download_dataset(dest, url=f"{server.url}/evil.tar.gz")
    assert listing(dest) == []


def test_html_received_instead_of_archive_is_named(server, dest):
    (server.root / "LAION-final.zip").write_text("<!DOCTYPE html><html>Sign in</html>")  # served as a zip
    with pytest.raises(DownloadError, match="received an HTML page"):
        download_dataset(dest, url=f"{server.url}/LAION-final.zip")
    assert listing(dest) == []


def test_page_without_link_gives_manual_steps(server, dest):
    (server.root / "index.html").write_text("<html><title>Quota exceeded</title><a href='/help'>Help</a></html>")
    with pytest.raises(DownloadError, match="no link to the dataset archive") as raised:
        download_dataset(dest, url=f"{server.url}/index.html")
    assert PROJECT_PAGE in str(raised.value) and "--url file:///" in str(raised.value)


def test_refused_connection_gives_manual_steps_quickly(dest):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="connection refused") as raised:
        download_dataset(dest, url=refused_url())
    assert time.monotonic() - start < 5
    assert PROJECT_PAGE in str(raised.value)


def test_silent_server_times_out_with_manual_steps(dest):
    with socket.socket() as silent:  # accepts connections (the kernel does) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(DownloadError, match=r"no answer within 0.3 s.*counteranimal\.github\.io"):
            download_dataset(dest, url=f"http://127.0.0.1:{silent.getsockname()[1]}/x.zip", timeout_s=0.3)


def test_http_error_names_the_status(server, dest):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_dataset(dest, url=f"{server.url}/missing.zip")


def test_interrupted_download_leaves_no_part_file(server, dest):
    with pytest.raises(DownloadError, match="closed after 8 of 1,000 bytes"):
        download_dataset(dest, url=f"{server.url}{TRUNCATED_PATH}")
    assert listing(dest) == []


def test_existing_dataset_is_returned_without_downloading(dest):
    existing = make_dataset(dest)
    before = {p: p.read_bytes() for p in existing.rglob("*") if p.is_file()}
    assert download_dataset(dest, url=refused_url()) == existing
    assert {p: p.read_bytes() for p in existing.rglob("*") if p.is_file()} == before


def test_same_named_folder_is_not_overwritten(server, dest):
    make_zip(server.root / "LAION-final.zip", LAYOUT)
    (dest / "LAION-final").mkdir(parents=True)
    (dest / "LAION-final" / "notes.txt").write_text("mine")
    with pytest.raises(DownloadError, match="already exists"):
        download_dataset(dest, url=f"{server.url}/LAION-final.zip")
    assert listing(dest) == ["LAION-final", "LAION-final/notes.txt"]


def test_file_url_is_extracted(tmp_path, dest):
    archive = make_zip(tmp_path / "LAION-final.zip", LAYOUT)
    assert download_dataset(dest, url=archive.as_uri()) == dest / "LAION-final"
    assert archive.exists()  # the user's own copy stays


def test_plain_path_is_taken_as_file_url(tmp_path, dest):
    archive = make_zip(tmp_path / "LAION-final.zip", LAYOUT)
    assert download_dataset(dest, url=str(archive)) == dest / "LAION-final"


def test_paper_layout_is_found(tmp_path):
    (tmp_path / "CounterAnimal" / "black swan" / "common-water").mkdir(parents=True)
    (tmp_path / "CounterAnimal" / "black swan" / "counter-ground").mkdir()
    assert locate_dataset(tmp_path) == tmp_path / "CounterAnimal"
