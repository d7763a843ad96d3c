"""Layers and blocks shared by the models."""

from gan_zoo.layers.blocks import ResidualBottleneck, activation, batch_norm, conv_initializer

__all__ = ["ResidualBottleneck", "activation", "batch_norm", "conv_initializer"]
