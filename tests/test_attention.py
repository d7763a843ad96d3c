import keras
import numpy as np
from conftest import trainable_count

from gan_zoo.layers import ConditioningAugmentation, ResidualBlock, WordAttention


def test_word_attention_weights_sum_to_one_over_words_and_skip_padding():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(2, 3, 4, 8)).astype("float32")
    words = rng.normal(size=(2, 5, 6)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    layer = WordAttention()
    context, attention = (keras.ops.convert_to_numpy(t) for t in layer(h, words, mask))
    assert context.shape == (2, 3, 4, 8) and attention.shape == (2, 5, 3, 4)
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(attention[0, 3:] == 0.0)  # padding gets exactly no weight
    # the context is the attention-weighted sum of the projected words (numpy, region by region)
    source = words @ keras.ops.convert_to_numpy(layer.project.kernel)  # [B, T, C]
    scores = np.einsum("bhwc,btc->bhwt", h, source)
    scores = np.where(mask[:, None, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(attention, weights.transpose(0, 3, 1, 2), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        context, np.einsum("bhwt,btc->bhwc", weights, source), rtol=1e-4, atol=1e-5
    )
    # a caption of padding only attends to nothing: no weight, no context
    context, attention = (
        keras.ops.convert_to_numpy(t) for t in layer(h, words, np.zeros((2, 5), bool))
    )
    assert np.all(attention == 0.0) and np.all(context == 0.0)


def test_glu_blocks_have_the_authors_widths():
    """AttnGAN's ResBlock(64): conv 64->128, BN(128), GLU, conv 64->64, BN(64); CA 256 -> 4·100."""
    block = ResidualBlock(activation="glu", activate_output=False)
    x = keras.ops.ones((1, 4, 4, 64))
    assert block(x).shape == (1, 4, 4, 64)
    assert trainable_count(block) == 64 * 128 * 9 + 2 * 128 + 64 * 64 * 9 + 2 * 64
    ca = ConditioningAugmentation(100, "glu")
    c, mu, logvar = ca(keras.ops.ones((3, 256)))
    assert c.shape == mu.shape == logvar.shape == (3, 100)
    assert trainable_count(ca) == 256 * 400 + 400
