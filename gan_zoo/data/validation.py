"""Checks on user data that turn deep shape errors into messages that name the problem."""

import numbers
import warnings

import numpy as np


def check_positive_int(value, name):
    """Counts and sizes (batch sizes, image counts) must be integers ≥ 1: a 0, a float or a
    negative one would fail deep in a backend, or silently train nothing.

    Args:
        value: what was given.
        name: the argument's name, for the message.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")


def check_images(images):
    """Validates an image batch and returns it as uint8 [N, S, S, 3] or float32 in [-1, 1].

    Accepts uint8 in [0, 255] or floats in [-1, 1]; anything else is an error that says what
    was wrong (rank, channels, non-square size, size, value range). Floats with no negative
    value are warned about: they are most likely in [0, 1].
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"Images must have rank 4 [N, H, W, 3]; got rank {images.ndim} with "
            f"shape {images.shape}"
        )
    if images.shape[-1] != 3:
        raise ValueError(
            f"Images must have 3 colour channels (RGB, channels last); got "
            f"{images.shape[-1]} in shape {images.shape}"
        )
    if images.shape[1] != images.shape[2]:
        raise ValueError(f"Images must be square; got {images.shape[1]}x{images.shape[2]}")
    if len(images) == 0:
        raise ValueError("No images were given.")
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"Images must be uint8 in [0, 255] or floats in [-1, 1]; got dtype {images.dtype}"
        )
    low, high = float(images.min()), float(images.max())
    if not np.isfinite([low, high]).all() or low < -1.0 - 1e-3 or high > 1.0 + 1e-3:
        raise ValueError(
            f"Float images must lie in [-1, 1]; got values in [{low:.3g}, {high:.3g}] "
            "(pass uint8 images in [0, 255], or scale with x / 127.5 - 1)"
        )
    if low >= 0.0:
        warnings.warn(
            f"Float images in [{low:.3g}, {high:.3g}]: not one pixel is below mid-grey, "
            "which for images in [-1, 1] is unlikely; images in [0, 1] must be scaled "
            "(x * 2 - 1) or passed as uint8, or they train as washed-out grey.",
            stacklevel=3,
        )
    return images.astype("float32")


def to_unit_range(images):
    """uint8 [0, 255] or float [-1, 1] numpy images -> float32 in [-1, 1]."""
    if images.dtype == np.uint8:
        return images.astype("float32") / 127.5 - 1.0
    return images.astype("float32")


def to_uint8(images):
    """Float images in [-1, 1] -> uint8 in [0, 255], rounded."""
    images = np.asarray(images, dtype="float32")
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype("uint8")
