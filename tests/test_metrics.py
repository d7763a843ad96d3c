"""Metrics against independent computations, and the mode-collapse flag."""

import warnings

import numpy as np
import pytest

from gan_zoo import metrics
from gan_zoo.data import shapes

scipy_linalg = pytest.importorskip("scipy.linalg")


def test_frechet_distance_between_known_gaussians():
    """Closed form for N(μ1, diag(a)) vs N(μ2, diag(b)): |μ1-μ2|² + Σ(√a - √b)²."""
    rng = np.random.default_rng(0)
    n, d = 200_000, 3
    mu1, mu2, a, b = (
        np.zeros(d),
        np.array([1.0, -2.0, 0.5]),
        np.array([1.0, 4.0, 0.25]),
        np.array([9.0, 1.0, 1.0]),
    )
    x = mu1 + rng.standard_normal((n, d)) * np.sqrt(a)
    y = mu2 + rng.standard_normal((n, d)) * np.sqrt(b)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert metrics.frechet_distance(x, y) == pytest.approx(expected, rel=2e-2)
    with pytest.raises(ValueError, match="0 samples"):  # a side never updated
        metrics.frechet_distance(metrics.GaussianStatistics(), y)
    with pytest.raises(ValueError, match="width"):
        metrics.frechet_distance(x[:, :2], y)


def test_frechet_distance_matches_scipy_sqrtm_on_correlated_features():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 8)) @ rng.standard_normal((8, 8))
    y = rng.standard_normal((500, 8)) @ rng.standard_normal((8, 8)) + 0.3
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy_linalg.sqrtm(s1 @ s2).real
    expected = np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * root)
    assert metrics.frechet_distance(x, y) == pytest.approx(expected, rel=1e-6)


def test_streamed_statistics_equal_one_shot_and_identical_sets_give_zero():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 5))
    streamed = metrics.GaussianStatistics()
    for part in np.array_split(x, 7):
        streamed.update(part)
    np.testing.assert_allclose(streamed.mean, x.mean(0), atol=1e-12)
    np.testing.assert_allclose(streamed.covariance, np.cov(x, rowvar=False), atol=1e-12)
    assert metrics.frechet_distance(streamed, x) == pytest.approx(0.0, abs=1e-9)


def test_too_few_samples_warn_with_the_number_needed():
    with pytest.warns(UserWarning, match="at least 11 samples"):
        metrics.frechet_distance(
            np.random.default_rng(0).standard_normal((6, 10)),
            np.random.default_rng(1).standard_normal((50, 10)),
        )
    with pytest.raises(ValueError, match="NaN"):
        metrics.frechet_distance(np.full((5, 2), np.nan), np.zeros((5, 2)))


def test_kid_unbiased_estimator_on_a_hand_case():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    y = np.array([[1.0, 1.0], [2.0, 0.0]])
    k = lambda a, b: (a @ b / 2 + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(3) for j in range(3) if i != j) / 6
    yy = sum(k(y[i], y[j]) for i in range(2) for j in range(2) if i != j) / 2
    xy = sum(k(a, b) for a in x for b in y) / 6
    assert metrics.polynomial_mmd(x, y) == pytest.approx(xx + yy - 2 * xy)
    same = np.random.default_rng(0).standard_normal((400, 4))
    other = np.random.default_rng(1).standard_normal((400, 4))  # the same distribution
    mean, _ = metrics.kernel_inception_distance(same, other, num_subsets=100, subset_size=200)
    far, _ = metrics.kernel_inception_distance(same, same + 3.0, num_subsets=100, subset_size=200)
    assert abs(mean) < 0.02 and far > 1.0
    _, spread = metrics.kernel_inception_distance(same[:50], other[:50])  # fewer than a subset
    assert spread > 0  # half-size subsets differ; whole-set ones would all be one set
    with pytest.raises(ValueError, match="one width"):
        metrics.kernel_inception_distance(same, other[:, :2])


