"""Building blocks shared by the models: DCGAN-style initialisers, BatchNorm, up-blocks,
residual blocks, the image head."""

import keras
from keras import layers, ops

from gan_zoo.layers.transposed_conv import Conv2DTranspose


def conv_initializer(kind="normal"):
    """ "normal": N(0, 0.02), the DCGAN initialisation of Reed et al. and StackGAN;
    "orthogonal": orthogonal with gain 1, AttnGAN's `weights_init` for convs and linears."""
    if kind == "orthogonal":
        return keras.initializers.Orthogonal(1.0)
    if kind != "normal":
        raise ValueError(f"Unknown initializer {kind!r}; use 'normal' or 'orthogonal'.")
    return keras.initializers.RandomNormal(0.0, 0.02)


def conv2d(
    filters,
    kernel,
    strides=1,
    padding="same",
    transpose=False,
    use_bias=False,
    initializer="normal",
    name=None,
    spectral_norm=False,
):
    """A (transposed) convolution with a GAN initialisation and, by default, no bias; with
    `spectral_norm`, wrapped in `spectral_normalization`."""
    conv = Conv2DTranspose if transpose else layers.Conv2D
    return spectral_normalization(
        conv(
            filters,
            kernel,
            strides=strides,
            padding=padding,
            use_bias=use_bias,
            kernel_initializer=conv_initializer(initializer),
            name=name,
        ),
        spectral_norm,
    )


def spectral_normalization(layer, on=True):
    """`layer` wrapped in `SpectralNormalization` when `on`, else `layer` itself."""
    return SpectralNormalization(layer) if on else layer


def _unit(x):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x)), 1e-24))


@keras.saving.register_keras_serializable(package="gan_zoo")
class SpectralNormalization(layers.SpectralNormalization):
    """Keras's SpectralNormalization (Miyato et al. 2018), the kernel divided by an estimate of
    its largest singular value σ so that the layer is about 1-Lipschitz: one power iteration
    per training call, its vector a non-trainable weight (no trainable parameter is added).

    Keras's own layer writes W/σ over the kernel variable at each training call. Here the layer
    runs on W/σ computed from the kernel, which keeps W: the gradient then passes through σ
    (with the power iteration's vectors held constant), as in the paper and PyTorch's
    `spectral_norm`, alike on every backend; and the kernel is not changed in place between
    D's calls of one step, which PyTorch's backward refuses. Inference uses the stored vector.
    """

    def call(self, inputs, training=False):
        weights = ops.reshape(self.kernel.value, (-1, self.kernel_shape[-1]))
        u = self.vector_u.value
        v = _unit(ops.matmul(u, ops.transpose(weights)))
        for _ in range(self.power_iterations if training else 0):
            u = _unit(ops.matmul(v, weights))
            v = _unit(ops.matmul(u, ops.transpose(weights)))
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        if training:
            self.vector_u.assign(ops.cast(u, self.vector_u.dtype))
        sigma = ops.reshape(ops.matmul(ops.matmul(v, weights), ops.transpose(u)), ())
        kernel = self.kernel.value / ops.maximum(sigma, 1e-12)
        mapping = [(w, kernel if w is self.kernel else w.value) for w in self.layer.variables]
        with keras.StatelessScope(state_mapping=mapping):
            output = self.layer(inputs)
        return ops.cast(output, inputs.dtype)


def tile_spatially(vector, size):
    """[B, C] -> [B, size, size, C]: a sentence code repeated over a feature map."""
    return layers.UpSampling2D(size)(layers.Reshape((1, 1, vector.shape[-1]))(vector))


@keras.saving.register_keras_serializable(package="gan_zoo")
class BatchNormalization(layers.BatchNormalization):
    """Keras's BatchNormalization, with batch statistics that differentiate twice exactly on
    every backend.

    TensorFlow's moments (`tf.nn.moments`) stop the mean's gradient inside the variance. A first
    derivative is unchanged by that, but a gradient penalty (R1, MA-GP) differentiates D twice
    and then misses a term on TensorFlow alone: one step of a D with BatchNorm under R1 moved
    its weights by up to 1% apart from JAX and PyTorch. `ops.mean` and `ops.var` have exact
    second derivatives everywhere.
    """

    def _moments(self, inputs, mask):
        if mask is not None or self.synchronized:  # Keras's own path, none of our networks'
            return super()._moments(inputs, mask)
        axes = self._reduction_axes
        return ops.mean(inputs, axis=axes), ops.var(inputs, axis=axes)


def batch_norm(name=None, axis=-1):
    """BatchNorm as PyTorch/Torch7 defaults set it (momentum 0.1 -> 0.9 here, eps 1e-5),
    with the DCGAN gamma ~ N(1, 0.02)."""
    return BatchNormalization(
        axis=axis,
        momentum=0.9,
        epsilon=1e-5,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02),
        name=name,
    )


