"""Inception-v3 laid out as torchvision's `Inception3`, so PyTorch checkpoints load by name.

Every layer is named after the PyTorch module it stands for, with "-" for "." (Keras's torch
backend refuses dots): `Conv2d_1a_3x3-conv`, `Mixed_6e-branch7x7dbl_3-bn`, `fc`; so a
converter needs no table of names (`pytorch_name`). Two variants:

- `"torchvision"`: torchvision's blocks. The 3x3 average pooling before each `branch_pool`
  counts the zero padding (PyTorch's default `count_include_pad=True`). The AttnGAN authors'
  DAMSM image encoder (CNN_ENCODER) runs this network.
- `"fid"`: pytorch-fid's `FIDInceptionV3`, a port of the TensorFlow graph
  inception-2015-12-05 that the FID (TTUR) and the Inception Score were defined with. Its
  average pooling leaves the padding out of the count (`count_include_pad=False`), and the
  last block (Mixed_7c) max-pools instead. The classifier has 1008 classes.

Keras's "same" average pooling leaves the padding out of the count, so it cannot give
torchvision's; both modes are written out with `keras.ops` (pad, then "valid" pooling), which
does not depend on how a backend pads and matches PyTorch on TensorFlow, JAX and torch.
"""

import keras
from keras import layers, ops

VARIANTS = ("torchvision", "fid")

# The pooling before `branch_pool` in InceptionA/C blocks, Mixed_7b and Mixed_7c.
_POOLS = {"torchvision": ("avg_include_pad",) * 4, "fid": ("avg_exclude_pad",) * 3 + ("max",)}


@keras.saving.register_keras_serializable(package="gan_zoo")
class BranchPool(layers.Layer):
    """3x3 stride-1 pooling padded by one cell on each side, as PyTorch's
    `F.avg_pool2d(x, 3, 1, 1, count_include_pad=...)` and `F.max_pool2d(x, 3, 1, 1)`.

    Modes: "avg_include_pad" (padding counted as zeros), "avg_exclude_pad" (mean over the
    cells inside the image, as TensorFlow's "SAME" pooling), "max".
    """

    MODES = ("avg_include_pad", "avg_exclude_pad", "max")

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"BranchPool mode {mode!r} is not one of {self.MODES}.")
        self.mode = mode

    @staticmethod
    def _pad(x, value):
        return ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=value)

    def call(self, x):
        if self.mode == "max":
            return ops.max_pool(self._pad(x, float("-inf")), 3, 1, "valid")
        mean = ops.average_pool(self._pad(x, 0.0), 3, 1, "valid")
        if self.mode == "avg_include_pad":
            return mean
        inside = ops.average_pool(self._pad(ops.ones_like(x[..., :1]), 0.0), 3, 1, "valid")
        return mean / inside  # (sum / 9) / (cells inside / 9)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode)
        return config


@keras.saving.register_keras_serializable(package="gan_zoo")
class Bias(layers.Layer):
    """Adds a learned vector: the fc's bias kept apart, because the Inception Score uses the
    logits without it (as the original TensorFlow code did)."""

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="bias")

    def call(self, x):
        return x + ops.cast(self.bias, x.dtype)


def pytorch_name(layer_name):
    """The PyTorch module (or tensor, for `fc-bias`) a layer stands for:
    "Mixed_5b-branch1x1-conv" -> "Mixed_5b.branch1x1.conv"."""
    return layer_name.replace("-", ".")


def _conv(x, name, filters, kernel, strides=1, padding="same"):
    """torchvision's BasicConv2d: Conv2d without bias, BatchNorm (eps 1e-3), ReLU."""
    x = layers.Conv2D(filters, kernel, strides, padding, use_bias=False, name=f"{name}-conv")(x)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.9, name=f"{name}-bn")(x)
    return layers.ReLU(name=f"{name}-relu")(x)


def _chain(x, block, steps):
    """BasicConv2ds one after the other; (branch name, filters, kernel[, 2]) each. Stride-2
    convolutions are unpadded and the others keep the size, as in torchvision's blocks."""
    for branch, filters, kernel, *strides in steps:
        stride = strides[0] if strides else 1
        x = _conv(
            x, f"{block}-{branch}", filters, kernel, stride, "same" if stride == 1 else "valid"
        )
    return x


def _pooled(x, block, filters, pool):
    return _conv(BranchPool(pool, name=f"{block}-pool")(x), f"{block}-branch_pool", filters, 1)


def _inception_a(x, block, pool_features, pool):
    return layers.Concatenate(name=block)(
        [
            _chain(x, block, [("branch1x1", 64, 1)]),
            _chain(x, block, [("branch5x5_1", 48, 1), ("branch5x5_2", 64, 5)]),
            _chain(
                x,
                block,
                [("branch3x3dbl_1", 64, 1), ("branch3x3dbl_2", 96, 3), ("branch3x3dbl_3", 96, 3)],
            ),
            _pooled(x, block, pool_features, pool),
        ]
    )


