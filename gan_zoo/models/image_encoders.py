"""DAMSM's image encoders: images -> (region features [B, R, D], global code [B, D]).

`InceptionEncoder` is the authors' CNN_ENCODER: a frozen ImageNet Inception-v3, its
Mixed_6e map (Keras's `mixed7`, 17x17x768) projected to D per region and its Mixed_7c
features (Keras's `mixed10`) average-pooled and projected to D. Its trunk is keras.applications'
InceptionV3 or, with `trunk="torchvision"`, torchvision's layout (`gan_zoo.models.inception`),
which `gan_zoo.convert.load_cnn_encoder` fills with the authors' trained encoder. `SmallEncoder`
is a small convolutional network, trained from scratch, for 32-128 px data such as the built-in
shapes.
"""

import os
import warnings

import keras
from keras import layers, ops

from gan_zoo.layers import activation, batch_norm, conv2d
from gan_zoo.models.discriminator import doublings
from gan_zoo.models.inception import inception_network

INCEPTION_SIZE = 299


def _head_initializer():
    return keras.initializers.RandomUniform(-0.1, 0.1)  # the authors' init_trainable_weights


def _resize(images, size):
    if images.shape[1] == size and images.shape[2] == size:
        return images
    return ops.image.resize(images, (size, size), interpolation="bilinear")


def inception_trunk(weights=None):
    """keras.applications' InceptionV3 -> [mixed7, mixed10], with weights from a local file
    (the no-top file, or the full one) or random (`None`). A wrong file is an error naming it."""
    if weights is None:
        net = keras.applications.InceptionV3(
            include_top=False, weights=None, input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3)
        )
    else:
        if not os.path.exists(weights):
            raise FileNotFoundError(
                f"No Inception-v3 weights at {weights!r}: pass a local file of "
                "keras.applications.InceptionV3 weights (gan_zoo never downloads)."
            )
        errors = []
        for include_top in (False, True):
            # a mismatched file makes Keras warn once per layer before it raises: keep those
            # warnings only for the attempt that loads
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    net = keras.applications.InceptionV3(
                        include_top=include_top,
                        weights=weights,
                        input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3),
                    )
                except Exception as error:  # Keras raises several kinds for a mismatched file
                    errors.append(f"{type(error).__name__}: {str(error)[:200]}")
                    continue
            for warning in caught:
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
            break
        else:
            raise ValueError(
                f"{weights} does not hold keras.applications.InceptionV3 weights (with "
                f"or without the top): {' / '.join(errors)}"
            )
    return keras.Model(
        net.input,
        [net.get_layer("mixed7").output, net.get_layer("mixed10").output],
        name="inception_v3_trunk",
    )


