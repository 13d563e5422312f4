"""Server-side render time of each dashboard page, measured with Streamlit's AppTest.

What it measures: the time `AppTest.run()` takes to execute `app/main.py` for one page (the Python script run on the
server: queries, pandas, plotly figure building, element serialisation). It does not include the network or the
browser drawing the page.

For two datasets, "paper" (a copy of the shipped tables in results/paper/) and "paper+500" (the same copy with 500
synthetic models and their 1 vs 1000 and 1 vs 20 scores appended), and for each page it records:
- cold: the first render of the page in a fresh AppTest right after `st.cache_data.clear()`, so every query runs;
- warm: the median of `--runs` reruns of the same AppTest, the cost of a widget interaction with a filled cache.
Before measuring, every page is rendered once and discarded, so "cold" means a cold data cache, not a cold
interpreter (the one-time imports of plotly, duckdb and pandas are reported separately as the warm-up).

A trivial AppTest script (`st.write("hi")`) is timed in the same run as a baseline, so that figures taken on
different machines can be compared as ratios. The goal is under 1 s per page (warm); each page prints PASS or FAIL
against it, and the script exits 0 either way. It exits non-zero only if a page fails to render.

Run it from the repository root:

    .venv/bin/python bench/app_latency.py [--runs N]    # or: make bench

Figures go to bench/results/app_latency.json and a table to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest
from synthetic_data import add_synthetic_models, copy_paper, write_jobs, write_runs  # bench/ is on sys.path as a script

from app.widgets.chart import drawn_figures
from engine.config import CACHE_ENV, PAPER_ENV, RESULTS_ENV

REPO = Path(__file__).resolve().parents[1]
APP_MAIN = REPO / "app" / "main.py"
OUTPUT = REPO / "bench" / "results" / "app_latency.json"
GOAL_S = 1.0  # the target: every page under 1 s once the cache is warm
RUN_TIMEOUT_S = 60  # AppTest's default of 3 s is too short for a cold render on a slow machine

SYNTHETIC_MODELS = 500
SYNTHETIC_SEED = 20240611  # fixed, so "paper+500" is the same table on every run and machine


@dataclass(frozen=True)
class Page:
    """A dashboard page and what a successful render of it shows."""

    name: str
    path: str  # relative to app/main.py, as AppTest.switch_page wants it
    title: str
    charts: int  # plotly charts on the page with its default widget values


PAGES = (
    Page("overview", "app_pages/overview.py", "Common vs counter backgrounds", 1),
    Page("scaling", "app_pages/scaling.py", "Scaling backbones and data", 3),
    Page("classes", "app_pages/classes.py", "Classes and backgrounds", 2),
    Page("about", "app_pages/about.py", "About CounterAnimal Explorer", 0),
)
RUN_PAGES = (
    PAGES[0],
    PAGES[2],
    Page("gallery", "app_pages/gallery.py", "Gallery", 0),
    Page("confusions", "app_pages/confusions.py", "Confusions", 0),
    Page("flips", "app_pages/flips.py", "Flips between two runs", 0),
    Page("evaluate", "app_pages/evaluate.py", "Evaluate your own model", 0),
)
DEFAULT_PAGE = PAGES[0]
RUNS = 50  # evaluation runs of 13,100 photos each in the "runs" dataset
JOBS = 200  # finished evaluation jobs in the "runs" dataset: the Evaluate page shows the latest 20


@dataclass(frozen=True)
class PageTiming:
    """One row of the JSON output."""

    dataset: str
    page: str
    cold_s: float
    warm_median_s: float
    warm_runs: list[float]
    ratio_to_baseline: float
    under_1s: bool


# ---------------------------------------------------------------------------------------------------------------
# Datasets


@dataclass(frozen=True)
class Data:
    """What the app reads in one benchmark dataset, and which pages are measured on it."""

    paper: Path
    results: Path
    pages: tuple[Page, ...]


def build_datasets(root: Path) -> dict[str, Data]:
    """Dataset name -> its folders under `root`: the paper alone, with 500 extra models, with 50 runs."""
    empty = root / "results"
    empty.mkdir()
    paper = copy_paper(root / "paper")
    larger = copy_paper(root / "paper+500")
    add_synthetic_models(larger, SYNTHETIC_MODELS, SYNTHETIC_SEED)
    runs = root / "runs-results"
    write_runs(runs, paper, root / "photos", RUNS, SYNTHETIC_SEED)
    write_jobs(runs, JOBS)
    return {
        "paper": Data(paper, empty, PAGES),
        "paper+500": Data(larger, empty, PAGES),
        f"{RUNS} runs": Data(paper, runs, RUN_PAGES),
    }


@contextmanager
def dataset_environment(data: Data, cache: Path) -> Iterator[None]:
    """Point the app at a dataset. AppTest runs the script in this process, so os.environ is what the app reads."""
    saved = {name: os.environ.get(name) for name in (PAPER_ENV, RESULTS_ENV, CACHE_ENV)}
    os.environ[PAPER_ENV], os.environ[RESULTS_ENV], os.environ[CACHE_ENV] = map(str, (data.paper, data.results, cache))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ---------------------------------------------------------------------------------------------------------------
# Rendering and checking

# Streamlit warns whenever its API is used outside a served session, as this benchmark does on purpose
# (st.cache_data.clear() from the main thread, AppTest without a Runtime). A filter, not a log level: Streamlit
# resets its loggers' levels when AppTest loads its config.
EXPECTED_WARNINGS = {
    "streamlit.runtime.scriptrunner_utils.script_run_context": "Thread '%s': missing ScriptRunContext!",
    "streamlit.runtime.caching.cache_data_api": "No runtime found, using MemoryCacheStorageManager",
}


def quiet_expected_warnings() -> None:
    """Drop the two warnings above, keep every other Streamlit log line."""
    for logger, prefix in EXPECTED_WARNINGS.items():
        logging.getLogger(logger).addFilter(lambda record, prefix=prefix: not str(record.msg).startswith(prefix))


def timed_run(at: AppTest) -> float:
    start = time.perf_counter()
    at.run(timeout=RUN_TIMEOUT_S)
    return time.perf_counter() - start


def check_render(at: AppTest, page: Page, what: str) -> None:
    """Fail loudly unless the run raised nothing and drew the expected page: a broken page has no latency."""
    problems = [f"exception: {e.message}" for e in at.exception] + [f"st.error: {e.value}" for e in at.error]
    titles = [t.value for t in at.title]
    if titles != [page.title]:
        problems.append(f"titles {titles}, expected [{page.title!r}]")
    charts = len(drawn_figures(at))
    if charts != page.charts:
        problems.append(f"{charts} plotly charts, expected {page.charts}")
    if problems:
        raise RuntimeError(f"{what}: page {page.name!r} did not render: " + "; ".join(problems))


def fresh_app_on(page: Page) -> AppTest:
    """A new AppTest showing `page`, with the data cache emptied just before the page's first run.

    AppTest can only switch pages after a first run, which lands on the default page; the cache is cleared after that
    run so the timed render of any page starts from an empty cache.
    """
    at = AppTest.from_file(str(APP_MAIN), default_timeout=RUN_TIMEOUT_S)
    if page != DEFAULT_PAGE:
        at.run(timeout=RUN_TIMEOUT_S)
        check_render(at, DEFAULT_PAGE, "landing run")
        at.switch_page(page.path)
    st.cache_data.clear()
    return at


def measure_page(dataset: Data, name: str, page: Page, runs: int, baseline_s: float, cache: Path) -> PageTiming:
    """Cold: an empty data cache and an empty thumbnail folder (a first visit); warm: the median rerun."""
    with dataset_environment(dataset, cache / f"{name}-{page.name}"):
        at = fresh_app_on(page)
        cold = timed_run(at)
        check_render(at, page, f"{name} cold run")
        warm = []
        for number in range(runs):
            warm.append(timed_run(at))
            check_render(at, page, f"{name} warm run {number + 1}")
    median = statistics.median(warm)
    return PageTiming(
        dataset=name,
        page=page.name,
        cold_s=round(cold, 4),
        warm_median_s=round(median, 4),
        warm_runs=[round(t, 4) for t in warm],
        ratio_to_baseline=round(median / baseline_s, 1),
        under_1s=median < GOAL_S,
    )


def warm_up(data: Data, cache: Path) -> float:
    """Render every page once, untimed, so the first measured page does not pay for the process's imports."""
    start = time.perf_counter()
    with dataset_environment(data, cache):
        for page in data.pages:
            at = fresh_app_on(page)
            at.run(timeout=RUN_TIMEOUT_S)
            check_render(at, page, "warm-up")
    return time.perf_counter() - start