def test_inception_score_bounds_and_hand_case():
    confident = np.eye(10)[np.arange(100) % 10]  # every image sure of its class, classes even
    assert metrics.inception_score(confident, splits=10)[0] == pytest.approx(10.0, rel=1e-6)
    uniform = np.full((100, 10), 0.1)
    assert metrics.inception_score(uniform)[0] == pytest.approx(1.0)
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    marginal = p.mean(0)
    expected = np.exp(np.mean(np.sum(p * np.log(p / marginal), axis=1)))
    assert metrics.inception_score(p, splits=1)[0] == pytest.approx(expected)
    with pytest.raises(ValueError, match="probabilities"):
        metrics.inception_score(np.full((20, 3), 2.0))


def test_fid_object_on_pixel_features_and_bad_images():
    images, _, _ = shapes.load(num_images=64, image_size=32, seed=0)
    fid = metrics.FID(feature_extractor=metrics.pixels(8))
    fid.update_real(images[:32])
    fid.update_real(images[32:])
    fid.update_fake(images)
    assert fid.result() == pytest.approx(0.0, abs=1e-6)
    noise = np.random.default_rng(0).integers(0, 256, images.shape).astype("uint8")
    fid.fake = metrics.GaussianStatistics()
    fid.update_fake(noise)
    assert fid.result() > 1.0
    with pytest.raises(ValueError, match=r"lie in \[-1, 1\]"):
        fid.update_fake(images.astype("float32"))  # 0..255 floats are not [-1, 1]
    with pytest.raises(FileNotFoundError, match="never downloads"):
        metrics.FID(inception_weights="missing.h5")
    with pytest.raises(ValueError, match="class probabilities"):
        metrics.InceptionScore(feature_extractor=metrics.pixels(8))


def test_collapse_is_flagged_and_real_data_is_not():
    rng = np.random.default_rng(0)
    attributes = {
        "shape": "circle",
        "colour": "red",
        "size": "big",
        "position": "left",
        "background": "black",
    }
    real = np.stack([shapes.draw(attributes, 32, rng) for _ in range(16)])
    other_real = np.stack([shapes.draw(attributes, 32, rng) for _ in range(16)])
    extractor = metrics.pixels(16)
    features = lambda x: extractor(x)["features"]  # noqa: E731
    assert metrics.spread_ratio(features(other_real), features(real)) == pytest.approx(
        1.0, abs=0.35
    )
    collapsed = np.repeat(real[:1], 16, axis=0)
    assert metrics.spread_ratio(features(collapsed), features(real)) < 1e-3


class _ShapesRenderer:
    """A "generator" that draws real shapes for its captions (or, collapsed, one image whatever
    the caption and the noise)."""

    image_size = 32

    def __init__(self, collapsed=False):
        self.collapsed = collapsed

    def generate(self, captions, seed=0, num_per_caption=1, batch_size=64):
        rng = np.random.default_rng(seed)
        out = []
        for caption in captions:
            named = {} if self.collapsed else shapes.caption_attributes(caption)
            attributes = {a: values[named.get(a, 0)] for a, values in shapes.ATTRIBUTES.items()}
            for _ in range(num_per_caption):
                out.append(
                    shapes.draw(attributes, 32, np.random.default_rng(0) if self.collapsed else rng)
                )
        return np.stack(out)


def test_diversity_flags_a_collapsed_generator_but_not_real_data():
    from gan_zoo.metrics import shapes_metrics

    extractor = metrics.pixels(16)
    real = shapes_metrics.diversity(_ShapesRenderer(), extractor, num_captions=3)
    collapsed = shapes_metrics.diversity(_ShapesRenderer(collapsed=True), extractor, num_captions=3)
    assert not real["collapsed"] and real["spread_ratio"] > 0.5
    assert collapsed["collapsed"] and collapsed["spread_ratio"] < 1e-3


