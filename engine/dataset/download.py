"""Download the CounterAnimal archive, verify it, and extract it safely.

The dataset is one archive on Google Drive, linked from the project page; its Drive file id is not published in a
form we can pin, so a download starts from a URL (the project page by default) and follows web pages to the file:
Drive's "can't scan for viruses" confirm page, a link to a Drive file, or a link to an archive. `file://` URLs (and
plain paths) run an archive fetched by hand through the same checks and extraction.

Nothing here leaves a half-finished state: the archive streams to a hidden `.part` file, is extracted into a hidden
temporary folder, and only a complete, verified dataset is renamed into place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.response import addinfourl

from tqdm import tqdm

from engine.dataset.extract import DEFAULT_NAME, ArchiveError, extract_archive
from engine.dataset.pages import ARCHIVE_SUFFIXES, next_url, parse_page
from engine.dataset.reader import locate_dataset
from engine.errors import UserError

PROJECT_PAGE = "https://counteranimal.github.io"
URL_ENV = "COUNTERANIMAL_DATA_URL"  # overrides the default URL
MAX_HOPS = 5  # web pages followed before giving up: project page -> Drive link -> confirm page is 3
CHUNK_BYTES = 1 << 20  # 1 MiB per read: few system calls, yet the progress bar moves several times a second
MAX_PAGE_BYTES = 5 << 20  # HTML read to look for links; download pages are a few kB
MANUAL_STEPS = (
    f"To download by hand: open {PROJECT_PAGE} in a browser on a machine with internet, download the dataset "
    "archive from its Google Drive link, copy it to this machine, and run "
    "`counteranimal download --url file:///path/to/archive.zip` (or extract it yourself and pass the folder "
    "to `--data`)."
)
Response = HTTPResponse | addinfourl  # what urllib returns for http(s):// and for file:// URLs
log = logging.getLogger(__name__)


class DownloadError(UserError):
    """The dataset could not be downloaded or extracted; the message says what went wrong and what to do."""


@dataclass(frozen=True)
class _Downloaded:
    """An archive streamed to disk, not yet trusted."""

    path: Path  # the hidden `.download-<name>.part` file
    name: str  # the archive's file name, from the server or the URL
    url: str  # where the bytes came from, after redirects
    sha256: str  # hex digest, computed while streaming


def download_dataset(
    to: Path, url: str | None = None, sha256: str | None = None, timeout_s: float = 30.0, progress: bool = True
) -> Path:
    """Download the archive, verify it, extract it under `to`, and return the extracted dataset folder.

    If `to` already holds an extracted dataset (see `reader.locate_dataset`), that folder is returned as it is and
    nothing is downloaded, so scripts can call this unconditionally; delete the folder to download again. A failed
    call leaves `to` as it was (though created if missing): no `.part` file, no temporary folder, no archive, and
    earlier files untouched. The archive itself is deleted once extracted.

    Args:
        to: folder to extract into (created if missing); the dataset lands in a subfolder named by the archive.
        url: an archive, a page linking to one, a Google Drive link, a `file://` URL or a local path. Defaults to
            `$COUNTERANIMAL_DATA_URL`, else the project page.
        sha256: expected hex digest of the archive; checked before anything is extracted.
        timeout_s: seconds to wait for a connection or for the next bytes.
        progress: show a progress bar on stderr.

    Returns:
        The folder holding the class folders (`LAION-final/` in the distributed archive).

    Raises:
        DownloadError: with what went wrong and, where it helps, how to download by hand.
    """
    to = Path(to)
    if existing := locate_dataset(to):
        log.info("%s already holds the dataset at %s; delete it to download again", to, existing)
        return existing
    to.mkdir(parents=True, exist_ok=True)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # Drive sets cookies on confirm
    downloaded = _download(opener, _resolve_url(url), to, timeout_s, progress)
    try:
        log.info("Downloaded %s from %s (sha256 %s)", downloaded.name, downloaded.url, downloaded.sha256)
        _check_sha256(downloaded, sha256)
        return extract_archive(downloaded.path, downloaded.name, to)
    except ArchiveError as error:
        raise DownloadError(f"{error} {MANUAL_STEPS}") from error
    finally:
        downloaded.path.unlink(missing_ok=True)


def _resolve_url(url: str | None) -> str:
    chosen = url or os.environ.get(URL_ENV) or PROJECT_PAGE
    # A plain path to an archive fetched by hand is accepted as if it were a file:// URL.
    if not urllib.parse.urlparse(chosen).scheme and Path(chosen).exists():
        return Path(chosen).resolve().as_uri()
    return chosen


# --- Fetching -------------------------------------------------------------------------------------------------------


def _download(
    opener: urllib.request.OpenerDirector, url: str, to: Path, timeout_s: float, progress: bool
) -> _Downloaded:
    response = _open_archive(opener, url, timeout_s)
    with response:
        name = _archive_name(response)
        part = to / f".download-{name}.part"
        try:
            digest = _stream(response, part, timeout_s, progress)
        except BaseException:  # Ctrl-C included: a partial file must never stay behind
            part.unlink(missing_ok=True)
            raise
        return _Downloaded(part, name, response.geturl(), digest)


def _open_archive(opener: urllib.request.OpenerDirector, url: str, timeout_s: float) -> Response:
    """Follow web pages from `url` until a response that is not HTML, and return that response, unread."""
    visited: list[str] = []
    while len(visited) <= MAX_HOPS:
        response = _open(opener, url, timeout_s)
        if response.headers.get_content_type() not in ("text/html", "application/xhtml+xml"):
            return response
        with response:
            page_url, page_html = response.geturl(), _read_page(response, url, timeout_s)
        visited.append(url)
        page = parse_page(page_html)
        following = next_url(page, page_url)
        if following is None:
            raise DownloadError(
                f"{page_url} is a web page (title {page.title.strip()!r}) with no link to the dataset archive "
                f"(looked for a Google Drive file link or a .zip/.tar/.tar.gz/.tgz link). {MANUAL_STEPS}"
            )
        if following in visited:
            raise DownloadError(
                f"{page_url} leads back to {following}: the server keeps answering with a web page instead of the "
                f"archive (Google Drive does this when a file is over its download quota or needs sign-in). "
                f"{MANUAL_STEPS}"
            )
        log.info("Following %s", following)
        url = following
    raise DownloadError(f"Gave up after {MAX_HOPS} web pages without reaching an archive (last: {url}). {MANUAL_STEPS}")


def _open(opener: urllib.request.OpenerDirector, url: str, timeout_s: float) -> Response:
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "Mozilla/5.0 (counteranimal-explorer)"})
        return opener.open(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{url} answered HTTP {error.code} {error.reason}. {MANUAL_STEPS}") from error
    except (OSError, HTTPException) as error:
        raise DownloadError(f"Could not open {url} ({_describe(error, timeout_s)}). {MANUAL_STEPS}") from error
    except ValueError as error:  # urllib's answer to a string that is not a URL
        raise DownloadError(f"{url!r} is neither a URL nor an existing file ({error}). {MANUAL_STEPS}") from error


def _describe(error: BaseException, timeout_s: float) -> str:
    reason = getattr(error, "reason", error)  # URLError wraps the socket error
    if isinstance(reason, socket.gaierror):
        return "the host name could not be resolved: is this machine offline?"
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return str(reason) or type(reason).__name__


def _read(response: Response, url: str, timeout_s: float, size: int) -> bytes:
    try:
        return response.read(size)
    except (OSError, HTTPException) as error:
        raise DownloadError(
            f"The download from {url} broke off ({_describe(error, timeout_s)}). {MANUAL_STEPS}"
        ) from error


def _read_page(response: Response, url: str, timeout_s: float) -> str:
    charset = response.headers.get_content_charset() or "utf-8"
    return _read(response, url, timeout_s, MAX_PAGE_BYTES).decode(charset, errors="replace")


def _archive_name(response: Response) -> str:
    """The archive's file name: the server's (Drive sends one), else the URL's, else a default."""
    name = response.headers.get_filename() or PurePosixPath(urllib.parse.urlparse(response.geturl()).path).name
    name = re.sub(r"[^\w.+-]", "_", PureWindowsPath(name).name)  # a bare file name, whatever the server sent
    return name if name.lower().endswith(ARCHIVE_SUFFIXES) else DEFAULT_NAME


