"""FID, KID and Inception Score as objects fed batches of real and generated images."""

import numpy as np

from gan_zoo.metrics import features as feature_extractors
from gan_zoo.metrics.gaussian import GaussianStatistics, frechet_distance
from gan_zoo.metrics.inception_score import inception_score
from gan_zoo.metrics.kernel import kernel_inception_distance


def _extractor(inception_weights, feature_extractor):
    if feature_extractor is not None:
        return feature_extractor
    return feature_extractors.inception_v3(inception_weights)


class FID:
    """Fréchet Inception Distance, streamed: memory does not grow with the sample count.

    `FID(inception_weights="inception_v3.weights.h5")`, or `feature_extractor=` any
    `FeatureExtractor`. Feed uint8 images with `update_real` / `update_fake`, then `result()`.
    """

    def __init__(self, inception_weights=None, feature_extractor=None, batch_size=50):
        self.extractor = _extractor(inception_weights, feature_extractor)
        self.batch_size = batch_size
        self.real, self.fake = GaussianStatistics(), GaussianStatistics()

    def update_real(self, images):
        self.real.update(self.extractor(images, self.batch_size)["features"])

    def update_fake(self, images):
        self.fake.update(self.extractor(images, self.batch_size)["features"])

    def result(self):
        return frechet_distance(self.real, self.fake)


class KID:
    """Kernel Inception Distance; keeps the float32 features (about 250 MB for 30,000 images)."""

    def __init__(
        self,
        inception_weights=None,
        feature_extractor=None,
        batch_size=50,
        num_subsets=100,
        subset_size=1000,
        seed=0,
    ):
        self.extractor = _extractor(inception_weights, feature_extractor)
        self.batch_size, self.num_subsets, self.subset_size, self.seed = (
            batch_size,
            num_subsets,
            subset_size,
            seed,
        )
        self.real, self.fake = [], []

    def update_real(self, images):
        self.real.append(self.extractor(images, self.batch_size)["features"])

    def update_fake(self, images):
        self.fake.append(self.extractor(images, self.batch_size)["features"])

    def result(self):
        """(mean, std) over the subsets."""
        if not (self.real and self.fake):
            raise ValueError(
                "KID needs real and generated images: call update_real and update_fake first."
            )
        return kernel_inception_distance(
            np.concatenate(self.real),
            np.concatenate(self.fake),
            self.num_subsets,
            self.subset_size,
            self.seed,
        )


class InceptionScore:
    """Inception Score of generated images, over `splits` parts (10, as the papers)."""

    def __init__(self, inception_weights=None, feature_extractor=None, batch_size=50, splits=10):
        self.extractor = _extractor(inception_weights, feature_extractor)
        self.extractor.require_probabilities()
        self.batch_size, self.splits = batch_size, splits
        self.probabilities = []

    def update_fake(self, images):
        self.probabilities.append(self.extractor(images, self.batch_size)["probabilities"])

    def result(self):
        if not self.probabilities:
            raise ValueError("The Inception Score needs generated images: call update first.")
        return inception_score(np.concatenate(self.probabilities), self.splits)
