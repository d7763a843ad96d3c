import keras
import numpy as np
import pytest
from keras import ops

from gan_zoo import losses


def softplus(x):
    return np.log1p(np.exp(x))


def as_float(x):
    return float(ops.convert_to_numpy(x))


def test_sigmoid_cross_entropy_by_hand():
    logits = np.array([[0.0], [2.0], [-1.0]], dtype="float32")
    # BCE(real) = softplus(-x); BCE(fake) = softplus(x)
    np.testing.assert_allclose(
        as_float(losses.sigmoid_cross_entropy(logits, 1.0)), np.mean(softplus(-logits)), rtol=1e-6
    )
    np.testing.assert_allclose(
        as_float(losses.sigmoid_cross_entropy(logits, 0.0)), np.mean(softplus(logits)), rtol=1e-6
    )
    weights = np.array([1.0, 0.0, 1.0], dtype="float32")
    np.testing.assert_allclose(
        as_float(losses.sigmoid_cross_entropy(logits, 0.0, weights)),
        (softplus(0.0) + softplus(-1.0)) / 2,
        rtol=1e-6,
    )
    assert as_float(losses.sigmoid_cross_entropy(logits, 0.0, np.zeros(3, "float32"))) == 0.0


def test_matching_aware_discriminator_loss_by_hand():
    real = np.array([2.0, 1.0], "float32")
    wrong = np.array([0.5, -0.5], "float32")
    fake = np.array([-1.0, 0.0], "float32")
    total, parts = losses.matching_aware_discriminator_loss(real, wrong, fake, wrong_weight=0.5)
    expected_real = np.mean(softplus(-real))
    expected_wrong = np.mean(softplus(wrong))
    expected_fake = np.mean(softplus(fake))
    np.testing.assert_allclose(as_float(parts["d_real"]), expected_real, rtol=1e-6)
    np.testing.assert_allclose(as_float(parts["d_wrong"]), expected_wrong, rtol=1e-6)
    np.testing.assert_allclose(as_float(parts["d_fake"]), expected_fake, rtol=1e-6)
    np.testing.assert_allclose(
        as_float(total), expected_real + 0.5 * expected_wrong + 0.5 * expected_fake, rtol=1e-6
    )


def test_generator_loss_weights_like_torch_bce_criterion():
    logits = np.array([1.0, -2.0, 0.5], "float32")
    weights = np.array([1.0, 1.0, 0.25], "float32")
    expected = np.sum(weights * softplus(-logits)) / 3  # averaged over every image
    np.testing.assert_allclose(
        as_float(losses.generator_loss(logits, weights)), expected, rtol=1e-6
    )
    np.testing.assert_allclose(
        as_float(losses.generator_loss(logits)), np.mean(softplus(-logits)), rtol=1e-6
    )


def test_mismatch_weights_skip_same_caption_and_same_class():
    tokens = np.array([[1, 2], [1, 2], [3, 4], [5, 6]], "int32")
    # rolled pairs: row i's text against row i-1's image (row 0 against row 3)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(losses.mismatch_weights(tokens)), [1, 0, 1, 1]
    )
    labels = np.array([0, 1, 1, 2], "int32")
    np.testing.assert_array_equal(
        ops.convert_to_numpy(losses.mismatch_weights(tokens, labels)), [1, 0, 0, 1]
    )


def test_rolled_wrong_pairs_are_the_papers_roll_by_one():
    tokens = np.array([[1, 2], [1, 2], [3, 4], [5, 6]], "int32")
    order, weights = losses.wrong_pairs("rolled", tokens, np.eye(4, 3, dtype="float32"))
    np.testing.assert_array_equal(ops.convert_to_numpy(order), [3, 0, 1, 2])
    np.testing.assert_array_equal(ops.convert_to_numpy(weights), [1, 0, 1, 1])


def test_similar_wrong_pairs_draw_true_mismatches_by_sentence_similarity():
    """Row 0's closest sentence is row 1's (cosine 0.994), then row 2's (0); row 3 shares its
    class and row 4 its text. With logits cos / 0.1, row 1 is drawn with probability
    e^9.94 / (e^9.94 + e^0) ≈ 0.99995."""
    tokens = np.array([[1, 2], [3, 4], [5, 6], [7, 8], [1, 2]], "int32")
    labels = np.array([0, 1, 2, 0, 5], "int32")
    sentences = np.array([[1, 0], [0.9, 0.1], [0, 1], [1, 0], [1, 0]], "float32")
    sentences[1] /= np.linalg.norm(sentences[1])
    mismatches = ops.convert_to_numpy(losses.true_mismatches(tokens, labels))
    assert mismatches[0].tolist() == [False, True, True, False, False]
    assert not mismatches.diagonal().any() and (mismatches == mismatches.T).all()
    seed = keras.random.SeedGenerator(0)
    draws = [
        [
            ops.convert_to_numpy(x)
            for x in losses.wrong_pairs("similar", tokens, sentences, labels, seed)
        ]
        for _ in range(200)
    ]
    firsts = np.array([order[0] for order, _ in draws])
    assert set(firsts) <= {1, 2} and (firsts == 1).mean() > 0.97
    for order, weights in draws:  # every row's partner is a true mismatch
        assert mismatches[np.arange(5), order].all()
        np.testing.assert_array_equal(weights, [1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="Unknown wrong_pairs 'hardest'"):
        losses.wrong_pairs("hardest", tokens, sentences)


def test_a_caption_with_no_true_mismatch_in_the_batch_gets_weight_0():
    tokens = np.array([[1, 2], [1, 2], [3, 4]], "int32")
    labels = np.array([0, 0, 0], "int32")
    sentences = np.eye(3, dtype="float32")
    seed = keras.random.SeedGenerator(0)
    order, weights = losses.wrong_pairs("similar", tokens, sentences, labels, seed)
    np.testing.assert_array_equal(ops.convert_to_numpy(weights), [0, 0, 0])
    assert set(ops.convert_to_numpy(order).tolist()) <= {0, 1, 2}  # still rows of the batch


def test_damsm_loss_gradient_is_finite_at_padding_words():
    """Padding words are zero vectors; their cosine's gradient is 0, not NaN (as ops.norm's own
    derivative at 0 gives on JAX)."""
    import keras

    from gan_zoo.training import minimize

    rng = np.random.default_rng(0)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0]], bool)
    words = keras.Variable(
        np.where(mask[..., None], rng.normal(size=(3, 4, 8)), 0).astype("float32")
    )
    regions = rng.normal(size=(3, 5, 8)).astype("float32")
    codes, sentences = rng.normal(size=(2, 3, 8)).astype("float32")
    optimizer = keras.optimizers.SGD(1.0)
    optimizer.build([words])
    before = ops.convert_to_numpy(words).copy()
    minimize(
        optimizer,
        [words],
        lambda: (losses.damsm_loss(regions, codes, words, sentences, mask)[0], {}),
    )
    after = ops.convert_to_numpy(words)
    assert np.all(np.isfinite(after)) and not np.array_equal(after[mask], before[mask])


def test_labels_of_the_wrong_shape_are_refused():
    from gan_zoo.models.checks import check_labels

    check_labels({"labels": np.zeros(4, "int32")})
    with pytest.raises(
        ValueError, match=r"'labels' must be \[batch\] class ids; got shape \(4, 1\)"
    ):
        check_labels({"labels": np.zeros((4, 1), "int32")})