@keras.saving.register_keras_serializable(package="gan_zoo")
class GLU(layers.Layer):
    """Gated linear unit over the last axis: first half · sigmoid(second half)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True  # no weights

    def call(self, x):
        return keras.ops.glu(x, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] // 2,)


def activation(kind):
    """'relu', 'leaky_relu' (slope 0.2, as in every DCGAN-family discriminator) or 'glu'
    (AttnGAN: the first half of the channels gated by the sigmoid of the second half)."""
    if kind == "leaky_relu":
        return layers.LeakyReLU(negative_slope=0.2)
    if kind == "glu":
        return GLU()
    return layers.Activation(kind)


def widening(kind):
    """How many channels a layer must give for `activation(kind)` to leave `n`: GLU halves."""
    return 2 if kind == "glu" else 1


def up_block(x, filters, kind="relu", initializer="normal", name=None):
    """Nearest x2, conv3x3 (no bias), BN, activation, leaving `filters` channels: StackGAN's
    upBlock with ReLU, AttnGAN's with GLU (the conv then gives twice the channels). With a
    `name`, the conv and BN are `<name>_conv` and `<name>_bn` (the weight converters find them)."""
    x = layers.UpSampling2D(2, interpolation="nearest")(x)
    x = conv2d(filters * widening(kind), 3, initializer=initializer, name=name and f"{name}_conv")(
        x
    )
    return activation(kind)(batch_norm(name and f"{name}_bn")(x))


def to_image(x, initializer="normal", name=None):
    """conv3x3 (no bias) -> tanh, in float32: the image head of StackGAN and AttnGAN."""
    return layers.Activation("tanh", dtype="float32")(
        conv2d(3, 3, initializer=initializer, name=name)(x)
    )


@keras.saving.register_keras_serializable(package="gan_zoo")
class ResidualBlock(layers.Layer):
    """act(x + branch(x)), the residual block of Reed et al., StackGAN and AttnGAN.

    With `bottleneck`, Reed's branch: BN(conv3x3(act(BN(conv3x3(act(BN(conv1x1(x))))))))
    narrowing to `bottleneck` channels and widening back. Without, StackGAN's branch:
    BN(conv3x3(act(BN(conv3x3(x))))) at full width; with activation "glu" (AttnGAN), the
    first conv gives twice the channels for the GLU to halve. Convolutions carry no bias
    (BatchNorm follows each; Reed's code zeroes its conv biases at every step anyway).
    `activate_output=False` returns x + branch(x) as it is, as AttnGAN's block does.
    `spectral_norm` wraps the convolutions in `spectral_normalization` (a discriminator's).
    """

    def __init__(
        self,
        bottleneck=None,
        activation="relu",
        activate_output=True,
        initializer="normal",
        spectral_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.bottleneck = bottleneck
        self.activation = activation
        self.activate_output = activate_output
        self.initializer = initializer
        self.spectral_norm = spectral_norm

    def build(self, input_shape):
        channels = input_shape[-1]
        conv = dict(
            padding="same", use_bias=False, kernel_initializer=conv_initializer(self.initializer)
        )
        if self.bottleneck:
            widths_and_kernels = [(self.bottleneck, 1), (self.bottleneck, 3), (channels, 3)]
        else:
            widths_and_kernels = [(channels, 3), (channels, 3)]
        self.branch = []
        for i, (width, kernel) in enumerate(widths_and_kernels):
            inner = i < len(widths_and_kernels) - 1
            width *= widening(self.activation) if inner else 1
            convolution = layers.Conv2D(width, kernel, **conv)
            self.branch += [spectral_normalization(convolution, self.spectral_norm), batch_norm()]
            if inner:
                self.branch.append(activation(self.activation))
        shape = input_shape
        for layer in self.branch:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.output_activation = activation(self.activation) if self.activate_output else None
        self.built = True

    def call(self, x, training=False):
        y = x
        for layer in self.branch:
            y = (
                layer(y, training=training)
                if isinstance(layer, (layers.BatchNormalization, layers.SpectralNormalization))
                else layer(y)
            )
        return self.output_activation(x + y) if self.output_activation else x + y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            bottleneck=self.bottleneck,
            activation=self.activation,
            activate_output=self.activate_output,
            initializer=self.initializer,
            spectral_norm=self.spectral_norm,
        )
        return config


def projection(features, condition, spectral_norm=False, initializer="normal"):
    """The projection discriminator's term (Miyato & Koyama 2018): the inner product of the
    condition, projected linearly to the features' width, with the features averaged over
    space; [B, 1], added to a logit. Unlike a condition joined by concatenation, it makes D's
    logit depend on how image and text agree rather than on each alone."""
    pooled = layers.GlobalAveragePooling2D()(features)
    embed = layers.Dense(
        features.shape[-1], use_bias=False, kernel_initializer=conv_initializer(initializer)
    )
    return layers.Dot(axes=1)([pooled, spectral_normalization(embed, spectral_norm)(condition)])
