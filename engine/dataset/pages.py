"""Reading the web pages between the project page and the archive: Google Drive's confirm page, links to Drive
files, links to archives. Pure HTML parsing; no network here."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from html.parser import HTMLParser

DRIVE_DOWNLOAD = "https://drive.usercontent.google.com/download"  # where Drive serves file bytes
DRIVE_HOSTS = ("drive.google.com", "drive.usercontent.google.com", "docs.google.com")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


def find_download_url(page_html: str, page_url: str) -> str | None:
    """The next URL to fetch from a web page on the way to the archive, or None if the page links to none.

    In order: a Google Drive confirm form ("can't scan this file for viruses"), an older Drive confirm link
    (`...&confirm=...`), a link to a Google Drive file (as a direct download URL), a link to a .zip/.tar/.tgz
    file. Links whose text or address mentions "data" are tried first.
    """
    return next_url(parse_page(page_html), page_url)


def next_url(page: PageParser, page_url: str) -> str | None:
    for form in page.forms:
        if "confirm" in dict(form.fields):
            action = urllib.parse.urljoin(page_url, form.action or page_url)
            return f"{action}{'&' if '?' in action else '?'}{urllib.parse.urlencode(form.fields)}"
    links = [urllib.parse.urljoin(page_url, link.href) for link in _data_links_first(page.links)]
    for link in links:
        if "confirm" in urllib.parse.parse_qs(urllib.parse.urlparse(link).query):
            return link
    for link in links:
        if file_id := _drive_file_id(link):
            return drive_direct_url(file_id)
    return next((link for link in links if urllib.parse.urlparse(link).path.lower().endswith(ARCHIVE_SUFFIXES)), None)


def drive_direct_url(file_id: str) -> str:
    """The URL that serves a Google Drive file's bytes; `confirm=t` skips the virus-scan page for large files."""
    return f"{DRIVE_DOWNLOAD}?{urllib.parse.urlencode({'id': file_id, 'export': 'download', 'confirm': 't'})}"


@dataclass(frozen=True)
class _Link:
    href: str
    text: str


@dataclass(frozen=True)
class _Form:
    action: str
    fields: tuple[tuple[str, str], ...]  # hidden inputs, in page order: (name, value)


class PageParser(HTMLParser):
    """Collects what a download page offers: links with their text, forms with their hidden inputs, the title."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[_Link] = []
        self.forms: list[_Form] = []
        self.title = ""
        self._href: str | None = None  # the <a> being read
        self._text: list[str] = []
        self._form: tuple[str, list[tuple[str, str]]] | None = None  # the <form> being read
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "a" and a.get("href"):
            self._href, self._text = a["href"], []
        elif tag == "form":
            self._form = (a.get("action", ""), [])
        elif tag == "input" and self._form and a.get("name") and a.get("type", "").lower() == "hidden":
            self._form[1].append((a["name"], a.get("value", "")))
        self._in_title = tag == "title"

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append(_Link(self._href, " ".join(self._text).strip()))
            self._href = None
        elif tag == "form" and self._form:
            self.forms.append(_Form(self._form[0], tuple(self._form[1])))
            self._form = None
        self._in_title = False


def _data_links_first(links: list[_Link]) -> list[_Link]:
    # A project page links the paper and code too; the dataset's link says so in its text or address.
    return sorted(links, key=lambda link: "data" not in f"{link.text} {link.href}".lower())


def _drive_file_id(url: str) -> str | None:
    """The file id in drive.google.com/file/d/<id>/..., /open?id=<id>, /uc?id=<id>; None for other URLs."""
    parts = urllib.parse.urlparse(url)
    if parts.hostname not in DRIVE_HOSTS:
        return None
    if match := re.match(r"/file/d/([\w-]+)", parts.path):
        return match.group(1)
    return urllib.parse.parse_qs(parts.query).get("id", [None])[0]


def parse_page(page_html: str) -> PageParser:
    page = PageParser()
    page.feed(page_html)
    page.close()
    return page
