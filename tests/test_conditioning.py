import keras
import numpy as np
from keras import ops

from gan_zoo import losses
from gan_zoo.layers import ConditioningAugmentation, condition_on_text


def test_shapes_and_reparameterisation():
    layer = ConditioningAugmentation(8, seed=0)
    embedding = np.random.default_rng(0).normal(size=(4, 20)).astype("float32")
    noise = np.random.default_rng(1).normal(size=(4, 8)).astype("float32")
    c, mu, logvar = (ops.convert_to_numpy(t) for t in layer(embedding, noise=noise))
    assert c.shape == mu.shape == logvar.shape == (4, 8)
    np.testing.assert_allclose(c, mu + np.exp(0.5 * logvar) * noise, rtol=1e-5, atol=1e-6)
    again = ops.convert_to_numpy(layer(embedding, noise=noise)[0])
    np.testing.assert_array_equal(c, again)  # the given noise decides c
    sampled = ops.convert_to_numpy(layer(embedding)[0])
    assert not np.allclose(sampled, c)  # without it, the layer samples its own


def test_config_round_trip():
    layer = ConditioningAugmentation(16, activation="leaky_relu", seed=3)
    again = ConditioningAugmentation.from_config(layer.get_config())
    assert (again.units, again.activation, again.seed) == (16, "leaky_relu", 3)


def test_kl_divergence_by_hand():
    mu = np.array([[0.5, -1.0], [0.0, 2.0]], "float32")
    logvar = np.array([[0.0, 0.3], [-0.5, 1.0]], "float32")
    expected = -0.5 * np.mean(1 + logvar - mu**2 - np.exp(logvar))
    np.testing.assert_allclose(
        float(ops.convert_to_numpy(losses.kl_divergence(mu, logvar))), expected, rtol=1e-6
    )
    assert (
        float(ops.convert_to_numpy(losses.kl_divergence(np.zeros((2, 3)), np.zeros((2, 3))))) == 0.0
    )


def test_keras_serialisation_registers_the_layer():
    layer = ConditioningAugmentation(4)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, ConditioningAugmentation)


def test_functional_graph_keeps_c_mu_and_logvar_apart():
    """In a functional model the three outputs are three tensors, each what the layer gives
    when called directly (one shared output spec once made all three log σ²)."""
    sentence, noise = keras.Input((8,)), keras.Input((3,))
    layer = ConditioningAugmentation(3, "glu", seed=0)
    model = keras.Model([sentence, noise], list(layer(sentence, noise=noise)))
    x = np.random.default_rng(0).standard_normal((4, 8)).astype("float32")
    eps = np.random.default_rng(1).standard_normal((4, 3)).astype("float32")
    for got, want in zip(model([x, eps]), layer(x, noise=eps)):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-6
        )
    c, mu, logvar = (keras.ops.convert_to_numpy(t) for t in model([x, eps]))
    assert not np.allclose(mu, logvar)


def test_condition_on_text_lifts_small_sentence_vectors_above_the_noise():
    """Sentence vectors 100x smaller than the CA noise give a μ ~100x smaller too; the text
    BatchNorm (in training) standardises them first, so μ varies with the text at full scale."""
    x = 0.01 * np.random.default_rng(0).standard_normal((64, 16)).astype("float32")
    eps = np.zeros((64, 8), "float32")

    def mu_spread(text_batch_norm):
        sentence, noise = keras.Input((16,)), keras.Input((8,))
        model = keras.Model(
            [sentence, noise],
            list(condition_on_text(sentence, noise, 8, "glu", text_batch_norm=text_batch_norm)),
        )
        assert ("text_bn" in [layer.name for layer in model.layers]) == text_batch_norm
        mu = keras.ops.convert_to_numpy(model([x, eps], training=True)[1])
        return mu.std(axis=0).mean()

    assert mu_spread(True) > 10 * mu_spread(False)
