"""Stabilisers for adversarial training, off by default (none of the three papers uses them).

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
"""

import keras
from keras import ops


def check(label_smoothing, instance_noise, instance_noise_steps):
    """A clear error for settings outside the ranges these remedies are defined on."""
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError("label_smoothing must be in [0, 1): the real label is 1 - it; "
                         f"got {label_smoothing}")
    if instance_noise < 0.0:
        raise ValueError("instance_noise is a standard deviation and cannot be negative; "
                         f"got {instance_noise}")
    if instance_noise_steps < 1:
        raise ValueError(f"instance_noise_steps must be at least 1; got {instance_noise_steps}")


def instance_noise_scale(step, scale, steps):
    """σ at a training step: `scale` at step 0, falling linearly to 0 at `steps`, then 0."""
    step = ops.cast(step, "float32")
    return scale * ops.maximum(0.0, 1.0 - step / float(steps))


def add_instance_noise(images, sigma, seed):
    """Images plus N(0, σ²) noise (drawn with `seed`, a SeedGenerator), in the images' dtype."""
    noise = keras.random.normal(ops.shape(images), seed=seed)
    return ops.add(images, ops.cast(sigma * noise, images.dtype))
