"""Fresh loads of two checkouts of the dashboard, paired: is a change faster in the browser?

bench/browser_latency.py gives each page's absolute time, which moves by 10-20 % from one run to the next on a shared
machine. This serves this checkout and another one (a `git worktree` of the commit to compare with) at the same time,
on the same data, and opens each page in a new tab of each in turn, so both see the same machine; it reports each
page's median fresh load for both and the median of the paired ratios (this / other). Then the same for sidebar
switches: one tab of each goes round the pages by their sidebar links, the two taking turns at each page.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/browser_compare.py /tmp/before [--runs 9] [--pages overview classes] [--runs-data]

--runs-data: 50 runs and 200 jobs (as browser_latency.py's "50 runs"), for the pages over runs. Prints a table and
writes bench/results/browser_compare_paper.json (or _runs.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import browser_pages as bp  # bench/ is on sys.path as a script
from playwright.sync_api import sync_playwright
from synthetic_data import copy_paper, write_jobs, write_runs

from engine.config import CACHE_ENV, PAPER_ENV

RESULTS = bp.REPO / "bench" / "results"
PAGES = {t.name: t for t in bp.RUN_PAGES}


def serve(stack: ExitStack, checkout: Path, results: Path, paper: Path, cache: Path) -> str:
    command = [sys.executable, "-m", "engine.cli", "serve", "--host", "127.0.0.1", "--port", "{port}"]
    command += ["--results", str(results)]
    env = {PAPER_ENV: str(paper), CACHE_ENV: str(cache), "PYTHONPATH": str(checkout)}  # its engine and app
    return stack.enter_context(bp.serving(command, checkout, env))


def paired_loads(browser, urls: dict[str, str], target: bp.Target, runs: int) -> dict[str, list[float]]:
    """`runs` fresh loads of the page from each server, alternating which goes first."""
    contexts = {name: browser.new_context(viewport=bp.VIEWPORT) for name in urls}
    for name, url in urls.items():  # fill each browser's HTTP cache; not counted
        page = contexts[name].new_page()
        bp.timed_open(page, url, target)
        page.close()
    times: dict[str, list[float]] = {name: [] for name in urls}
    for number in range(runs):
        for name in list(urls) if number % 2 == 0 else list(reversed(urls)):
            page = contexts[name].new_page()
            times[name].append(bp.timed_open(page, urls[name], target))
            page.close()
    for context in contexts.values():
        context.close()
    return times


def paired_switches(browser, urls: dict[str, str], targets: list[bp.Target], runs: int) -> dict[str, dict]:
    """`runs` sidebar clicks onto each page (from the page before it in `targets`) in each server's tab, alternating
    which goes first; a first round (caches filling) is not counted."""
    pages = {}
    for name, url in urls.items():
        pages[name] = browser.new_context(viewport=bp.VIEWPORT).new_page()
        bp.timed_open(pages[name], url, targets[-1])
    times = {t.name: {name: [] for name in urls} for t in targets}
    for number in range(runs + 1):
        for target in targets:
            for name in list(urls) if number % 2 == 0 else list(reversed(urls)):
                link = pages[name].locator(f'[data-testid="stSidebarNavLink"][href="{urls[name]}/{target.path}"]')
                start = time.perf_counter()
                link.click()
                bp.wait_ready(pages[name], target)
                if number:
                    times[target.name][name].append(time.perf_counter() - start)
    for page in pages.values():
        page.context.close()
    return times


def summary(page: str, times: dict[str, list[float]]) -> dict:
    ratios = [mine / theirs for mine, theirs in zip(times["this"], times["other"], strict=True)]
    return {
        "page": page,
        "this_median_s": round(statistics.median(times["this"]), 3),
        "other_median_s": round(statistics.median(times["other"]), 3),
        "paired_ratio_median": round(statistics.median(ratios), 2),
        "this_runs": [round(t, 3) for t in times["this"]],
        "other_runs": [round(t, 3) for t in times["other"]],
    }


def commit_of(checkout: Path) -> str:
    command = ["git", "-C", str(checkout), "describe", "--always", "--dirty"]  # "-dirty": uncommitted changes measured
    done = subprocess.run(command, capture_output=True, text=True)
    return done.stdout.strip() or "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (e.g. a git worktree of an earlier commit)")
    parser.add_argument("--runs", type=int, default=9, help="fresh loads and switches per page and checkout")
    parser.add_argument("--pages", nargs="+", choices=sorted(PAGES), default=["overview", "scaling", "classes"])
    parser.add_argument("--runs-data", action="store_true", help="50 runs and 200 jobs instead of the paper alone")
    args = parser.parse_args()
    checkouts = {"this": bp.REPO, "other": args.other.resolve()}
    with tempfile.TemporaryDirectory(prefix="counteranimal-compare-") as tmp, sync_playwright() as playwright:
        root = Path(tmp)
        paper, results = copy_paper(root / "paper"), root / "results"
        results.mkdir()
        if args.runs_data:
            write_runs(results, paper, root / "photos", bp.RUNS, bp.SEED)
            write_jobs(results, bp.JOBS)
        browser = playwright.chromium.launch(executable_path=str(bp.CHROMIUM), headless=True, args=bp.CHROMIUM_ARGS)
        with ExitStack() as stack:
            urls = {name: serve(stack, checkout, results, paper, root / f"cache-{name}")
                    for name, checkout in checkouts.items()}  # fmt: skip
            for url in urls.values():
                bp.first_visit(browser, url, bp.ABOUT)  # each server's start-up is nobody's page
            rows = [summary(name, paired_loads(browser, urls, PAGES[name], args.runs)) for name in args.pages]
            switches = []
            if len(args.pages) > 1:  # a switch needs another page to come from
                clicks = paired_switches(browser, urls, [PAGES[name] for name in args.pages], args.runs)
                switches = [summary(name, times) for name, times in clicks.items()]
        browser.close()
    report = {
        "date": date.today().isoformat(),
        "machine": bp.machine(),
        "this": commit_of(bp.REPO),
        "other": commit_of(checkouts["other"]),
        "data": f"{bp.RUNS} runs" if args.runs_data else "paper",
        "runs": args.runs,
        "pages": rows,
        "switches": switches,
    }
    output = RESULTS / f"browser_compare_{'runs' if args.runs_data else 'paper'}.json"
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for what, table in (("fresh loads", rows), ("sidebar switches", switches)):
        print(f"{what}, medians of {args.runs}, {report['data']}: this ({report['this']}) vs {report['other']}")
        for row in table:
            print(
                f"  {row['page']:<11} this {row['this_median_s']:.2f} s  other {row['other_median_s']:.2f} s  "
                f"paired ratio {row['paired_ratio_median']:.2f}"
            )
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
