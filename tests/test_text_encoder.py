import keras
import numpy as np
import pytest

from gan_zoo import TextEncoder, Vocabulary


def test_shapes_and_padding_mask():
    vocab = Vocabulary.build(["a red circle", "a big blue square on the left"])
    tokens = vocab.encode(["a red circle", "a big blue square on the left"], max_length=10)
    words, sentence, mask = TextEncoder(len(vocab))(tokens)
    assert words.shape == (2, 10, 256) and sentence.shape == (2, 256) and mask.shape == (2, 10)
    assert np.array_equal(keras.ops.convert_to_numpy(mask), tokens != 0)
    assert np.all(keras.ops.convert_to_numpy(words)[0, 3:] == 0)  # padding positions are zero
    symbolic = TextEncoder(len(vocab))(
        keras.Input((10,), dtype="int32"), training=True
    )  # in a functional model
    assert [tuple(t.shape) for t in symbolic] == [(None, 10, 256), (None, 256), (None, 10)]


def test_sentence_ignores_padding_length():
    vocab = Vocabulary.build(["a red circle"])
    encoder = TextEncoder(len(vocab))
    short = encoder(vocab.encode(["a red circle"], max_length=4))[1]
    long = encoder(vocab.encode(["a red circle"], max_length=12))[1]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(short), keras.ops.convert_to_numpy(long), atol=1e-6
    )


def test_parameter_count_matches_attngan_rnn_encoder():
    """AttnGAN's RNN_ENCODER (CUB, 5,450 words) has 2,075,320 parameters (shared/reference/
    authors_state_dicts/attngan_birds_RNN_ENCODER.json). PyTorch's LSTM keeps two bias vectors
    per direction (b_ih, b_hh) where Keras keeps one: 2 x 512 fewer here."""
    reference = 2_075_320
    encoder = TextEncoder(5450)
    encoder.build((None, 18))
    assert encoder.count_params() == reference - 2 * 4 * 128 == 2_074_296


def test_config_round_trip():
    encoder = TextEncoder(50, embedding_dim=32, hidden_dim=16, dropout=0.1)
    again = TextEncoder.from_config(encoder.get_config())
    assert (again.vocabulary_size, again.embedding_dim, again.hidden_dim, again.dropout) == (
        50,
        32,
        16,
        0.1,
    )
    assert again.output_dim == 32


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a tf.function XLA check")
def test_encoder_is_xla_compatible_on_tensorflow():
    import tensorflow as tf

    vocab = Vocabulary.build(["a red circle on the left"])
    encoder = TextEncoder(len(vocab))
    tokens = vocab.encode(["a red circle", "circle on the left"])
    eager = keras.ops.convert_to_numpy(encoder(tokens)[1])
    compiled = tf.function(lambda t: encoder(t)[1], jit_compile=True)(tokens).numpy()
    np.testing.assert_allclose(compiled, eager, atol=1e-5)
