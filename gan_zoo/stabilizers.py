"""Stabilisers for adversarial training, off by default (of the three papers only AttnGAN's
code uses one, the generator average, which AttnGAN keeps by default).

Two well-tested remedies for a discriminator that wins too early or too confidently, both
of which leave the networks untouched and so work with every model and backend:

- one-sided label smoothing (Salimans et al., "Improved Techniques for Training GANs",
  2016): D's target for real images is 1 - s instead of 1 (fakes stay at 0), so D is never
  rewarded for unbounded confidence on real data;
- annealed instance noise (Sønderby et al., 2016; Arjovsky & Bottou, 2017): Gaussian noise
  of standard deviation σ_t on every image D sees, real or generated, with σ_t falling
  linearly from `scale` to 0 over `steps` training steps. The noise makes the real and the
  generated distributions overlap early on, where D could otherwise separate them
  perfectly and give G no useful gradient.

A third works on the generator's side: a moving average of G's weights (Yazıcı et al., "The
Unusual Effectiveness of Averaging in GAN Training", 2019), which damps the oscillation of
the last iterate. The model's `generator_ema` hands it to the default G optimizer (Keras's
`use_ema`); `check` validates it with the others.
"""

import math
import numbers

import keras
from keras import ops

SETTINGS = ("label_smoothing", "instance_noise", "instance_noise_steps", "generator_ema")


def check(**settings):
    """A clear error for settings (any of SETTINGS) outside the ranges these remedies are
    defined on, or that are not finite real numbers."""
    for name, value in settings.items():
        if name not in SETTINGS:
            raise TypeError(f"check() takes {', '.join(SETTINGS)}; got {name}")
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
        ):
            raise ValueError(f"{name} must be a finite number; got {value!r}")
    if not 0.0 <= settings.get("label_smoothing", 0.0) < 1.0:
        raise ValueError(
            "label_smoothing must be in [0, 1): the real label is 1 - it; "
            f"got {settings['label_smoothing']}"
        )
    if settings.get("instance_noise", 0.0) < 0.0:
        raise ValueError(
            "instance_noise is a standard deviation and cannot be negative; "
            f"got {settings['instance_noise']}"
        )
    if settings.get("instance_noise_steps", 1) < 1:
        raise ValueError(
            f"instance_noise_steps must be at least 1; got {settings['instance_noise_steps']}"
        )
    if not 0.0 <= settings.get("generator_ema", 0.0) < 1.0:
        raise ValueError(
            "generator_ema is a moving average's momentum, in [0, 1) (0 = off); "
            f"got {settings['generator_ema']}"
        )


def instance_noise_scale(step, scale, steps):
    """σ at a training step: `scale` at step 0, falling linearly to 0 at `steps`, then 0."""
    step = ops.cast(step, "float32")
    return scale * ops.maximum(0.0, 1.0 - step / float(steps))


def add_instance_noise(images, sigma, seed):
    """Images plus N(0, σ²) noise (drawn with `seed`, a SeedGenerator), in the images' dtype."""
    noise = keras.random.normal(ops.shape(images), seed=seed)
    return ops.add(images, ops.cast(sigma * noise, images.dtype))
