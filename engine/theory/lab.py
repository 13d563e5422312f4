"""The lab's experiment: train both learners on one world's training pairs, score them on its common and counter test
sets, and repeat over a grid of p (the sweep the Theory page draws)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from engine.theory.contrastive import predict_zero_shot, train_contrastive
from engine.theory.optim import Params
from engine.theory.supervised import predict_supervised, train_supervised
from engine.theory.world import OBJECTS, Split, WorldConfig, evaluation_splits, training_split

# The p values a sweep trains at: from no spurious correlation (0.5) to a nearly perfect one, denser where the drop
# grows fastest. The page's p slider offers exactly these, so the chosen point is one of the sweep's.
P_GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
# The other settings the page offers. q stops at 0.9: at q = 1 every training caption names the background, so a
# prompt naming only the object (the zero-shot prompt) never occurs in training and its embedding is left undetermined
# (its split from the background words' is free), which makes zero-shot accuracy arbitrary rather than spurious.
Q_CHOICES = tuple(round(0.1 * k, 1) for k in range(10))
NOISE_CHOICES = tuple(round(0.1 * k, 1) for k in range(1, 16))  # std per unit of signal, 0.1 to 1.5
N_TRAIN_CHOICES = (250, 500, 1000, 2000)  # training pairs; at 2000 a sweep trains in about a second
SEEDS = tuple(range(10))


@dataclass(frozen=True)
class Learner:
    """How to train a model on a world's training pairs (with the world's seed) and predict objects with it."""

    fit: Callable[[Split, int], Params]
    predict: Callable[[Params, np.ndarray], np.ndarray]  # (params, images (n, d)) -> predicted objects (n,)


CLIP, ERM = "CLIP (contrastive)", "ERM (supervised)"
LEARNERS = {
    CLIP: Learner(train_contrastive, predict_zero_shot),
    ERM: Learner(lambda train, seed: train_supervised(train), predict_supervised),  # starts at zero: no seed needed
}


@dataclass(frozen=True)
class Score:
    """One learner in one world: class-balanced accuracy (%) on the common and counter test sets."""

    learner: str
    p: float
    common: float
    counter: float

    @property
    def drop(self) -> float:
        return self.common - self.counter


def balanced_accuracy(predicted: np.ndarray, objects: np.ndarray) -> float:
    """Mean over the objects of the share predicted right, in percent: the paper's metric."""
    return float(100 * np.mean([np.mean(predicted[objects == k] == k) for k in range(OBJECTS)]))


def run_world(config: WorldConfig) -> list[Score]:
    """Both learners trained on the world's training pairs, each scored on its common and counter test sets."""
    train = training_split(config)
    common, counter = evaluation_splits(config)
    scores = []
    for name, learner in LEARNERS.items():
        params = learner.fit(train, config.seed)
        accuracy = [balanced_accuracy(learner.predict(params, s.images), s.objects) for s in (common, counter)]
        scores.append(Score(name, config.p, *accuracy))
    return scores


def sweep_p(config: WorldConfig, ps: Sequence[float] = P_GRID) -> list[Score]:
    """`run_world` at each p, everything else as in `config` (the same objects and noise at every p)."""
    return [score for p in ps for score in run_world(replace(config, p=p))]


def sweep_table(config: WorldConfig, ps: Sequence[float] = P_GRID) -> pd.DataFrame:
    """The sweep as a table: one row per (p, learner) with common, counter and drop (%), and the world's other
    settings as columns, so an exported table says what produced it."""
    settings = {k: v for k, v in asdict(config).items() if k != "p"}
    rows = [
        {"learner": s.learner, "p": s.p, "common": s.common, "counter": s.counter, "drop": s.drop}
        for s in sweep_p(config, ps)
    ]
    return pd.DataFrame(rows).assign(**settings)
