"""gan_zoo: the classic text-to-image GANs for Keras 3, trained with `model.fit`."""

from gan_zoo import callbacks, data, losses
from gan_zoo.models import DCGANCLS, StackGAN, TextToImageGAN
from gan_zoo.text import TextEncoder, Vocabulary

__version__ = "0.1.0"
__all__ = ["DCGANCLS", "StackGAN", "TextEncoder", "TextToImageGAN", "Vocabulary", "callbacks", "data", "losses"]
