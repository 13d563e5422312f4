"""Dashboard latency where the user is: in headless Chromium, from the click to the page's first chart or thumbnail.

bench/app_latency.py times the server's script run alone (AppTest); this benchmark drives the system Chromium through
Playwright against a real `counteranimal serve`, so it adds the websocket, the figure JSON, React and Plotly drawing.
For every page it records:
- first visit: a new browser (empty HTTP cache) opening the page for the first time since the server started, so the
  page's data caches are cold and its imports are not done yet (one About page is opened first, so the app's own
  start-up is not charged to the first page measured);
- fresh load: the median of `--runs` new tabs in one browser (a new Streamlit session each; HTTP cache warm), as a
  reload or a shared link opened by someone who used the dashboard before;
- sidebar switch: the median of `--runs` clicks on the page's sidebar link, from the page before it in the list;
- the bytes the server sent over the websocket for one fresh load (mostly figure JSON and tables).
A page is ready when its title is shown and its first chart has drawn its ticks, its first thumbnail has loaded, or
its first element of note is shown, none of them stale (left from the page before).

Datasets: "paper" (the shipped tables, no runs: Overview, Scaling, Classes, About) and "50 runs" (50 runs of 13,100
photos each and 200 finished jobs, from bench/synthetic_data.py, as bench/app_latency.py uses them: every page).
Baseline, in the same run: Streamlit's own minimal app served the same way, a page with a title and a page with a
title and one small Plotly chart, so figures from other machines compare as ratios.

Goals (medians): fresh load <= 1.5 s, sidebar switch <= 0.5 s on every page, Evaluate first visit <= 2 s.

    .venv/bin/python bench/browser_latency.py [--runs N] [--only paper|runs]

Needs Chromium at /usr/bin/chromium (`apt-get install chromium`; never `playwright install`) and the engine for the
Evaluate page's architecture lists. Figures go to bench/results/browser_latency.json and a table to stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from browser_pages import (  # bench/ is on sys.path as a script
    BASELINE_PAGES,
    CHROMIUM,
    CHROMIUM_ARGS,
    JOBS,
    PAPER_PAGES,
    REPO,
    RUN_PAGES,
    RUNS,
    SEED,
    VIEWPORT,
    Target,
    baseline_server,
    dashboard,
    first_visit,
    machine,
    timed_open,
    wait_ready,
)
from playwright.sync_api import Browser, sync_playwright
from synthetic_data import copy_paper, write_jobs, write_runs

OUTPUT = REPO / "bench" / "results" / "browser_latency.json"
GOALS_S = {"fresh_load": 1.5, "switch": 0.5, "evaluate_first_visit": 2.0}


@dataclass(frozen=True)
class PageLatency:
    """One row of the JSON output (seconds)."""

    dataset: str
    page: str
    first_visit_s: float
    fresh_load_median_s: float
    fresh_load_runs: list[float]
    switch_median_s: float
    switch_runs: list[float]
    websocket_kb: float  # what the server sent for one fresh load
    fresh_load_x_baseline: float
    switch_x_baseline: float


# ---------------------------------------------------------------------------------------------------------------
# Measuring


def fresh_loads(browser: Browser, url: str, target: Target, runs: int) -> tuple[list[float], float]:
    """New tabs (new sessions) in one browser whose HTTP cache is warm; and the websocket kilobytes of the last one."""
    context = browser.new_context(viewport=VIEWPORT)
    warm = context.new_page()
    timed_open(warm, url, target)  # fills the HTTP cache; not counted
    warm.close()
    times, frames = [], []
    for number in range(runs):
        page = context.new_page()
        if number == runs - 1:  # the last load also counts what arrives over the websocket until the page is ready
            page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(len(frame))))
        times.append(timed_open(page, url, target))
        page.close()
    context.close()
    return times, sum(frames) / 1024


def sidebar_switches(browser: Browser, url: str, targets: tuple[Target, ...], runs: int) -> dict[str, list[float]]:
    """Each page reached `runs` times by its sidebar link, from the page before it in `targets` (cyclically)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    timed_open(page, url, targets[-1])
    times: dict[str, list[float]] = {t.name: [] for t in targets}
    for _ in range(runs + 1):  # the first round visits each page once (its caches fill); not counted
        for target in targets:
            link = page.locator(f'[data-testid="stSidebarNavLink"][href="{url}/{target.path}"]')
            start = time.perf_counter()
            link.click()
            wait_ready(page, target)
            times[target.name].append(time.perf_counter() - start)
    context.close()
    return {name: values[1:] for name, values in times.items()}


def measure_site(browser: Browser, url: str, targets: tuple[Target, ...], runs: int) -> dict[str, dict]:
    """Every measurement for every page of one server, which must have just started."""
    first_visit(browser, url, targets[-1])  # the app's start-up (imports, first session) is nobody's page
    figures = {t.name: {"first_visit": first_visit(browser, url, t)} for t in targets}
    for target in targets:
        loads, kilobytes = fresh_loads(browser, url, target, runs)
        figures[target.name] |= {"fresh_loads": loads, "websocket_kb": kilobytes}
    for name, switches in sidebar_switches(browser, url, targets, runs).items():
        figures[name]["switches"] = switches
    return figures


