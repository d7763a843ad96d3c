"""Layers and blocks shared by the models."""

from gan_zoo.layers.attention import WordAttention
from gan_zoo.layers.augment import diff_augment, parse_policy
from gan_zoo.layers.blocks import (
    BatchNormalization,
    ResidualBlock,
    activation,
    batch_norm,
    conv2d,
    conv_initializer,
    projection,
    spectral_normalization,
    tile_spatially,
    to_image,
    up_block,
    widening,
)
from gan_zoo.layers.conditioning import ConditioningAugmentation, condition_on_text
from gan_zoo.layers.transposed_conv import Conv2DTranspose

__all__ = [
    "BatchNormalization",
    "ConditioningAugmentation",
    "Conv2DTranspose",
    "ResidualBlock",
    "WordAttention",
    "activation",
    "batch_norm",
    "condition_on_text",
    "conv2d",
    "conv_initializer",
    "diff_augment",
    "parse_policy",
    "projection",
    "spectral_normalization",
    "tile_spatially",
    "to_image",
    "up_block",
    "widening",
]