def _stream(response: Response, part: Path, timeout_s: float, progress: bool) -> str:
    """Copy the response body to `part` with a progress bar; return its sha256."""
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None  # unknown for chunked responses: no ETA then
    digest, received = hashlib.sha256(), 0
    name = part.name.removeprefix(".download-").removesuffix(".part")
    bar = tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress)
    try:
        with bar, part.open("wb") as out:
            while chunk := _read(response, response.geturl(), timeout_s, CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
                received += len(chunk)
    except OSError as error:  # network errors arrive as DownloadError, so this is the local disk
        raise DownloadError(f"Cannot write {part} ({error.strerror}); free some space or use --to.") from error
    if total is not None and received < total:  # http.client reports a dropped connection as a short body
        raise DownloadError(f"The connection closed after {received:,} of {total:,} bytes. {MANUAL_STEPS}")
    return digest.hexdigest()


# --- Verifying ------------------------------------------------------------------------------------------------------


def _check_sha256(downloaded: _Downloaded, expected: str | None) -> None:
    if expected and downloaded.sha256 != expected.strip().lower():
        raise DownloadError(
            f"The archive from {downloaded.url} has SHA-256 {downloaded.sha256}, but {expected.strip()} was "
            "expected: it is damaged or a different version. Nothing was extracted; download it again, or check "
            f"the expected checksum. {MANUAL_STEPS}"
        )
