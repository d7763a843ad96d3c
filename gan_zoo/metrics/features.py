"""Feature extractors: uint8 images in, feature vectors (and class probabilities) out.

`inception_v3(weights)` is the standard one: keras.applications' InceptionV3 with weights from
a local file (nothing is downloaded), pool features (2048-d) and class probabilities at 299 px.
Its ImageNet weights are not the 2015 TensorFlow graph the papers' FID and IS used, so its
scores are labelled as not comparable with the papers. `pixels()` needs no weights: the
images themselves, shrunk (a crude but offline and deterministic feature space). Any Keras
model can be wrapped with `FeatureExtractor`.

Resizing is bicubic (antialiased) on float values with no re-quantisation to uint8 after it,
as clean-fid recommends; FIDs computed with other resizers differ by several points. An
extractor that reproduces a published tool resizes as that tool does (pytorch-fid: bilinear,
not antialiased; see `gan_zoo.convert.fid_inception_from_pytorch_fid`).
"""

import os

import keras
import numpy as np
from keras import ops

from gan_zoo.data.validation import check_images
from gan_zoo.utils.progress import batch_starts


class FeatureExtractor:
    """Wraps a Keras model [B, S, S, 3] -> features (or [features, probabilities]).

    Args:
        model: the network; its input side is `image_size`.
        preprocess: maps float images in [0, 255] to the model's input range.
        name: how reports label the feature space.
        comparable_with_papers: whether scores match the published protocol's network.
        interpolation, antialias: how images are resized to `image_size` (`ops.image.resize`).
    """

    def __init__(
        self,
        model,
        image_size,
        preprocess=None,
        name=None,
        comparable_with_papers=False,
        interpolation="bicubic",
        antialias=True,
    ):
        self.model = model
        self.image_size = image_size
        self.interpolation, self.antialias = interpolation, antialias
        self.preprocess = preprocess or (lambda x: x / 127.5 - 1.0)
        self.name = name or model.name
        self.comparable_with_papers = comparable_with_papers
        self.has_probabilities = isinstance(model.output, (list, tuple)) and len(model.output) == 2

    def require_probabilities(self):
        """Raises unless the network gives class probabilities (the Inception Score needs them)."""
        if not self.has_probabilities:
            raise ValueError(
                f"The Inception Score needs class probabilities; the {self.name} "
                "extractor gives only features."
            )

    def resize(self, images):
        """uint8 [B, H, W, 3] (or floats in [-1, 1]) -> float32 [B, S, S, 3] in [0, 255],
        not re-quantised."""
        x = ops.cast(images, "float32")
        if images.dtype != np.uint8:
            x = (x + 1.0) * 127.5
        if images.shape[1:3] != (self.image_size, self.image_size):
            x = ops.image.resize(
                x,
                (self.image_size, self.image_size),
                interpolation=self.interpolation,
                antialias=self.antialias,
            )
        return ops.clip(x, 0.0, 255.0)

    def __call__(self, images, batch_size=50, verbose=False):
        """Returns {"features": float32 [N, D]} plus "probabilities" [N, C] when available;
        `verbose` shows a progress bar."""
        images = check_images(images)
        features, probabilities = [], []
        for i in batch_starts(len(images), batch_size, verbose):
            out = self.model(
                self.preprocess(self.resize(images[i : i + batch_size])), training=False
            )
            if self.has_probabilities:
                out, probs = out
                probabilities.append(ops.convert_to_numpy(ops.cast(probs, "float32")))
            features.append(ops.convert_to_numpy(ops.cast(out, "float32")).reshape(len(out), -1))
        result = {"features": np.concatenate(features)}
        if probabilities:
            result["probabilities"] = np.concatenate(probabilities)
        return result


def inception_v3(weights):
    """InceptionV3 pool features and probabilities, ImageNet weights from a local .h5/.keras file
    (e.g. saved once with `keras.applications.InceptionV3().save_weights(...)` on a machine
    with internet)."""
    if not weights or not os.path.exists(weights):
        raise FileNotFoundError(
            f"No Inception weights at {weights!r}: pass a local file of "
            "keras.applications.InceptionV3 weights (gan_zoo never downloads)."
        )
    net = keras.applications.InceptionV3(weights=None, include_top=True)
    net.load_weights(weights)
    model = keras.Model(
        net.input, [net.get_layer("avg_pool").output, net.output], name="inception_v3"
    )
    return FeatureExtractor(
        model,
        299,
        preprocess=lambda x: x / 127.5 - 1.0,
        name="inception_v3 (keras.applications ImageNet weights)",
    )


def pixels(size=16):
    """The images shrunk to size x size (bicubic), flattened and scaled to [-1, 1]."""
    image = keras.Input((size, size, 3))
    model = keras.Model(image, keras.layers.Flatten()(image), name=f"pixels_{size}")
    return FeatureExtractor(model, size, name=f"pixels {size}x{size}")
