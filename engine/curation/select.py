"""Choose each class's common and counter background the paper's way, from a reference model's accuracy per
background: the most accurate background (among those with enough photos) is common, the least accurate counter, and
a class whose accuracy varies by less than `min_gap` points is dropped. Pure functions over counts."""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

RESAMPLES = 2000  # bootstrap resamples per accuracy interval
SEED = 0  # the intervals are the same on every run


@dataclass(frozen=True)
class BackgroundScore:
    """The reference model on one class's photos of one background."""

    background: str
    photos: int
    correct: int
    accuracy: float  # points
    low: float  # 95% bootstrap interval of the accuracy, points
    high: float


@dataclass(frozen=True)
class ClassChoice:
    """One class's outcome: its backgrounds, and the chosen pair, or why it was dropped."""

    class_id: int
    name: str  # short ImageNet label, e.g. "ice bear"
    backgrounds: tuple[BackgroundScore, ...]  # most accurate first
    common: str | None
    counter: str | None
    gap: float | None  # common minus counter accuracy, points
    reason: str  # why the class was dropped; "" when kept

    @property
    def kept(self) -> bool:
        return not self.reason

    def to_json(self) -> dict:
        return asdict(self) | {"kept": self.kept}


@dataclass(frozen=True)
class Rules:
    """How pairs are chosen."""

    min_photos: int = 10  # backgrounds with fewer photos than this are not candidates for common or counter
    min_gap: float = 5.0  # points: classes whose eligible backgrounds differ by less are dropped (the paper's 5)
    drop_overlapping: bool = False  # also drop classes whose common and counter intervals overlap


def background_scores(class_id: int, counts: pd.DataFrame) -> list[BackgroundScore]:
    """Scores of one class's backgrounds from rows (background, photos, correct), most accurate first (ties: more
    photos, then the name). The interval resamples the photos: the number right in a resample of n photos of which k
    are right is Binomial(n, k/n), drawn directly, from a stream of its own per class and background (so an interval
    does not change when other classes or backgrounds come or go)."""
    scores = []
    for row in counts.sort_values("background").itertuples():
        rng = np.random.default_rng([SEED, class_id, zlib.crc32(row.background.encode())])
        share = row.correct / row.photos
        low, high = np.percentile(rng.binomial(row.photos, share, RESAMPLES) / row.photos, [2.5, 97.5]).tolist()
        scores.append(
            BackgroundScore(row.background, int(row.photos), int(row.correct), 100 * share, 100 * low, 100 * high)
        )
    return sorted(scores, key=lambda s: (-s.accuracy, -s.photos, s.background))


def choose_pair(class_id: int, name: str, scores: list[BackgroundScore], rules: Rules) -> ClassChoice:
    """The class's common and counter background, or the reason it is dropped."""
    eligible = [s for s in scores if s.photos >= rules.min_photos]
    dropped = ClassChoice(class_id, name, tuple(scores), None, None, None, "")
    if len(scores) < 2:
        return _drop(dropped, f"photos on {len(scores)} background only: a pair needs two")
    if len(eligible) < 2:
        enough = f"{len(eligible)} background(s) with at least {rules.min_photos} photos"
        return _drop(dropped, f"{enough}: a pair needs two")
    common = eligible[0]  # most accurate; ties: more photos, then the name
    counter = min(eligible, key=lambda s: (s.accuracy, -s.photos, s.background))  # least accurate; the same ties
    chosen = ClassChoice(
        class_id, name, tuple(scores), common.background, counter.background, common.accuracy - counter.accuracy, ""
    )
    if chosen.gap < rules.min_gap:
        return _drop(chosen, f"accuracy varies by {chosen.gap:.1f} points across backgrounds (< {rules.min_gap:g})")
    if rules.drop_overlapping and counter.high >= common.low:
        return _drop(chosen, "the common and counter accuracies' 95% intervals overlap")
    return chosen


def _drop(choice: ClassChoice, reason: str) -> ClassChoice:
    return replace(choice, reason=reason)


def choose_pairs(counts: pd.DataFrame, names: dict[int, str], rules: Rules) -> list[ClassChoice]:
    """Every class's outcome from a run's counts (class_id, background, photos, correct), in ImageNet order."""
    return [
        choose_pair(int(class_id), names[int(class_id)], background_scores(int(class_id), group), rules)
        for class_id, group in counts.groupby("class_id", sort=True)
    ]
