"""Evaluation metrics: FID, KID, Inception Score, R-precision, CLIPScore, caption alignment,
coverage and diversity.

    from gan_zoo import metrics
    fid = metrics.FID(inception_weights="inception_v3.weights.h5")
    fid.update_real(real_images); fid.update_fake(fake_images); fid.result()
    metrics.frechet_distance(features_a, features_b)
    metrics.evaluate(model, {"images": ..., "captions": ...}, metrics=["fid", "kid"])
    metrics.CLIP.from_preset("clip_vit_base_patch32").score(images, captions)  # CLIPScore
"""

from gan_zoo.metrics.clipscore import CLIP, clip_score
from gan_zoo.metrics.diversity import COLLAPSE_THRESHOLD, mean_pairwise_distance, spread_ratio
from gan_zoo.metrics.features import FeatureExtractor, inception_v3, pixels
from gan_zoo.metrics.gaussian import GaussianStatistics, frechet_distance
from gan_zoo.metrics.inception_score import inception_score
from gan_zoo.metrics.kernel import kernel_inception_distance, polynomial_mmd
from gan_zoo.metrics.report import METRICS, evaluate, markdown_table
from gan_zoo.metrics.retrieval import r_precision
from gan_zoo.metrics.streaming import FID, KID, InceptionScore

__all__ = [
    "CLIP",
    "COLLAPSE_THRESHOLD",
    "FID",
    "FeatureExtractor",
    "GaussianStatistics",
    "InceptionScore",
    "KID",
    "METRICS",
    "clip_score",
    "evaluate",
    "frechet_distance",
    "inception_score",
    "inception_v3",
    "kernel_inception_distance",
    "markdown_table",
    "mean_pairwise_distance",
    "pixels",
    "polynomial_mmd",
    "r_precision",
    "spread_ratio",
]
