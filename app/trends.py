"""Accuracy-axis transforms, least-squares trend lines and effective robustness. Pure numpy; no Streamlit.

As in the effective-robustness literature (Taori et al. 2020; Miller et al. 2021), a linear trend between
in-distribution and shifted accuracy is fitted after a probit or logit transform of both axes, where the
relationship is closest to linear. Accuracies are in percent throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

# Accuracies are clipped into (0, 100) before probit/logit so that 0% and 100% stay finite.
_EPS = 0.01  # percent

_NORMAL = NormalDist()
_probit = np.vectorize(lambda p: _NORMAL.inv_cdf(p), otypes=[float])
_probit_inverse = np.vectorize(lambda z: _NORMAL.cdf(z), otypes=[float])


def _unit(acc: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(acc, dtype=float), _EPS, 100 - _EPS) / 100


@dataclass(frozen=True)
class Scale:
    """An axis scale: accuracy (%) -> axis coordinate, and back."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]


SCALES: dict[str, Scale] = {
    "linear": Scale("linear", lambda a: np.asarray(a, dtype=float), lambda t: np.asarray(t, dtype=float)),
    "probit": Scale("probit", lambda a: _probit(_unit(a)), lambda t: 100 * _probit_inverse(t)),
    "logit": Scale(
        "logit",
        lambda a: np.log(_unit(a) / (1 - _unit(a))),
        lambda t: 100 / (1 + np.exp(-np.asarray(t, dtype=float))),
    ),
}

MIN_POINTS_FOR_TREND = 3  # a line through two points says nothing about a trend


@dataclass(frozen=True)
class Trend:
    """y = slope * x + intercept in a scale's coordinates (x: common, y: counter)."""

    group: str
    scale: str
    slope: float
    intercept: float
    n: int

    def predict(self, common: np.ndarray) -> np.ndarray:
        """Counter accuracy (%) the trend predicts at the given common accuracy (%)."""
        scale = SCALES[self.scale]
        return scale.inverse(self.slope * scale.forward(common) + self.intercept)


def fit_trend(group: str, common: np.ndarray, counter: np.ndarray, scale: str) -> Trend:
    """Ordinary least squares of transformed counter on transformed common accuracy."""
    x, y = SCALES[scale].forward(common), SCALES[scale].forward(counter)
    design = np.column_stack([x, np.ones_like(x)])
    (slope, intercept), *_ = np.linalg.lstsq(design, y, rcond=None)
    return Trend(group=group, scale=scale, slope=float(slope), intercept=float(intercept), n=len(x))


def fit_trends(points: pd.DataFrame, scale: str) -> dict[str, Trend]:
    """One trend per `trend_group` of `points` (columns common, counter, trend_group) with enough points."""
    return {
        group: fit_trend(group, rows["common"].to_numpy(), rows["counter"].to_numpy(), scale)
        for group, rows in points.groupby("trend_group", sort=True)
        if len(rows) >= MIN_POINTS_FOR_TREND
    }


def effective_robustness(points: pd.DataFrame, trends: dict[str, Trend]) -> pd.Series:
    """Counter accuracy minus its trend group's prediction at the model's common accuracy (points; NaN without a
    trend). Positive: more robust than models of its kind with the same common accuracy."""
    out = pd.Series(np.nan, index=points.index, dtype=float)
    for group, trend in trends.items():
        rows = points["trend_group"] == group
        out[rows] = points.loc[rows, "counter"] - trend.predict(points.loc[rows, "common"].to_numpy())
    return out


HIGH_QUALITY_GROUP = "CLIP (DataComp/DFN)"


def trend_groups(points: pd.DataFrame, split_high_quality: bool) -> pd.Series:
    """The trend each model belongs to: its family, with curated-data CLIPs on their own line if asked."""
    groups = points["family"].astype(str)
    if split_high_quality:
        curated = (points["family"] == "CLIP") & points["high_quality_data"].astype(bool)
        groups = groups.where(~curated, HIGH_QUALITY_GROUP)
    return groups


def place_on_trends(
    points: pd.DataFrame,
    runs: pd.DataFrame,
    scale: str,
    split_high_quality: bool,
    fit: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Trend]]:
    """Published models and runs with their `trend_group`, `effective_robustness` and `in_trend`, and the trends.

    The trends are fitted on the published rows chosen by `fit` alone; the other published rows and the runs are
    placed against them, never fitted, so neither a doubtful printed row nor evaluating a model here moves the line
    it is measured against.

    Args:
        points: published models (columns family, high_quality_data, common, counter).
        runs: models evaluated here, with the same columns; returned as given when empty.
        scale: the axis space the trends are fitted in (a key of `SCALES`).
        split_high_quality: whether curated-data CLIPs get their own trend.
        fit: booleans aligned with `points`, True for the rows the trends are fitted to; None fits every row.
    """
    in_trend = pd.Series(True, index=points.index) if fit is None else fit.reindex(points.index, fill_value=False)
    points = points.assign(trend_group=trend_groups(points, split_high_quality), in_trend=in_trend.astype(bool))
    trends = fit_trends(points[points["in_trend"]], scale)
    points = points.assign(effective_robustness=effective_robustness(points, trends))
    if len(runs):
        runs = runs.assign(trend_group=trend_groups(runs, split_high_quality))
        runs = runs.assign(effective_robustness=effective_robustness(runs, trends))
    return points, runs, trends
