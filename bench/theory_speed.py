"""How long the Theory page's computation takes: one theory run, the sweep the page trains for a setting it has not
seen (both learners at each of the 7 values of p, in the largest world the page offers: 2,000 training pairs).

What it measures: wall-clock time of `engine.theory.sweep_table` (world sampling, 14 trainings of 300 full-batch Adam
steps, scoring on the common and counter test sets), without Streamlit; the page adds a cache lookup and two figures.
The goal is under 2 s per run on the development machine (2 shared CPU cores). Each run is also timed for one
`run_world` (one p, both learners), the cost of one point.

A trivial numpy baseline is timed in the same run (exp and sum over a million float64 values, ten times: single
threaded, unlike a BLAS product, whose thread count varies between machines), so that figures taken on different
machines can be compared as ratios. The script prints PASS or FAIL against the goal and
exits 0 either way.

Run it from the repository root:

    .venv/bin/python bench/theory_speed.py [--runs N]

Figures go to bench/results/theory_speed.json and a summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

from engine import theory

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "bench" / "results" / "theory_speed.json"
GOAL_S = 2.0  # the target: a theory run (the page's sweep) in at most 2 s
WORLD = theory.WorldConfig(n_train=max(theory.N_TRAIN_CHOICES))  # the page's defaults, its largest training set


def timed(work: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock seconds of `runs` calls of `work`, after one call discarded (imports, first allocations)."""
    work()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


def baseline() -> None:
    """The trivial numpy work every figure is divided by: exp and sum over a million float64 values, ten times."""
    values = np.linspace(0.0, 1.0, 1_000_000)
    for _ in range(10):
        np.exp(values).sum()


def machine() -> str:
    return f"{platform.platform()} ({platform.machine()}), {os.cpu_count()} CPUs"


def report(runs: int) -> dict:
    baseline_s = timed(baseline, runs)
    sweep_s = timed(lambda: theory.sweep_table(WORLD), runs)
    world_s = timed(lambda: theory.run_world(WORLD), runs)
    sweep_median, baseline_median = statistics.median(sweep_s), statistics.median(baseline_s)
    return {
        "date": date.today().isoformat(),
        "machine": machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "world": WORLD.describe(),
        "sweep_points": len(theory.P_GRID),
        "baseline_s": round(baseline_median, 4),
        "sweep_median_s": round(sweep_median, 3),
        "sweep_runs_s": [round(t, 3) for t in sweep_s],
        "run_world_median_s": round(statistics.median(world_s), 3),
        "ratio_to_baseline": round(sweep_median / baseline_median, 1),
        "goal_s": GOAL_S,
        "under_goal": sweep_median < GOAL_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed repetitions of each measurement (median reported)")
    figures = report(parser.parse_args(argv).runs)
    print(f"World: {figures['world']}; sweep over {figures['sweep_points']} values of p, both learners")
    print(f"Baseline (exp + sum of 1e6 float64 x10, median): {figures['baseline_s'] * 1000:.1f} ms")
    print(f"One point (run_world, median): {figures['run_world_median_s']:.3f} s")
    verdict = "PASS" if figures["under_goal"] else "FAIL"
    print(
        f"Theory run (sweep, median): {figures['sweep_median_s']:.3f} s = {figures['ratio_to_baseline']:.1f}x baseline "
        f"(goal < {GOAL_S:.0f} s): {verdict}"
    )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"Written to {OUTPUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