def test_coverage_of_a_generator_that_draws_what_it_is_asked():
    from gan_zoo.metrics import shapes_metrics

    result = shapes_metrics.coverage(_ShapesRenderer(), samples_per_combination=2)
    assert result["coverage"] == 1.0 and np.mean(list(result["frequency"].values())) >= 0.9
    stuck = shapes_metrics.coverage(_ShapesRenderer(collapsed=True), samples_per_combination=2)
    assert stuck["coverage"] == pytest.approx(1 / 18)  # only the one image it always draws


def test_r_precision_on_perfect_random_and_hand_built_encoders():
    rng = np.random.default_rng(0)
    texts = rng.standard_normal((300, 16))
    assert metrics.r_precision(texts + 0.01 * rng.standard_normal((300, 16)), texts) == (1.0, 0.0)
    mean, _ = metrics.r_precision(rng.standard_normal((300, 16)), texts)
    assert mean < 0.05  # chance is 1/100
    # every image matches its own caption except the first 30, which point away from it
    images = texts.copy()
    images[:30] *= -1
    mean, std = metrics.r_precision(images, texts, folds=10)
    assert mean == pytest.approx(0.9)  # ten folds of 30
    assert (
        std < 0.15
    )  # shuffled into the folds: unshuffled, fold 1 would score 0 and the rest 1 (std 0.3)
    with pytest.raises(ValueError, match="more than 99"):
        metrics.r_precision(texts[:50], texts[:50])
    # captions that repeat (a test set sampled several times): a copy of the true caption is no
    # mismatch; the caller's arrays stay as they were
    repeated = np.tile(texts[:100], (3, 1))
    kept = repeated.copy()
    ids = np.tile(np.arange(100), 3)
    assert metrics.r_precision(repeated, repeated, caption_ids=ids)[0] == 1.0
    assert (
        metrics.r_precision(repeated, repeated)[0] == 1.0
    )  # a tie with a copy is a hit, as DM-GAN's argmax
    np.testing.assert_array_equal(repeated, kept)
    few = np.tile(texts[:50], (3, 1))  # 150 rows, 49 other captions each: drawn with repetition
    assert metrics.r_precision(few, few, caption_ids=np.tile(np.arange(50), 3))[0] == 1.0
    # a class-level encoder (each caption says only its class): other captions of the class are
    # no mismatch (DM-GAN draws mismatches from other classes), so with the labels it scores 1
    classes = np.repeat(np.arange(3), 100)
    coarse = rng.standard_normal((3, 16))[classes] + 1e-3 * rng.standard_normal((300, 16))
    assert metrics.r_precision(coarse, coarse, labels=classes)[0] == 1.0
    assert metrics.r_precision(coarse + 1e-2 * rng.standard_normal((300, 16)), coarse)[0] < 0.3
    with pytest.raises(
        ValueError, match="mismatched captions: every caption is the same, or of the same label"
    ):
        metrics.r_precision(coarse, coarse, labels=np.zeros(300))


def test_inception_v3_extractor_loads_a_local_weights_file(tmp_path):
    """The wiring of the standard extractor: pool features 2048-d, 1000 class probabilities,
    from a local file (random weights here: no ImageNet weights exist offline)."""
    import keras

    path = tmp_path / "inception_v3.weights.h5"
    keras.applications.InceptionV3(weights=None).save_weights(path)
    extractor = metrics.inception_v3(str(path))
    images, _, _ = shapes.load(num_images=3, image_size=64, seed=0)
    out = extractor(images)
    assert out["features"].shape == (3, 2048) and out["probabilities"].shape == (3, 1000)
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, rtol=1e-4)
    assert not extractor.comparable_with_papers


class _OracleDAMSM:
    """Embeds images and captions as the one-hot attributes the shapes oracle reads and the
    caption names: a near-perfect text-image matcher on shapes, through evaluate()'s interface."""

    def _one_hot(self, read, seed):
        parts = []
        for attribute, values in shapes.ATTRIBUTES.items():
            index = np.asarray(read[attribute])
            part = np.zeros((len(index), len(values)))
            part[np.nonzero(index >= 0)[0], index[index >= 0]] = 1.0
            parts.append(part)
        out = np.concatenate(parts, axis=1)
        return out + 1e-3 * np.random.default_rng(seed).standard_normal(out.shape)  # breaks ties

    def embed_images(self, images):
        return self._one_hot(shapes.ShapesOracle().predict(images), seed=1)

    def embed_captions(self, captions):
        named = [shapes.caption_attributes(c) for c in captions]
        return self._one_hot({a: [n.get(a, -1) for n in named] for a in shapes.ATTRIBUTES}, seed=2)


