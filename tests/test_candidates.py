import numpy as np

from engine.inference.candidates import top_candidates


def test_the_twenty_best_labels_best_first():
    scores = np.arange(1000, dtype=float)
    assert top_candidates(scores, class_id=999) == list(range(999, 979, -1))


def test_the_true_class_always_competes():
    scores = np.arange(1000, dtype=float)
    picked = top_candidates(scores, class_id=3)
    assert len(picked) == 20 and picked[-1] == 3 and picked[:19] == list(range(999, 980, -1))
