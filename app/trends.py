"""Accuracy-axis transforms, least-squares trend lines and effective robustness. Pure numpy; no Streamlit.

As in the effective-robustness literature (Taori et al. 2020; Miller et al. 2021), a linear trend between
in-distribution and shifted accuracy is fitted after a probit or logit transform of both axes, where the
relationship is closest to linear. Accuracies are in percent throughout.

Each fit carries its statistics (slope, intercept, R², n, residual standard error) and a pointwise 95% confidence
band of the fitted line, all in the axis space the fit is made in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
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
BAND_LEVEL = 0.95  # coverage of the confidence band of a fitted line


@lru_cache(maxsize=256)
def _t_within(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with `df` (integer) degrees of freedom: Abramowitz & Stegun 26.7.3 (odd df) and
    26.7.4 (even df), finite series in powers of cos(theta), theta = atan(t / sqrt(df)). Exact up to rounding."""
    theta = math.atan(t / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    if df % 2 == 0:  # sin(theta) * (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ... up to cos^(df-2))
        term = total = 1.0
        for k in range(1, df // 2):
            term *= cos2 * (2 * k - 1) / (2 * k)
            total += term
        return math.sin(theta) * total
    if df == 1:
        return 2 * theta / math.pi
    term = total = math.cos(theta)  # (2/pi) (theta + sin(theta) (cos + 2/3 cos^3 + ... up to cos^(df-2)))
    for k in range(1, (df - 1) // 2):
        term *= cos2 * (2 * k) / (2 * k + 1)
        total += term
    return 2 / math.pi * (theta + math.sin(theta) * total)


@lru_cache(maxsize=256)
def t_quantile(level: float, df: int) -> float:
    """The t with P(|T| <= t) = `level` (two-sided; 0.95 gives the 97.5th percentile), by bisection on the exact CDF
    of `_t_within`: numpy has no t distribution and scipy is no dependency of the app."""
    lo, hi = 0.0, 1.0
    while _t_within(hi, df) < level:
        lo, hi = hi, 2 * hi
    for _ in range(200):  # halves [lo, hi] until float rounding stops it
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if _t_within(mid, df) < level else (lo, mid)
    return hi


@dataclass(frozen=True)
class Trend:
    """y = slope * x + intercept in a scale's coordinates (x: common, y: counter), and the fit's statistics in the
    same coordinates (NaN where a fit of fewer than three points cannot give them)."""

    group: str
    scale: str
    slope: float
    intercept: float
    n: int
    r_squared: float = math.nan  # 1 - SSE / SST of the transformed counter accuracies
    residual_se: float = math.nan  # s = sqrt(SSE / (n - 2)), axis units
    x_mean: float = math.nan  # mean transformed common accuracy of the fitted models
    x_ss: float = math.nan  # sum of squared deviations of transformed common accuracy from x_mean, axis units^2

    def predict(self, common: np.ndarray) -> np.ndarray:
        """Counter accuracy (%) the trend predicts at the given common accuracy (%)."""
        scale = SCALES[self.scale]
        return scale.inverse(self.slope * scale.forward(common) + self.intercept)

    def band_half_width(self, x: np.ndarray, level: float = BAND_LEVEL) -> np.ndarray:
        """Half the width of the pointwise confidence band of the fitted line at axis coordinates `x`:
        t(level, n - 2) * s * sqrt(1/n + (x - x_mean)^2 / x_ss), narrowest at the mean of the fitted x."""
        if self.n <= 2:
            return np.full(np.shape(x), np.nan)
        spread = np.sqrt(1 / self.n + (np.asarray(x, dtype=float) - self.x_mean) ** 2 / self.x_ss)
        return t_quantile(level, self.n - 2) * self.residual_se * spread

    def band_in_axis(self, x: np.ndarray, level: float = BAND_LEVEL) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper edge of the confidence band at axis coordinates `x`, in axis coordinates."""
        line = self.slope * np.asarray(x, dtype=float) + self.intercept
        half = self.band_half_width(x, level)
        return line - half, line + half

    def band(self, common: np.ndarray, level: float = BAND_LEVEL) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper counter accuracy (%) of the confidence band at common accuracies (%), mapped back through
        the scale as the trend line is."""
        scale = SCALES[self.scale]
        lower, upper = self.band_in_axis(scale.forward(common), level)
        return scale.inverse(lower), scale.inverse(upper)


def fit_trend(group: str, common: np.ndarray, counter: np.ndarray, scale: str) -> Trend:
    """Ordinary least squares of transformed counter on transformed common accuracy, with the fit's statistics."""
    x, y = SCALES[scale].forward(common), SCALES[scale].forward(counter)
    design = np.column_stack([x, np.ones_like(x)])
    (slope, intercept), *_ = np.linalg.lstsq(design, y, rcond=None)
    n = len(x)
    sse = float(np.sum((y - (slope * x + intercept)) ** 2))
    sst = float(np.sum((y - y.mean()) ** 2)) if n else 0.0
    return Trend(
        group=group,
        scale=scale,
        slope=float(slope),
        intercept=float(intercept),
        n=n,
        r_squared=1 - sse / sst if sst > 0 else math.nan,
        residual_se=math.sqrt(sse / (n - 2)) if n > 2 else math.nan,
        x_mean=float(x.mean()) if n else math.nan,
        x_ss=float(np.sum((x - x.mean()) ** 2)) if n else math.nan,
    )


def _signed(value: float) -> str:
    return f"{value:.2f}".replace("-", "−")  # typographic minus, as the charts write drops


def describe_fit(trend: Trend) -> str:
    """The fit's statistics as the chart and the export caption write them: 'slope 0.95, intercept −0.42, R² 0.93,
    n = 28' (slope and intercept in the trend's axis space)."""
    return (
        f"slope {_signed(trend.slope)}, intercept {_signed(trend.intercept)}, R² {trend.r_squared:.2f}, n = {trend.n}"
    )


def fit_trends(points: pd.DataFrame, scale: str) -> dict[str, Trend]:
    """One trend per `trend_group` of `points` (columns common, counter, trend_group) with enough points, spread
    along the axis: models all at one common accuracy (or all clipped to 0 or 100 % on a probit or logit axis) have
    no slope to fit, and least squares would invent one."""
    return {
        group: fit_trend(group, rows["common"].to_numpy(), rows["counter"].to_numpy(), scale)
        for group, rows in points.groupby("trend_group", sort=True)
        if len(rows) >= MIN_POINTS_FOR_TREND and np.ptp(SCALES[scale].forward(rows["common"].to_numpy())) > 1e-9
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
