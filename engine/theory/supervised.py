"""The supervised (ERM) learner: a linear classifier of the object from the image, trained on the object labels by
logistic loss. It never sees a caption, so q does not touch it."""

from __future__ import annotations

import numpy as np

from engine.theory.optim import Params, adam
from engine.theory.world import Split

STEPS = 300  # full-batch Adam steps
LR = 0.05
WEIGHT_DECAY = 1e-3  # L2 on the weights: keeps them finite when a small training set is separable


def _loss_and_grads(images: np.ndarray, labels: np.ndarray):
    n = len(labels)

    def loss_and_grads(params: Params) -> tuple[float, Params]:
        logits = images @ params["w"] + params["b"]  # (n,)
        prob = 1.0 / (1.0 + np.exp(-logits))
        loss = np.mean(np.logaddexp(0.0, logits) - labels * logits) + 0.5 * WEIGHT_DECAY * params["w"] @ params["w"]
        residual = (prob - labels) / n  # (n,) d loss / d logits
        return float(loss), {"w": images.T @ residual + WEIGHT_DECAY * params["w"], "b": residual.sum(keepdims=True)}

    return loss_and_grads


def train_supervised(train: Split) -> Params:
    """Weights `w` (d,) and bias `b` (1,) of the logistic classifier, trained from zero (deterministic)."""
    start = {"w": np.zeros(train.images.shape[1]), "b": np.zeros(1)}
    return adam(_loss_and_grads(train.images, train.objects.astype(float)), start, STEPS, LR)


def predict_supervised(params: Params, images: np.ndarray) -> np.ndarray:
    """Predicted object (n,): 1 where the logit is positive."""
    return (images @ params["w"] + params["b"] > 0).astype(int)
