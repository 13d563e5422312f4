"""The CLIP-style learner: a linear image encoder and a linear text encoder (word embeddings summed over a caption's
bag of words), both L2-normalised, trained by the symmetric contrastive (InfoNCE) loss over the whole training set as
one batch; it classifies by zero-shot prompts, one caption per object naming only the object.

Captions are bags of at most two words out of four, so the n captions of a batch hold at most six distinct ones. The
loss is computed over those (an image's softmax over n captions is a softmax over the distinct ones weighted by their
counts), which makes a full-batch step O(n x 6) instead of O(n^2) with the same value and gradients.
"""

from __future__ import annotations

import numpy as np

from engine.theory.optim import Params, adam
from engine.theory.world import OBJECTS, VOCABULARY, Split

EMBED_DIM = 4  # the shared image-text embedding's width
TEMPERATURE = 0.5  # logits are cosine similarities / TEMPERATURE (fixed, not learned as in CLIP)
STEPS = 300  # full-batch Adam steps
LR = 0.05
INIT_STD = 0.01  # std of the encoders' initial weights


def _normalise(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows scaled to unit length, and their lengths (k, 1) for the backward pass."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True) + 1e-12
    return rows / norms, norms


def _normalise_backward(unit: np.ndarray, norms: np.ndarray, grad_unit: np.ndarray) -> np.ndarray:
    """Gradient by the unnormalised rows, given the gradient by the unit rows."""
    return (grad_unit - unit * np.sum(unit * grad_unit, axis=1, keepdims=True)) / norms


def _softmax(logits: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Softmax along `axis` and the log-sum-exp it divided by."""
    top = logits.max(axis=axis, keepdims=True)
    exp = np.exp(logits - top)
    total = exp.sum(axis=axis, keepdims=True)
    return exp / total, np.log(total) + top


def _loss_and_grads(images: np.ndarray, captions: np.ndarray):
    distinct, caption_of = np.unique(captions, axis=0, return_inverse=True)  # (C, V) distinct captions, (n,) index
    caption_of = caption_of.ravel()
    n = len(images)
    counts = np.bincount(caption_of, minlength=len(distinct)).astype(float)[:, None]  # (C, 1) copies in the batch
    positive = np.zeros((len(distinct), n))
    positive[caption_of, np.arange(n)] = 1.0  # (C, n) each image's own caption
    # Logits are laid out (C, n), captions by images: every reduction then runs along contiguous rows or across six.

    def loss_and_grads(params: Params) -> tuple[float, Params]:
        image_unit, image_norms = _normalise(images @ params["image"].T)  # (n, E)
        text_unit, text_norms = _normalise(distinct @ params["text"].T)  # (C, E)
        logits = text_unit @ image_unit.T / TEMPERATURE  # (C, n)
        to_text, image_lse = _softmax(logits + np.log(counts), axis=0)  # image -> its caption among n
        to_image, text_lse = _softmax(logits, axis=1)  # caption -> its image among n, per distinct caption
        loss = (image_lse.sum() + counts.ravel() @ text_lse.ravel() - 2 * np.sum(positive * logits)) / (2 * n)
        grad_logits = (to_text + to_image * counts - 2 * positive) / (2 * n)  # (C, n)
        grad_image = _normalise_backward(image_unit, image_norms, grad_logits.T @ text_unit / TEMPERATURE)
        grad_text = _normalise_backward(text_unit, text_norms, grad_logits @ image_unit / TEMPERATURE)
        return float(loss), {"image": grad_image.T @ images, "text": grad_text.T @ distinct}

    return loss_and_grads


def train_contrastive(train: Split, seed: int) -> Params:
    """Image encoder `image` (E, d) and text encoder `text` (E, V), from a random start drawn from `seed`."""
    rng = np.random.default_rng([seed, 2])
    start = {
        "image": INIT_STD * rng.standard_normal((EMBED_DIM, train.images.shape[1])),
        "text": INIT_STD * rng.standard_normal((EMBED_DIM, len(VOCABULARY))),
    }
    return adam(_loss_and_grads(train.images, train.captions()), start, STEPS, LR)


def predict_zero_shot(params: Params, images: np.ndarray) -> np.ndarray:
    """Predicted object (n,): the object whose prompt (a caption naming only it) is most similar to the image."""
    prompts = np.eye(len(VOCABULARY))[:OBJECTS]  # (K, V) "a photo of object k"
    image_unit, _ = _normalise(images @ params["image"].T)
    prompt_unit, _ = _normalise(prompts @ params["text"].T)
    return np.argmax(image_unit @ prompt_unit.T, axis=1)
