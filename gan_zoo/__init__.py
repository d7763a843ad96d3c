"""gan_zoo: the classic text-to-image GANs for Keras 3, trained with `model.fit`."""

import keras

from gan_zoo import _requirements

_requirements.check(keras.__version__, keras.backend.backend())

from gan_zoo import callbacks, data, losses  # noqa: E402
from gan_zoo.models import DAMSM, DCGANCLS, AttnGAN, StackGAN, TextToImageGAN  # noqa: E402
from gan_zoo.text import TextEncoder, Vocabulary  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "AttnGAN",
    "DAMSM",
    "DCGANCLS",
    "StackGAN",
    "TextEncoder",
    "TextToImageGAN",
    "Vocabulary",
    "callbacks",
    "data",
    "losses",
]
