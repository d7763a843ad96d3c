"""Inception Score: exp(E_x KL(p(y|x) ‖ p(y))), mean and std over splits (10 in the papers)."""

import numpy as np


def inception_score(probabilities, splits=10):
    """(mean, std) of the score over `splits` equal parts of class probabilities [N, C]."""
    p = np.asarray(probabilities, dtype="float64")
    if p.ndim != 2 or len(p) < splits:
        raise ValueError(
            f"Inception Score needs probabilities [N >= {splits}, classes]; got {p.shape}"
        )
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("Inception Score takes class probabilities (rows of softmax outputs)")
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part + 1e-12) - np.log(marginal + 1e-12)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
