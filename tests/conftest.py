"""Shared fixtures. Tests run on the backend in KERAS_BACKEND (TensorFlow by default)."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gan_zoo import DCGANCLS, Vocabulary  # noqa: E402
from gan_zoo.data import shapes  # noqa: E402


@pytest.fixture(scope="session")
def shapes32():
    """128 captioned shapes at 32 px, with their vocabulary."""
    images, captions, attributes = shapes.load("train", num_images=128, image_size=32, seed=0)
    return images, captions, attributes, Vocabulary.build(captions)


def tiny_dcgan(vocabulary, seed=0, **kwargs):
    """A DCGAN-cls small enough to train in seconds on a CPU (32 px, widths 8)."""
    keras.utils.set_random_seed(seed)
    options = dict(vocabulary=vocabulary, image_size=32, ngf=8, ndf=8, text_dim=16, seed=seed)
    options.update(kwargs)
    return DCGANCLS(**options)


def trainable_count(model):
    """Trainable parameters, counted as PyTorch's `requires_grad` parameters are."""
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def pytest_collection_modifyitems(config, items):
    """Tests that start each backend in subprocesses run once, in the TensorFlow pass."""
    if keras.backend.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(reason="starts every backend itself: runs in the TensorFlow pass")
    for item in items:
        if "cross_backend" in item.keywords:
            item.add_marker(skip)
