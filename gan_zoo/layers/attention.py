"""AttnGAN's word-level attention: each image region gathers the words that concern it."""

import keras
from keras import layers, ops

from gan_zoo.layers.blocks import conv_initializer

MASKED = -1e9  # a score whose softmax weight is exactly 0 in float32


def masked_softmax(scores, mask, axis=-1):
    """Softmax in float32 over `axis`, with weight 0 where `mask` is False (all 0 where the
    mask holds nothing along `axis`, rather than a uniform spread over padding)."""
    scores = ops.cast(scores, "float32")
    weights = ops.softmax(ops.where(mask, scores, MASKED), axis=axis)
    return ops.where(ops.any(mask, axis=axis, keepdims=True), weights, 0.0)


@keras.saving.register_keras_serializable(package="gan_zoo")
class WordAttention(layers.Layer):
    """(h [B, H, W, C], words [B, T, D], mask [B, T])
    -> (context [B, H, W, C], attention [B, T, H, W]).

    The word features are projected to the image's C channels (AttnGAN's 1x1 `conv_context`,
    no bias); each region's weights over the words are the softmax of its dot products with
    them, padding excluded (weight exactly 0); the context is the weighted sum of the
    projected words. `attention[b, t]` is word t's map over the image, as the authors draw it.
    """

    def __init__(self, initializer="normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = initializer

    def build(self, h_shape, words_shape, mask_shape=None):
        self.project = layers.Dense(
            h_shape[-1],
            use_bias=False,
            kernel_initializer=conv_initializer(self.initializer),
            name="word_projection",
        )
        self.project.build(words_shape)
        self.built = True

    def call(self, h, words, mask):
        source = self.project(words)  # [B, T, C]
        # scores in float32: under mixed precision a float16 dot product loses the softmax's
        # precision and can overflow
        scores = ops.einsum("bhwc,btc->bhwt", ops.cast(h, "float32"), ops.cast(source, "float32"))
        weights = masked_softmax(scores, ops.cast(mask, "bool")[:, None, None, :])
        context = ops.einsum("bhwt,btc->bhwc", ops.cast(weights, source.dtype), source)
        return context, ops.transpose(weights, (0, 3, 1, 2))

    def compute_output_spec(self, h, words, mask):
        batch, height, width, channels = h.shape
        return (
            keras.KerasTensor(h.shape, dtype=self.compute_dtype),
            keras.KerasTensor((batch, words.shape[1], height, width), dtype="float32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(initializer=self.initializer)
        return config
