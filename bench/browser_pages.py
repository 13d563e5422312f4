"""The dashboard's pages in headless Chromium, for the browser benchmarks (browser_latency.py, browser_compare.py):
which page is which and when it is ready, the servers (the dashboard as `counteranimal serve` starts it, and
Streamlit's own minimal app as the baseline), and a timed open of a page."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page

from engine.config import CACHE_ENV, PAPER_ENV

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
VIEWPORT = {"width": 1400, "height": 1000}
READY_TIMEOUT_MS = 120_000  # a cold Evaluate page on a busy machine takes seconds; a broken page fails after this
RUNS = 50  # evaluation runs of 13,100 photos each in the "50 runs" dataset, as in bench/app_latency.py
JOBS = 200
SEED = 20240611


@dataclass(frozen=True)
class Target:
    """A page and what shows it is ready: its title and a chart, a thumbnail or an element."""

    name: str
    path: str  # URL path ("" is the default page)
    title: str
    kind: str  # "chart", "image" or "element"
    selector: str = ""  # for "element": a CSS selector


OVERVIEW = Target("overview", "", "Common vs counter backgrounds", "chart")
SCALING = Target("scaling", "scaling", "Scaling backbones and data", "chart")
CLASSES = Target("classes", "classes", "Classes and backgrounds", "chart")
GALLERY = Target("gallery", "gallery", "Gallery", "image")
CONFUSIONS = Target("confusions", "confusions", "Confusions", "image")
FLIPS = Target("flips", "flips", "Flips between two runs", "element", '[data-testid="stMetric"]')
EVALUATE = Target("evaluate", "evaluate", "Evaluate your own model", "element", ".st-key-job_submit button")
ABOUT = Target("about", "about", "About CounterAnimal Explorer", "element", "h2, h3, p")
PAPER_PAGES = (OVERVIEW, SCALING, CLASSES, ABOUT)
RUN_PAGES = (OVERVIEW, SCALING, CLASSES, GALLERY, CONFUSIONS, FLIPS, EVALUATE, ABOUT)

# Streamlit's minimal app, served the same way: st.navigation over a title-only page and a one-chart page.
BASELINE_APP = textwrap.dedent(
    """
    import plotly.graph_objects as go
    import streamlit as st

    def hello():
        st.title("Hello")
        st.write("A minimal page.")

    def chart():
        st.title("Chart")
        st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))

    st.navigation([st.Page(hello, title="Hello", url_path="hello", default=True), st.Page(chart, title="Chart")]).run()
    """
)
BASELINE_PAGES = (
    Target("hello", "", "Hello", "element", '[data-testid="stMarkdownContainer"] p'),
    Target("chart", "chart", "Chart", "chart"),
)

# True once the page shows `title` and its ready element, neither left over from the previous page (stale).
READY = """([title, kind, selector]) => {
    const fresh = e => !e.closest('[data-stale="true"]');
    const heading = [...document.querySelectorAll('h1')].filter(fresh);
    if (!heading.some(h => h.textContent.trim().startsWith(title))) return false;
    if (kind === 'chart') return [...document.querySelectorAll('.js-plotly-plot .xtick text')].some(fresh);
    if (kind === 'image') return [...document.querySelectorAll('[data-testid="stImage"] img')]
        .some(i => fresh(i) && i.complete && i.naturalWidth > 0);
    return [...document.querySelectorAll(selector)].some(e => fresh(e) && e.getBoundingClientRect().height > 0);
}"""


# ---------------------------------------------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"no answer at {url} within {timeout_s} s")


@contextmanager
def serving(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """A server started with `command`, its "{port}" a free loopback port; stopped on exit."""
    port = free_port()
    process = subprocess.Popen(
        [part.format(port=port) for part in command],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def dashboard(results: Path, paper: Path, cache: Path) -> Iterator[str]:
    command = [sys.executable, "-m", "engine.cli", "serve", "--host", "127.0.0.1", "--port", "{port}"]
    command += ["--results", str(results)]
    return serving(command, results.parent, {PAPER_ENV: str(paper), CACHE_ENV: str(cache)})


def baseline_server(folder: Path) -> Iterator[str]:
    script = folder / "minimal_app.py"
    script.write_text(BASELINE_APP, encoding="utf-8")
    command = [sys.executable, "-m", "streamlit", "run", "--server.headless", "true", "--server.address", "127.0.0.1"]
    command += ["--server.port", "{port}", "--browser.gatherUsageStats", "false", str(script)]
    return serving(command, folder, {})


# ---------------------------------------------------------------------------------------------------------------
# Opening a page


def wait_ready(page: Page, target: Target) -> None:
    page.wait_for_function(READY, arg=[target.title, target.kind, target.selector], timeout=READY_TIMEOUT_MS)


def timed_open(page: Page, url: str, target: Target) -> float:
    start = time.perf_counter()
    page.goto(f"{url}/{target.path}", wait_until="commit")
    wait_ready(page, target)
    return time.perf_counter() - start


def first_visit(browser: Browser, url: str, target: Target) -> float:
    """A new browser profile (no HTTP cache) opening the page, so neither the browser nor the server has seen it."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        return timed_open(context.new_page(), url, target)
    finally:
        context.close()


def machine() -> str:
    return f"{platform.platform()} ({platform.machine()}), {os.cpu_count()} CPUs"
