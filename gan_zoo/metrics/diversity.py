"""Mode collapse, measured: how much a generator's samples for one caption differ.

The spread of a set is the mean pairwise Euclidean distance of its features. A generator's
spread for a caption, divided by the spread of real images with the same attributes, is near
1 for a generator that varies as much as the data and near 0 for a collapsed one (the same
image whatever the noise).
"""

import numpy as np

COLLAPSE_THRESHOLD = 0.2  # a spread ratio below this flags mode collapse


def mean_pairwise_distance(features):
    """Mean Euclidean distance over all pairs of rows of [N, D] (N >= 2)."""
    f = np.asarray(features, dtype="float64")
    if len(f) < 2:
        raise ValueError("a spread needs at least 2 samples")
    squared = np.sum(f**2, axis=1)
    distances = np.sqrt(np.clip(squared[:, None] + squared[None] - 2 * f @ f.T, 0, None))
    return float(distances[np.triu_indices(len(f), 1)].mean())


def spread_ratio(generated_features, real_features):
    """Spread of the generated samples relative to that of real ones (1 = as diverse)."""
    real = mean_pairwise_distance(real_features)
    if real == 0:
        raise ValueError("the real images are all identical: they give no scale for diversity")
    return mean_pairwise_distance(generated_features) / real
