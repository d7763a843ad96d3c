"""Fréchet distance between Gaussians fitted to features (FID's formula), streamed.

The mean and covariance accumulate in float64 from batches, so memory does not grow with the
number of samples. The trace of the matrix square root uses Tr √(Σ₁Σ₂) = Tr √(√Σ₁ Σ₂ √Σ₁):
the right side is a symmetric positive semi-definite matrix whose eigenvalues are real and
non-negative, so no complex square root and no iterative solver are needed.
"""

import warnings

import numpy as np


class GaussianStatistics:
    """Running mean and covariance of feature vectors [N, D], in float64."""

    def __init__(self):
        self.count = 0
        self._sum = None
        self._outer = None

    def update(self, features):
        features = np.asarray(features, dtype="float64")
        if features.ndim != 2:
            raise ValueError(f"features must be [N, D]; got shape {features.shape}")
        if not np.all(np.isfinite(features)):
            raise ValueError("features contain NaN or infinity")
        if self._sum is None:
            self._sum = np.zeros(features.shape[1])
            self._outer = np.zeros((features.shape[1],) * 2)
        elif features.shape[1] != self._sum.shape[0]:
            raise ValueError(
                f"features have {features.shape[1]} dimensions, earlier ones {self._sum.shape[0]}"
            )
        self.count += len(features)
        self._sum += features.sum(axis=0)
        self._outer += features.T @ features
        return self

    @property
    def mean(self):
        return self._sum / self.count

    @property
    def covariance(self):
        """The unbiased (N - 1) sample covariance."""
        if self.count < 2:
            raise ValueError("a covariance needs at least 2 samples")
        mean = self.mean
        return (self._outer - self.count * np.outer(mean, mean)) / (self.count - 1)

    @classmethod
    def of(cls, features):
        return cls().update(features)


def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(a, b):
    """‖μa − μb‖² + Tr(Σa + Σb − 2√(ΣaΣb)) between two feature sets [N, D] (or their
    `GaussianStatistics`). Warns when a set has fewer samples than dimensions, whose
    covariance is then rank-deficient and the distance biased."""
    a = a if isinstance(a, GaussianStatistics) else GaussianStatistics.of(a)
    b = b if isinstance(b, GaussianStatistics) else GaussianStatistics.of(b)
    for name, stats in (("first", a), ("second", b)):
        if stats.count < 2:
            raise ValueError(
                f"The {name} set has {stats.count} samples; FID needs at least 2 "
                "(update both sides before asking for the result)."
            )
    if len(a.mean) != len(b.mean):
        raise ValueError(
            f"The two sets' features differ in width: {len(a.mean)} and {len(b.mean)}."
        )
    dim = len(a.mean)
    for name, stats in (("first", a), ("second", b)):
        if stats.count <= dim:
            warnings.warn(
                f"The {name} set has {stats.count} samples for {dim}-d features: its "
                f"covariance is rank-deficient. Use at least {dim + 1} samples (the "
                "papers use 30,000).",
                stacklevel=2,
            )
    cov_a, cov_b = a.covariance, b.covariance
    root_a = _psd_sqrt(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_sqrt = np.sqrt(np.clip(cross, 0, None)).sum()
    distance = np.sum((a.mean - b.mean) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return float(max(distance, 0.0))
