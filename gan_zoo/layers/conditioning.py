"""Conditioning augmentation (StackGAN): a Gaussian around the text embedding, sampled."""

import keras
from keras import layers, ops

from gan_zoo.layers.blocks import activation as make_activation
from gan_zoo.layers.blocks import batch_norm, conv_initializer, widening


@keras.saving.register_keras_serializable(package="gan_zoo")
class ConditioningAugmentation(layers.Layer):
    """embedding -> (c, μ, log σ²), with c = μ + σ·ε, ε ~ N(0, I).

    A fully connected layer and `activation` give μ and log σ² of `units` each: ReLU in
    StackGAN-Pytorch; "glu" in AttnGAN, whose layer is twice as wide for the GLU to halve. ε
    comes from the `noise` argument when given (so a caller controls it, as `generate(seed=...)`
    does) and else from the layer's seed generator. StackGAN samples it at training and at test
    time alike; the KL term (`gan_zoo.losses.kl_divergence`) keeps the distribution near N(0, I).
    """

    def __init__(self, units, activation="relu", seed=None, initializer="normal", **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation, self.seed, self.initializer = (
            units,
            activation,
            seed,
            initializer,
        )
        self.dense = layers.Dense(
            2 * units * widening(activation),
            kernel_initializer=conv_initializer(initializer),
            name="fc",
        )
        self.act = make_activation(activation)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, embedding, noise=None):
        x = self.act(self.dense(embedding))
        mu, logvar = x[:, : self.units], x[:, self.units :]
        if noise is None:
            noise = keras.random.normal(ops.shape(mu), seed=self.seed_generator, dtype=mu.dtype)
        return mu + ops.exp(0.5 * logvar) * noise, mu, logvar

    def compute_output_spec(self, embedding, noise=None):
        # Three distinct tensors: a functional graph tells outputs apart by identity.
        return tuple(
            keras.KerasTensor((embedding.shape[0], self.units), dtype=self.compute_dtype)
            for _ in range(3)
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            seed=self.seed,
            initializer=self.initializer,
        )
        return config


def condition_on_text(
    embedding, noise, units, activation="relu", text_batch_norm=False, initializer="normal"
):
    """[BatchNorm ->] conditioning augmentation, as a generator's first layers: (c, μ, log σ²).

    The BatchNorm ("text_bn") is for sentence vectors far smaller than the CA noise, such as a
    freshly trained TextEncoder's: without it μ starts near 0, the KL term keeps it there, and
    G sees noise where the text should be.
    """
    if text_batch_norm:
        embedding = batch_norm("text_bn")(embedding)
    return ConditioningAugmentation(units, activation, initializer=initializer, name="ca")(
        embedding, noise=noise
    )
