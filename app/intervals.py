"""Bootstrap intervals for class-balanced accuracy. Pure numpy; no Streamlit.

Resampling a class-and-split group's n photos with replacement leaves a count of correct photos that is binomial
(n, k/n), so a bootstrap replicate of the class-balanced metric needs one binomial draw per group rather than n
index draws: the same distribution, a thousand times cheaper. For two runs on the same photos (paired), each
photo falls in one of four outcomes (both right, only A, only B, neither) and a group's resample is multinomial.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RESAMPLES = 2000  # bootstrap replicates: percentile ends of a 95% interval steady to ~0.1 point
SEED = 0  # fixed, so intervals are the same on every render
LEVEL = 0.95


def _balanced(hits: np.ndarray, images: np.ndarray, is_common: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R,) class-balanced common and counter accuracy (%) from (R, G) resampled hits of G groups."""
    accuracy = 100 * hits / images  # (R, G)
    return accuracy[:, is_common].mean(axis=1), accuracy[:, ~is_common].mean(axis=1)


def _interval(samples: np.ndarray) -> tuple[float, float]:
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def balanced_intervals(groups: pd.DataFrame, resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, float]:
    """95% percentile intervals of common, counter and drop for one run and setup.

    Args:
        groups: one row per (class, split) with columns split ("common"/"counter"), images, hits.
    """
    rng = np.random.default_rng(seed)
    images = groups["images"].to_numpy()
    rate = groups["hits"].to_numpy() / images
    hits = rng.binomial(images, rate, size=(resamples, len(groups)))  # (R, G)
    common, counter = _balanced(hits, images, (groups["split"] == "common").to_numpy())
    out = {}
    for name, samples in (("common", common), ("counter", counter), ("drop", common - counter)):
        out[f"{name}_low"], out[f"{name}_high"] = _interval(samples)
    return out


def per_run(counts: pd.DataFrame) -> pd.DataFrame:
    """`balanced_intervals` of every run: one row per run_id, with run_id and the six interval ends.

    Args:
        counts: one row per (run, class, split) with columns run_id, split, images, hits.
    """
    rows = [{"run_id": run_id, **balanced_intervals(groups)} for run_id, groups in counts.groupby("run_id")]
    columns = ["run_id"] + [f"{m}_{end}" for m in ("common", "counter", "drop") for end in ("low", "high")]
    return pd.DataFrame(rows, columns=columns)


def _drop(hits: np.ndarray, images: np.ndarray, is_common: np.ndarray) -> np.ndarray:
    common, counter = _balanced(np.atleast_2d(hits), images, is_common)
    return common - counter


def paired_drop_difference(groups: pd.DataFrame, resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, float]:
    """Drop of run A minus drop of run B on the same photos, with its 95% paired bootstrap interval.

    Args:
        groups: one row per (class, split) with columns split, both, only_a, only_b, neither (photo counts).
    """
    rng = np.random.default_rng(seed)
    groups = groups[groups[["both", "only_a", "only_b", "neither"]].sum(axis=1) > 0]  # groups with shared photos
    if groups.empty or groups["split"].nunique() < 2:
        raise ValueError("the two runs share no photos on both backgrounds")
    counts = groups[["both", "only_a", "only_b", "neither"]].to_numpy()  # (G, 4)
    images, is_common = counts.sum(axis=1), (groups["split"] == "common").to_numpy()
    draws = np.stack([rng.multinomial(n, row / n, size=resamples) for n, row in zip(images, counts, strict=True)], 1)
    # Run A is right on "both" and "only_a" photos, run B on "both" and "only_b": (R, G) hits each.
    differences = _drop(draws[..., 0] + draws[..., 1], images, is_common) - _drop(
        draws[..., 0] + draws[..., 2], images, is_common
    )
    observed = _drop(counts[:, 0] + counts[:, 1], images, is_common) - _drop(
        counts[:, 0] + counts[:, 2], images, is_common
    )
    low, high = _interval(differences)
    drop_a = _drop(counts[:, 0] + counts[:, 1], images, is_common)[0]
    drop_b = _drop(counts[:, 0] + counts[:, 2], images, is_common)[0]
    return {
        "difference": float(observed[0]),
        "low": low,
        "high": high,
        "drop_a": float(drop_a),
        "drop_b": float(drop_b),
    }
