"""Adam over a dict of numpy arrays, with the loss's gradients written by hand (no autograd: the app never imports
torch, and these models are small enough that full-batch steps take well under a millisecond)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Params = dict[str, np.ndarray]
# params -> (loss, gradient of the loss by parameter name)
LossAndGrads = Callable[[Params], tuple[float, Params]]

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # Adam's usual moment decays and denominator guard


def adam(loss_and_grads: LossAndGrads, params: Params, steps: int, lr: float) -> Params:
    """Full-batch Adam from `params` (left unchanged) for `steps` steps of size `lr`; returns the trained parameters.
    Deterministic: the same start gives the same end."""
    params = {name: value.copy() for name, value in params.items()}
    first = {name: np.zeros_like(value) for name, value in params.items()}
    second = {name: np.zeros_like(value) for name, value in params.items()}
    for step in range(1, steps + 1):
        _, grads = loss_and_grads(params)
        for name, grad in grads.items():
            first[name] = BETA1 * first[name] + (1 - BETA1) * grad
            second[name] = BETA2 * second[name] + (1 - BETA2) * grad**2
            corrected = first[name] / (1 - BETA1**step)
            params[name] -= lr * corrected / (np.sqrt(second[name] / (1 - BETA2**step)) + EPS)
    return params
