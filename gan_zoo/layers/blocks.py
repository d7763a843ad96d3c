"""Building blocks shared by the models: DCGAN-style initialisers, BatchNorm, residual blocks."""

import keras
from keras import layers


def conv_initializer():
    """N(0, 0.02), the DCGAN initialisation every paper here uses."""
    return keras.initializers.RandomNormal(0.0, 0.02)


def conv2d(filters, kernel, strides=1, padding="same", transpose=False, use_bias=False):
    """A (transposed) convolution with the DCGAN initialisation and, by default, no bias."""
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    return conv(filters, kernel, strides=strides, padding=padding, use_bias=use_bias,
                kernel_initializer=conv_initializer())


def tile_spatially(vector, size):
    """[B, C] -> [B, size, size, C]: a sentence code repeated over a feature map."""
    return layers.UpSampling2D(size)(layers.Reshape((1, 1, vector.shape[-1]))(vector))


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
class ResidualBlock(layers.Layer):
    """act(x + branch(x)), the residual block of Reed et al. and of StackGAN.

    With `bottleneck`, Reed's branch: BN(conv3x3(act(BN(conv3x3(act(BN(conv1x1(x))))))))
    narrowing to `bottleneck` channels and widening back. Without, StackGAN's branch:
    BN(conv3x3(act(BN(conv3x3(x))))) at full width. Convolutions carry no bias (BatchNorm
    follows each; Reed's code zeroes its conv biases at every step anyway).
    """

    def __init__(self, bottleneck=None, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.bottleneck = bottleneck
        self.activation = activation

    def build(self, input_shape):
        channels = input_shape[-1]
        conv = dict(padding="same", use_bias=False, kernel_initializer=conv_initializer())
        if self.bottleneck:
            widths_and_kernels = [(self.bottleneck, 1), (self.bottleneck, 3), (channels, 3)]
        else:
            widths_and_kernels = [(channels, 3), (channels, 3)]
        self.branch = []
        for i, (width, kernel) in enumerate(widths_and_kernels):
            self.branch += [layers.Conv2D(width, kernel, **conv), batch_norm()]
            if i < len(widths_and_kernels) - 1:
                self.branch.append(activation(self.activation))
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
