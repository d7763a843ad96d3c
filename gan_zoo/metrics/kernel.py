"""Kernel Inception Distance: the unbiased MMD² with a cubic polynomial kernel, on subsets.

k(x, y) = (x·y / d + 1)³, as Bińkowski et al. define it. The estimate averages the unbiased
MMD² of `num_subsets` random subset pairs of `subset_size` (clean-fid's defaults: 100 × 1000),
so its cost does not grow quadratically with the sample count.
"""

import numpy as np


def polynomial_mmd(x, y):
    """Unbiased MMD² between two feature sets [m, d] and [n, d] (float64)."""
    x, y = np.asarray(x, "float64"), np.asarray(y, "float64")
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float(
        (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
        + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
        - 2 * k_xy.mean()
    )


def kernel_inception_distance(real, fake, num_subsets=100, subset_size=1000, seed=0):
    """(mean, std) of the unbiased MMD² over random subsets of `subset_size`. With fewer
    samples than that (or just that many), subsets take half the smaller set, so they differ
    and the std says something (subsets of the whole set would all be the same set, std 0)."""
    real, fake = np.asarray(real), np.asarray(fake)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"KID compares features [N, D] of one width; got {real.shape} and {fake.shape}"
        )
    smaller = min(len(real), len(fake))
    size = subset_size if subset_size < smaller else smaller // 2
    if size < 2:
        raise ValueError("KID needs at least 4 real and 4 generated samples")
    rng = np.random.default_rng(seed)
    values = [
        polynomial_mmd(
            real[rng.choice(len(real), size, replace=False)],
            fake[rng.choice(len(fake), size, replace=False)],
        )
        for _ in range(num_subsets)
    ]
    return float(np.mean(values)), float(np.std(values))