def measure_baseline(folder: Path, runs: int) -> float:
    """Median rerun time of a one-line app: the cost of AppTest itself on this machine."""
    script = folder / "trivial_app.py"
    script.write_text('import streamlit as st\n\nst.write("hi")\n', encoding="utf-8")
    at = AppTest.from_file(str(script), default_timeout=RUN_TIMEOUT_S)
    at.run(timeout=RUN_TIMEOUT_S)  # the first run compiles the script; the pages' warm figures are reruns too
    times = []
    for _ in range(runs):
        times.append(timed_run(at))
        if at.exception or [m.value for m in at.markdown] != ["hi"]:
            raise RuntimeError("baseline: the trivial app did not render 'hi'")
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------------------------
# Reporting


def machine() -> str:
    return f"{platform.platform()} ({platform.machine()}), {os.cpu_count()} CPUs"


def print_table(timings: list[PageTiming], baseline_s: float, runs: int) -> None:
    print(f"\nBaseline (trivial AppTest script, median of {runs}): {baseline_s * 1000:.1f} ms")
    print(f"Goal: warm render under {GOAL_S:.0f} s per page\n")
    header = f"{'dataset':<10} {'page':<10} {'cold (s)':>9} {'warm median (s)':>16} {'x baseline':>11}  result"
    print(header)
    print("-" * len(header))
    for t in timings:
        verdict = "PASS" if t.under_1s else "FAIL"
        print(
            f"{t.dataset:<10} {t.page:<10} {t.cold_s:>9.3f} {t.warm_median_s:>16.3f} {t.ratio_to_baseline:>11.1f}  "
            f"{verdict}"
        )


def write_json(timings: list[PageTiming], baseline_s: float, path: Path) -> None:
    report = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "python": platform.python_version(),
        "streamlit": st.__version__,
        "baseline_s": round(baseline_s, 4),
        "pages": [asdict(t) for t in timings],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="warm reruns per page; the median is reported")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_expected_warnings()
    with tempfile.TemporaryDirectory(prefix="counteranimal-bench-") as tmp:
        root = Path(tmp)
        datasets = build_datasets(root)
        warm = warm_up(datasets[f"{RUNS} runs"], root / "warm-up-cache")
        print(f"Warm-up (imports, every page once): {warm:.2f} s")
        baseline_s = measure_baseline(root, args.runs)
        timings = []
        for name, data in datasets.items():
            for page in data.pages:
                timings.append(measure_page(data, name, page, args.runs, baseline_s, root / "caches"))
    print_table(timings, baseline_s, args.runs)
    write_json(timings, baseline_s, OUTPUT)
    print(f"\nWrote {OUTPUT.relative_to(REPO)}")
    return 0  # a page over the goal is a finding to report, not a failure of the benchmark


if __name__ == "__main__":
    sys.exit(main())
