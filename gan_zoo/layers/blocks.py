"""Building blocks shared by the models: DCGAN-style initialisers, BatchNorm, residual blocks."""

import keras
from keras import layers


def conv_initializer():
    """N(0, 0.02), the DCGAN initialisation every paper here uses."""
    return keras.initializers.RandomNormal(0.0, 0.02)


def batch_norm(name=None, axis=-1):
    """BatchNorm as PyTorch/Torch7 defaults set it (momentum 0.1 -> 0.9 here, eps 1e-5),
    with the DCGAN gamma ~ N(1, 0.02)."""
    return layers.BatchNormalization(
        axis=axis, momentum=0.9, epsilon=1e-5,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02), name=name)


def activation(kind):
    """'relu' or 'leaky_relu' (slope 0.2, as in every DCGAN-family discriminator)."""
    if kind == "leaky_relu":
        return layers.LeakyReLU(negative_slope=0.2)
    return layers.Activation(kind)


@keras.saving.register_keras_serializable(package="gan_zoo")
class ResidualBottleneck(layers.Layer):
    """act(x + BN(conv3x3(act(BN(conv3x3(act(BN(conv1x1(x))))))))), Reed et al.'s residual block.

    The branch narrows to `bottleneck` channels and widens back; convolutions carry no bias
    (the authors zero conv biases at every step, so they never take effect).
    """

    def __init__(self, bottleneck, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.bottleneck = bottleneck
        self.activation = activation

    def build(self, input_shape):
        channels = input_shape[-1]
        conv = dict(padding="same", use_bias=False, kernel_initializer=conv_initializer())
        self.branch = [
            layers.Conv2D(self.bottleneck, 1, **conv), batch_norm(), activation(self.activation),
            layers.Conv2D(self.bottleneck, 3, **conv), batch_norm(), activation(self.activation),
            layers.Conv2D(channels, 3, **conv), batch_norm(),
        ]
        shape = input_shape
        for layer in self.branch:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.output_activation = activation(self.activation)
        self.built = True

    def call(self, x, training=False):
        y = x
        for layer in self.branch:
            y = layer(y, training=training) if isinstance(layer, layers.BatchNormalization) else layer(y)
        return self.output_activation(x + y)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(bottleneck=self.bottleneck, activation=self.activation)
        return config
