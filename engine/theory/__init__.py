"""The theory lab: the paper's theorem (once captions correlate with the background, the CLIP objective aligns the
background with the caption, so contrastive training adds no robustness over supervised training) as an experiment
anyone can run. A seeded synthetic world of objects on backgrounds (`world`), two learners trained on the same pairs,
a CLIP-style contrastive one (`contrastive`) and a supervised one (`supervised`), their common and counter accuracy
and a sweep over p (`lab`); and the paper's own ColoredCOCO numbers (`coloredcoco`). Torch-free: numpy only, the
gradients written by hand (`optim`), so the app may import it.

Why live numpy and not precomputed grids: the page has five sliders (p, q, two noise levels, training-set size) and a
seed, and a precomputed grid fine enough to slide through would hold tens of thousands of trained pairs of models
(tens of minutes of training to ship, and a file to keep in step with the code), yet still only the points someone
chose in advance. The learners are linear and the captions hold at most six distinct texts, so a full-batch step costs
O(n) and a whole sweep (7 worlds, 2 learners each) trains in about a second on two CPU cores (`bench/theory_speed.py`);
the page caches each sweep, so moving back to a setting is instant.
"""

from engine.theory.coloredcoco import drop_ranges as coloredcoco_drops
from engine.theory.coloredcoco import read_coloredcoco
from engine.theory.lab import (
    CLIP,
    ERM,
    LEARNERS,
    N_TRAIN_CHOICES,
    NOISE_CHOICES,
    P_GRID,
    Q_CHOICES,
    SEEDS,
    Score,
    balanced_accuracy,
    run_world,
    sweep_p,
    sweep_table,
)
from engine.theory.world import WorldConfig

__all__ = [
    "CLIP",
    "ERM",
    "LEARNERS",
    "NOISE_CHOICES",
    "N_TRAIN_CHOICES",
    "P_GRID",
    "Q_CHOICES",
    "SEEDS",
    "Score",
    "WorldConfig",
    "balanced_accuracy",
    "coloredcoco_drops",
    "read_coloredcoco",
    "run_world",
    "sweep_p",
    "sweep_table",
]