def test_evaluate_reports_r_precision_through_the_damsm_interface():
    images, captions, _ = shapes.load("test", num_images=200, image_size=32, seed=0)
    captions = [[shapes.describe(shapes_attrs)] for shapes_attrs in _attributes_of(captions)]
    renderer = _ShapesRenderer()
    renderer.damsm = _OracleDAMSM()
    report = metrics.evaluate(
        renderer,
        {"images": images, "captions": captions},
        metrics=["r_precision"],
        num_samples=200,
        verbose=False,
    )
    # 540 attribute combinations: the true caption wins unless the oracle misreads the image
    # (the 99 others are other captions: a repeat of the true one is not drawn)
    assert report["r_precision"] > 0.6
    collapsed = _ShapesRenderer(collapsed=True)
    collapsed.damsm = _OracleDAMSM()
    worse = metrics.evaluate(
        collapsed,
        {"images": images, "captions": captions},
        metrics=["r_precision"],
        num_samples=200,
        verbose=False,
    )
    assert worse["r_precision"] < 0.1
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.evaluate(renderer, {"images": images, "captions": captions}, metrics=["sharpness"])
    with pytest.raises(ValueError, match="num_samples >= 100"):
        metrics.evaluate(
            renderer,
            {"images": images, "captions": captions},
            metrics=["r_precision"],
            num_samples=50,
        )


def _attributes_of(captions):
    """Full attribute dicts for shapes captions (unnamed ones take the first value)."""
    for options in captions:
        named = shapes.caption_attributes(options[0])
        yield {a: values[named.get(a, 0)] for a, values in shapes.ATTRIBUTES.items()}


def test_evaluate_without_class_probabilities_refuses_the_inception_score():
    images, captions, _ = shapes.load(num_images=8, image_size=32, seed=0)
    with pytest.raises(ValueError, match="class probabilities"):
        metrics.evaluate(
            _ShapesRenderer(),
            {"images": images, "captions": captions},
            metrics=["is"],
            feature_extractor=metrics.pixels(8),
            num_samples=8,
            verbose=False,
        )


def test_evaluate_draws_in_batches_keeps_only_measurements_and_reports_the_real_count():
    """The generated images are measured a batch at a time and only their features are kept:
    the FID is that of all of them at once; the report names how many real images it used."""
    from gan_zoo.metrics.report import every_caption

    images, captions, _ = shapes.load(num_images=30, image_size=32, seed=0)
    extractor = metrics.pixels(8)
    report = metrics.evaluate(
        _ShapesRenderer(),
        {"images": images, "captions": captions},
        metrics=["fid"],
        feature_extractor=extractor,
        num_samples=40,
        batch_size=7,
        verbose=False,
    )
    prompts = every_caption(captions, 40)
    fake = np.concatenate(
        [_ShapesRenderer().generate(prompts[s : s + 7], seed=s) for s in range(0, 40, 7)]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 30 and 40 samples of 192-d features: a biased estimate
        expected = metrics.frechet_distance(
            extractor(images)["features"], extractor(fake)["features"]
        )
    assert report["fid"] == pytest.approx(expected, rel=1e-6)
    assert report["protocol"]["num_samples"] == 40 and report["protocol"]["num_real"] == 30
    assert "40 samples against 30 real images" in metrics.markdown_table(report)
    with pytest.raises(ValueError, match="Image 1 has no caption"):
        metrics.evaluate(
            _ShapesRenderer(),
            {"images": images[:2], "captions": [["a red circle"], []]},
            metrics=["fid"],
            feature_extractor=extractor,
            num_samples=4,
            verbose=False,
        )