def torchvision_trunk():
    """torchvision's Inception3 (random weights) -> [Mixed_6e, Mixed_7c], as CNN_ENCODER runs it."""
    net = inception_network("torchvision", input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
    return keras.Model(
        net.input,
        [net.get_layer("Mixed_6e").output, net.get_layer("Mixed_7c").output],
        name="inception_v3_trunk",
    )


TRUNKS = ("keras", "torchvision")


@keras.saving.register_keras_serializable(package="gan_zoo")
class InceptionEncoder(layers.Layer):
    """Images in [-1, 1], any size (resized to 299, bilinear, as the authors' nn.Upsample) ->
    (289 regions x D, code D). The trunk is frozen and runs in inference mode; only the two
    projections train (721,152 parameters at D = 256, as in the authors' code).

    `trunk`: "keras" (keras.applications' InceptionV3, `weights` a file of its weights) or
    "torchvision" (torchvision's layout, random until `gan_zoo.convert.load_cnn_encoder`).
    `weights` is read at construction only: a saved model carries the trunk's values itself.
    """

    def __init__(self, output_dim=256, weights=None, trunk="keras", **kwargs):
        super().__init__(**kwargs)
        if trunk not in TRUNKS:
            raise ValueError(f"InceptionEncoder trunk {trunk!r} is not one of {TRUNKS}.")
        if trunk == "torchvision" and weights is not None:
            raise ValueError(
                "The torchvision trunk takes no keras.applications weights file: fill it "
                "with gan_zoo.convert.load_cnn_encoder."
            )
        self.output_dim, self.trunk_layout = output_dim, trunk
        self.trunk = torchvision_trunk() if trunk == "torchvision" else inception_trunk(weights)
        self.trunk.trainable = False
        self.regions = layers.Dense(
            output_dim, use_bias=False, kernel_initializer=_head_initializer(), name="emb_features"
        )
        self.code = layers.Dense(
            output_dim, kernel_initializer=_head_initializer(), name="emb_cnn_code"
        )

    def build(self, images_shape):
        self.regions.build((None, None, 768))
        self.code.build((None, 2048))
        self.built = True

    def call(self, images, training=False):
        local, deep = self.trunk(_resize(images, INCEPTION_SIZE), training=False)
        local = ops.reshape(local, (ops.shape(local)[0], -1, local.shape[-1]))
        return self.regions(local), self.code(ops.mean(deep, axis=(1, 2)))

    def compute_output_spec(self, images, training=False):
        batch = images.shape[0]
        return (
            keras.KerasTensor((batch, 17 * 17, self.output_dim), dtype=self.compute_dtype),
            keras.KerasTensor((batch, self.output_dim), dtype=self.compute_dtype),
        )

    def get_config(self):
        config = super().get_config()
        config.update(output_dim=self.output_dim, trunk=self.trunk_layout)
        return config


@keras.saving.register_keras_serializable(package="gan_zoo")
class SmallEncoder(layers.Layer):
    """Images in [-1, 1] (resized to `image_size`) -> (8x8 = 64 regions x D, code D).

    4x4 stride-2 convolutions (BN after the first, LeakyReLU 0.2) take the image to an 8x8
    map whose cells, projected to D, are the regions; one more halving and an average pool
    give the global code. Every weight trains.
    """

    def __init__(self, image_size=64, output_dim=256, width=64, **kwargs):
        super().__init__(**kwargs)
        self.image_size, self.output_dim, self.width = image_size, output_dim, width
        steps = doublings(image_size / 8, "The small DAMSM encoder's image size from 8x8")
        self.trunk = []
        for i in range(steps):
            self.trunk += [conv2d(min(width * 2**i, 512), 4, strides=2)]
            self.trunk += [batch_norm()] if i else []
            self.trunk += [activation("leaky_relu")]
        self.down = [
            conv2d(min(width * 2**steps, 512), 4, strides=2),
            batch_norm(),
            activation("leaky_relu"),
        ]
        self.regions = layers.Dense(
            output_dim, use_bias=False, kernel_initializer=_head_initializer(), name="emb_features"
        )
        self.code = layers.Dense(
            output_dim, kernel_initializer=_head_initializer(), name="emb_cnn_code"
        )

    def build(self, images_shape):
        shape = (None, self.image_size, self.image_size, 3)
        for stack, head in ((self.trunk, self.regions), (self.down, self.code)):
            for layer in stack:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
            head.build((None, shape[-1]))
        self.built = True

    @staticmethod
    def _run(stack, x, training):
        for layer in stack:
            x = (
                layer(x, training=training)
                if isinstance(layer, layers.BatchNormalization)
                else layer(x)
            )
        return x

    def call(self, images, training=False):
        local = self._run(self.trunk, _resize(images, self.image_size), training)
        deep = self._run(self.down, local, training)
        local = ops.reshape(local, (ops.shape(local)[0], -1, local.shape[-1]))
        return self.regions(local), self.code(ops.mean(deep, axis=(1, 2)))

    def compute_output_spec(self, images, training=False):
        batch = images.shape[0]
        return (
            keras.KerasTensor((batch, 64, self.output_dim), dtype=self.compute_dtype),
            keras.KerasTensor((batch, self.output_dim), dtype=self.compute_dtype),
        )

    def get_config(self):
        config = super().get_config()
        config.update(image_size=self.image_size, output_dim=self.output_dim, width=self.width)
        return config
