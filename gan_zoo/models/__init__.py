"""The zoo's models."""

import keras

from gan_zoo import _requirements

_requirements.check(keras.__version__, keras.backend.backend())

from gan_zoo.models.attngan import AttnGAN  # noqa: E402
from gan_zoo.models.base import TextToImageGAN  # noqa: E402
from gan_zoo.models.damsm import DAMSM  # noqa: E402
from gan_zoo.models.dcgan_cls import DCGANCLS  # noqa: E402
from gan_zoo.models.dfgan import DFGAN  # noqa: E402
from gan_zoo.models.stackgan import StackGAN  # noqa: E402

__all__ = ["AttnGAN", "DAMSM", "DCGANCLS", "DFGAN", "StackGAN", "TextToImageGAN"]