# ---------------------------------------------------------------------------------------------------------------
# Reporting


def rows_of(dataset: str, figures: dict[str, dict], baseline: dict[str, dict]) -> list[PageLatency]:
    base_load = statistics.median(baseline["hello"]["fresh_loads"])
    base_switch = statistics.median(baseline["hello"]["switches"] + baseline["chart"]["switches"])
    rows = []
    for page, f in figures.items():
        load, switch = statistics.median(f["fresh_loads"]), statistics.median(f["switches"])
        rows.append(
            PageLatency(
                dataset=dataset,
                page=page,
                first_visit_s=round(f["first_visit"], 3),
                fresh_load_median_s=round(load, 3),
                fresh_load_runs=[round(t, 3) for t in f["fresh_loads"]],
                switch_median_s=round(switch, 3),
                switch_runs=[round(t, 3) for t in f["switches"]],
                websocket_kb=round(f["websocket_kb"], 1),
                fresh_load_x_baseline=round(load / base_load, 1),
                switch_x_baseline=round(switch / base_switch, 1),
            )
        )
    return rows


def verdicts(row: PageLatency) -> list[str]:
    failed = []
    if row.fresh_load_median_s > GOALS_S["fresh_load"]:
        failed.append("load")
    if row.switch_median_s > GOALS_S["switch"]:
        failed.append("switch")
    if row.page == "evaluate" and row.first_visit_s > GOALS_S["evaluate_first_visit"]:
        failed.append("first visit")
    return failed


def print_table(rows: list[PageLatency], baseline: dict[str, dict], runs: int) -> None:
    print(f"\nBaseline (Streamlit's minimal app, medians of {runs}):")
    for name, f in baseline.items():
        print(
            f"  {name:<6} first visit {f['first_visit']:.2f} s, fresh load {statistics.median(f['fresh_loads']):.2f} s,"
            f" sidebar switch {statistics.median(f['switches']):.2f} s, websocket {f['websocket_kb']:.0f} kB"
        )
    print(f"Goals: fresh load <= {GOALS_S['fresh_load']} s, switch <= {GOALS_S['switch']} s, Evaluate first visit "
          f"<= {GOALS_S['evaluate_first_visit']} s\n")  # fmt: skip
    header = (
        f"{'dataset':<8} {'page':<11} {'first (s)':>9} {'load (s)':>9} {'x base':>7} {'switch (s)':>11} {'x base':>7}"
        f" {'ws (kB)':>8}  result"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        failed = verdicts(r)
        print(
            f"{r.dataset:<8} {r.page:<11} {r.first_visit_s:>9.2f} {r.fresh_load_median_s:>9.2f} "
            f"{r.fresh_load_x_baseline:>7.1f} {r.switch_median_s:>11.2f} {r.switch_x_baseline:>7.1f} "
            f"{r.websocket_kb:>8.0f}  {'PASS' if not failed else 'FAIL: ' + ', '.join(failed)}"
        )


def write_json(rows: list[PageLatency], baseline: dict[str, dict], runs: int, chromium: str, path: Path) -> None:
    report = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "chromium": chromium,
        "runs": runs,
        "goals_s": GOALS_S,
        "baseline": {
            name: {
                "first_visit_s": round(f["first_visit"], 3),
                "fresh_load_median_s": round(statistics.median(f["fresh_loads"]), 3),
                "switch_median_s": round(statistics.median(f["switches"]), 3),
                "websocket_kb": round(f["websocket_kb"], 1),
            }
            for name, f in baseline.items()
        },
        "pages": [asdict(r) | {"meets_goals": not verdicts(r)} for r in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh loads and sidebar switches per page (median)")
    parser.add_argument("--only", choices=["paper", "runs"], help="measure one dataset only")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not CHROMIUM.exists():
        sys.exit(f"Chromium is not at {CHROMIUM}: install it with `apt-get install -y chromium`.")
    with tempfile.TemporaryDirectory(prefix="counteranimal-browser-bench-") as tmp, sync_playwright() as playwright:
        root = Path(tmp)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        with baseline_server(root) as url:
            baseline = measure_site(browser, url, BASELINE_PAGES, args.runs)
        paper = copy_paper(root / "paper")
        datasets = {}
        if args.only in (None, "paper"):
            (root / "paper-results").mkdir()
            datasets["paper"] = (root / "paper-results", PAPER_PAGES)
        if args.only in (None, "runs"):
            write_runs(root / "runs-results", paper, root / "photos", RUNS, SEED)
            write_jobs(root / "runs-results", JOBS)
            datasets[f"{RUNS} runs"] = (root / "runs-results", RUN_PAGES)
        rows = []
        for name, (results, targets) in datasets.items():
            with dashboard(results, paper, root / f"cache-{len(rows)}") as url:  # a fresh server and cache each
                rows += rows_of(name, measure_site(browser, url, targets, args.runs), baseline)
        version = browser.version
        browser.close()
    print_table(rows, baseline, args.runs)
    write_json(rows, baseline, args.runs, version, args.output)
    print(f"\nWrote {args.output}")
    return 0  # a page over a goal is a finding to report, not a failure of the benchmark


if __name__ == "__main__":
    sys.exit(main())
