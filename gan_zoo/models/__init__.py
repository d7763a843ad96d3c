"""The zoo's models."""

from gan_zoo.models.attngan import AttnGAN
from gan_zoo.models.base import TextToImageGAN
from gan_zoo.models.damsm import DAMSM
from gan_zoo.models.dcgan_cls import DCGANCLS
from gan_zoo.models.stackgan import StackGAN

__all__ = ["AttnGAN", "DAMSM", "DCGANCLS", "StackGAN", "TextToImageGAN"]