def _inception_b(x, block):
    return layers.Concatenate(name=block)(
        [
            _chain(x, block, [("branch3x3", 384, 3, 2)]),
            _chain(
                x,
                block,
                [
                    ("branch3x3dbl_1", 64, 1),
                    ("branch3x3dbl_2", 96, 3),
                    ("branch3x3dbl_3", 96, 3, 2),
                ],
            ),
            layers.MaxPooling2D(3, 2, name=f"{block}-pool")(x),
        ]
    )


def _inception_c(x, block, c7, pool):
    return layers.Concatenate(name=block)(
        [
            _chain(x, block, [("branch1x1", 192, 1)]),
            _chain(
                x,
                block,
                [("branch7x7_1", c7, 1), ("branch7x7_2", c7, (1, 7)), ("branch7x7_3", 192, (7, 1))],
            ),
            _chain(
                x,
                block,
                [
                    ("branch7x7dbl_1", c7, 1),
                    ("branch7x7dbl_2", c7, (7, 1)),
                    ("branch7x7dbl_3", c7, (1, 7)),
                    ("branch7x7dbl_4", c7, (7, 1)),
                    ("branch7x7dbl_5", 192, (1, 7)),
                ],
            ),
            _pooled(x, block, 192, pool),
        ]
    )


def _inception_d(x, block):
    return layers.Concatenate(name=block)(
        [
            _chain(x, block, [("branch3x3_1", 192, 1), ("branch3x3_2", 320, 3, 2)]),
            _chain(
                x,
                block,
                [
                    ("branch7x7x3_1", 192, 1),
                    ("branch7x7x3_2", 192, (1, 7)),
                    ("branch7x7x3_3", 192, (7, 1)),
                    ("branch7x7x3_4", 192, 3, 2),
                ],
            ),
            layers.MaxPooling2D(3, 2, name=f"{block}-pool")(x),
        ]
    )


def _split(x, block, branch, stem):
    """A 1x3 and a 3x1 convolution side by side on `x`, concatenated (InceptionE)."""
    return layers.Concatenate(name=f"{block}-{branch}")(
        [
            _chain(x, block, [(f"{stem}a", 384, (1, 3))]),
            _chain(x, block, [(f"{stem}b", 384, (3, 1))]),
        ]
    )


def _inception_e(x, block, pool):
    threes = _chain(x, block, [("branch3x3_1", 384, 1)])
    doubles = _chain(x, block, [("branch3x3dbl_1", 448, 1), ("branch3x3dbl_2", 384, 3)])
    return layers.Concatenate(name=block)(
        [
            _chain(x, block, [("branch1x1", 320, 1)]),
            _split(threes, block, "branch3x3", "branch3x3_2"),
            _split(doubles, block, "branch3x3dbl", "branch3x3dbl_3"),
            _pooled(x, block, 192, pool),
        ]
    )


def _stem(x):
    x = _conv(x, "Conv2d_1a_3x3", 32, 3, 2, "valid")
    x = _conv(x, "Conv2d_2a_3x3", 32, 3, 1, "valid")
    x = _conv(x, "Conv2d_2b_3x3", 64, 3)
    x = layers.MaxPooling2D(3, 2, name="maxpool1")(x)
    x = _conv(x, "Conv2d_3b_1x1", 80, 1)
    x = _conv(x, "Conv2d_4a_3x3", 192, 3, 1, "valid")
    return layers.MaxPooling2D(3, 2, name="maxpool2")(x)


def inception_network(variant="torchvision", classes=0, input_shape=(None, None, 3), name=None):
    """Inception-v3 (see the module docstring), random weights, NHWC images in [-1, 1].

    Returns a functional model whose outputs are a dict: "Mixed_6e" (the 17x17x768 map at
    299 px), "pool3" (the 2048 average-pooled Mixed_7c features) and, with `classes`,
    "logits" and "logits_unbiased" (the fc without its bias). Inputs must be at least 75 px.
    """
    if variant not in VARIANTS:
        raise ValueError(f"Inception variant {variant!r} is not one of {VARIANTS}.")
    pool_a, pool_c, pool_7b, pool_7c = _POOLS[variant]
    images = keras.Input(input_shape, name="images")
    x = _stem(images)
    for block, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
        x = _inception_a(x, block, pool_features, pool_a)
    x = _inception_b(x, "Mixed_6a")
    for block, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x = _inception_c(x, block, c7, pool_c)
    outputs = {"Mixed_6e": x}
    x = _inception_d(x, "Mixed_7a")
    x = _inception_e(x, "Mixed_7b", pool_7b)
    x = _inception_e(x, "Mixed_7c", pool_7c)
    outputs["pool3"] = layers.GlobalAveragePooling2D(name="avgpool")(x)
    if classes:
        unbiased = layers.Dense(classes, use_bias=False, name="fc")(outputs["pool3"])
        outputs["logits_unbiased"] = unbiased
        outputs["logits"] = Bias(name="fc-bias")(unbiased)
    return keras.Model(images, outputs, name=name or f"inception_v3_{variant}")
