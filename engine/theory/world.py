"""The synthetic world of the theorem: images made of an object (invariant) feature, a background (spurious) feature
and noise; captions that name the object and, sometimes, the background.

Two objects and two backgrounds, as in the theorem's binary setting: object k's usual background is background k. In
training the background is the usual one with probability p, so p = 0.5 makes it independent of the object and p -> 1
makes it a perfect (spurious) predictor. The test sets hold the same images twice: "common" with each object on its
usual background, "counter" with the background swapped and nothing else changed, so the gap between them is exactly
what a model takes from the background.

All random draws are made in a fixed order that does not depend on p or q (common random numbers): the same seed gives
the same objects and noise at every p and q, so a sweep over p changes only which backgrounds are usual, and its curve
shows the effect of p rather than a new sample's luck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OBJECTS = 2  # object classes; object k's usual background is background k
# The caption vocabulary: a bag of words, the object words first, then the background words.
VOCABULARY = ("object 0", "object 1", "background 0", "background 1")


@dataclass(frozen=True)
class WorldConfig:
    """Everything that determines a world, its training data and its test sets."""

    p: float = 0.9  # P(a training image's background is its object's usual one); 0.5: no spurious correlation
    q: float = 0.5  # P(a training caption also names the background)
    object_noise: float = 0.6  # std of the object feature's noise, per unit of object signal
    background_noise: float = 0.3  # std of the background feature's noise, per unit of background signal
    n_train: int = 2000  # training image-caption pairs
    seed: int = 0
    n_test: int = 2000  # images in each test set (common, counter)
    object_dims: int = 4  # image dimensions carrying the object
    background_dims: int = 4  # image dimensions carrying the background
    nuisance_dims: int = 8  # image dimensions of pure noise (std 1): room to overfit a small training set

    def describe(self) -> str:
        """The settings a reader needs, in one line: "p = 0.9, q = 0.5, noise: object 0.6, background 0.3, ..."."""
        return (
            f"p = {self.p:g}, q = {self.q:g}, noise: object {self.object_noise:g}, background "
            f"{self.background_noise:g}, {self.n_train} training pairs, seed {self.seed}"
        )


@dataclass(frozen=True)
class Split:
    """Images with their object, background and caption words; arrays, one row per image."""

    images: np.ndarray  # (n, object_dims + background_dims + nuisance_dims)
    objects: np.ndarray  # (n,) object class, 0 or 1
    backgrounds: np.ndarray  # (n,) background, 0 or 1
    names_background: np.ndarray  # (n,) bool: the caption names the background too

    def captions(self) -> np.ndarray:
        """Bag-of-words captions over VOCABULARY, (n, 4): the object word, and the background word where named."""
        words = np.zeros((len(self.objects), len(VOCABULARY)))
        rows = np.arange(len(self.objects))
        words[rows, self.objects] = 1.0
        words[rows, OBJECTS + self.backgrounds] = self.names_background.astype(float)
        return words


@dataclass(frozen=True)
class _Draws:
    """The random draws behind a split, independent of p and q."""

    objects: np.ndarray  # (n,)
    object_noise: np.ndarray  # (n, object_dims), standard normal
    background_noise: np.ndarray  # (n, background_dims), standard normal
    nuisance: np.ndarray  # (n, nuisance_dims), standard normal
    usual: np.ndarray  # (n,) uniform [0, 1): the background is the usual one where below p
    named: np.ndarray  # (n,) uniform [0, 1): the caption names the background where below q


def _draw(rng: np.random.Generator, n: int, config: WorldConfig) -> _Draws:
    return _Draws(
        objects=rng.integers(0, OBJECTS, n),
        object_noise=rng.standard_normal((n, config.object_dims)),
        background_noise=rng.standard_normal((n, config.background_dims)),
        nuisance=rng.standard_normal((n, config.nuisance_dims)),
        usual=rng.random(n),
        named=rng.random(n),
    )


def _feature(labels: np.ndarray, noise: np.ndarray, noise_std: float) -> np.ndarray:
    """A binary feature in `noise.shape[1]` dimensions: mean +-1/sqrt(dims) per dimension (a unit-length signal
    along the diagonal, sign by label) plus noise of std `noise_std` per dimension."""
    sign = 2.0 * labels[:, None] - 1.0  # (n, 1) in {-1, +1}
    return sign / np.sqrt(noise.shape[1]) + noise_std * noise


def _split(draws: _Draws, backgrounds: np.ndarray, names_background: np.ndarray, config: WorldConfig) -> Split:
    images = np.hstack(
        [
            _feature(draws.objects, draws.object_noise, config.object_noise),
            _feature(backgrounds, draws.background_noise, config.background_noise),
            draws.nuisance,
        ]
    )
    return Split(images, draws.objects, backgrounds, names_background)


def training_split(config: WorldConfig) -> Split:
    """The training pairs: backgrounds usual with probability p, captions naming them with probability q."""
    draws = _draw(np.random.default_rng([config.seed, 0]), config.n_train, config)
    backgrounds = np.where(draws.usual < config.p, draws.objects, 1 - draws.objects)
    return _split(draws, backgrounds, draws.named < config.q, config)


def evaluation_splits(config: WorldConfig) -> tuple[Split, Split]:
    """The common and counter test sets: the same objects and noise, on the usual and on the swapped background."""
    draws = _draw(np.random.default_rng([config.seed, 1]), config.n_test, config)
    unnamed = np.zeros(config.n_test, dtype=bool)
    common = _split(draws, draws.objects, unnamed, config)
    counter = _split(draws, 1 - draws.objects, unnamed, config)
    return common, counter
