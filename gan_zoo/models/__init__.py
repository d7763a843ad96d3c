"""The zoo's models."""

from gan_zoo.models.base import TextToImageGAN
from gan_zoo.models.dcgan_cls import DCGANCLS

__all__ = ["DCGANCLS", "TextToImageGAN"]
