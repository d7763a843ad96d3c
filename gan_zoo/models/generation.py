"""Drawing images for captions: `generate` and `interpolate`, and their host-side helpers
(reproducible latent rows, batching, uint8 images)."""

import math
import numbers
import statistics

import keras
import numpy as np
from keras import ops

from gan_zoo.data.validation import check_positive_int, to_uint8
from gan_zoo.divergence import DivergenceError, check_finite_weights
from gan_zoo.models import checks

TRUNCATION_CUT = 2.0  # truncated noise: N(0, 1) cut at ±2σ, then scaled (DF-GAN's sampling)
DFGAN_TRUNCATION = 0.88  # DF-GAN's cfg/*.yml trunc_rate, for its samples and FID


def latent_rows(seed, count, width):
    """Latent noise [count, width] for `generate`, row i drawn from (seed, i) with numpy.

    A row's noise does not depend on how many rows are drawn with it, nor on the backend, and
    its parts come in turn, so a model whose inputs extend another's (Stage-II over Stage-I)
    sees the same first parts for the same seed. `seed=None` draws a fresh random seed.
    """
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
    ):
        raise ValueError(f"seed must be None or an integer ≥ 0; got {seed!r}.")
    seed = np.random.SeedSequence(seed).entropy
    rows = [np.random.default_rng([seed, i]).standard_normal(width) for i in range(count)]
    return np.stack(rows).astype("float32").reshape(count, width)


def repeat_rows(condition, times):
    """Each row of a condition (an array or a dict of them) repeated `times` times in place."""
    return keras.tree.map_structure(lambda a: np.repeat(a, times, axis=0), condition)


def run_in_batches(function, noise, condition, batch_size):
    """Runs `function(noise, condition)` over `batch_size` rows at a time.

    Returns:
        Its outputs, every array of them joined into one numpy array.
    """
    chunks = []
    for start in range(0, len(noise), batch_size):
        rows = slice(start, start + batch_size)
        part = keras.tree.map_structure(lambda a, rows=rows: a[rows], condition)
        chunks.append(keras.tree.map_structure(ops.convert_to_numpy, function(noise[rows], part)))
    return keras.tree.map_structure(lambda *parts: np.concatenate(parts), *chunks)


def stage_images(stages, return_stages):
    """{size: float images in [-1, 1]} -> uint8: every stage's dict, or the largest's array."""
    stages = {size: to_uint8(images) for size, images in stages.items()}
    return stages if return_stages else stages[max(stages)]


def check_finite_images(model, stages):
    """Refuses to hand out images with NaN or inf in them: they come from a model whose weights
    diverged (named by `check_finite_weights`), else from G's activations overflowing.

    Args:
        model: the model that drew them.
        stages: {size: float images}.

    Raises:
        DivergenceError: when any value is not finite.
    """
    if all(np.isfinite(images).all() for images in stages.values()):
        return
    check_finite_weights(model, "draw images")
    raise DivergenceError(
        f"This {type(model).__name__}'s generator drew NaN or inf pixels although its weights "
        "are finite: its activations overflow (under float16, train or draw in float32)."
    )


def check_truncation(truncation):
    """None, or a finite number > 0; anything else is an error that says what it means."""
    if truncation is None:
        return
    number = isinstance(truncation, numbers.Real) and not isinstance(truncation, bool)
    if not (number and math.isfinite(truncation) and truncation > 0):
        raise ValueError(
            f"truncation must be a number > 0, the scale of noise cut at ±{TRUNCATION_CUT:g}σ "
            f"(DF-GAN samples with {DFGAN_TRUNCATION}), or None for untruncated noise; "
            f"got {truncation!r}."
        )


def truncate(noise, truncation):
    """Standard normal rows -> DF-GAN's sampling noise, truncation · N(0, 1) cut at ±2:
    each value is carried through the normal CDF onto the cut range, an exact draw of the
    truncated normal that stays a function of the row's seed.

    Args:
        noise: float array of N(0, 1) values.
        truncation: the scale, > 0 (the authors: 0.88).

    Returns:
        float32 array of `noise`'s shape, every value within ±2 · truncation.
    """
    normal = statistics.NormalDist()
    low, high = normal.cdf(-TRUNCATION_CUT), normal.cdf(TRUNCATION_CUT)
    cut = np.vectorize(lambda x: normal.inv_cdf(low + normal.cdf(x) * (high - low)))
    return (truncation * cut(np.asarray(noise, "float64"))).astype("float32")


class CaptionedGeneration:
    """`generate` and `interpolate` for a `TextToImageGAN`, over its `run_generator`."""

    def encode_captions(self, captions):
        """Captions -> the conditions `run_generator` takes: numpy float32 [N, condition_dim]
        sentence vectors (AttnGAN: a dict that adds the words and their mask)."""
        if self.text_encoder is None:
            raise ValueError(
                "This model is conditioned on precomputed embeddings: pass embeddings=."
            )
        tokens = self.vocabulary.encode(captions, self.max_length)
        return ops.convert_to_numpy(self.text_encoder(tokens, training=False)[1])

    def encode_embeddings(self, embeddings):
        """Precomputed sentence embeddings [N, condition_dim] -> the conditions G takes."""
        condition = np.asarray(embeddings, dtype="float32")
        if condition.ndim != 2 or condition.shape[1] != self.condition_dim:
            raise ValueError(f"embeddings must be [N, {self.condition_dim}]; got {condition.shape}")
        return condition

    def generate_outputs(
        self,
        captions=None,
        seed=None,
        num_per_caption=1,
        embeddings=None,
        batch_size=64,
        truncation=None,
    ):
        """`run_generator`'s outputs as numpy arrays, for each caption's k rows in turn."""
        check_truncation(truncation)
        check_positive_int(batch_size, "batch_size")
        checks.check_generation_request(captions, embeddings, num_per_caption)
        condition = (
            self.encode_embeddings(embeddings)
            if embeddings is not None
            else self.encode_captions(captions)
        )
        condition = repeat_rows(condition, num_per_caption)
        noise = latent_rows(seed, len(keras.tree.flatten(condition)[0]), self.latent_dim)
        if truncation is not None:
            noise = truncate(noise, truncation)
        outputs = run_in_batches(self.run_generator, noise, condition, batch_size)
        check_finite_images(self, outputs["images"])
        return outputs

    def generate(
        self,
        captions=None,
        seed=None,
        num_per_caption=1,
        embeddings=None,
        batch_size=64,
        return_stages=False,
        truncation=None,
    ):
        """Images for captions (or embeddings): uint8 [N·k, H, W, 3], caption-major.

        The same `seed` gives the same images, on every backend and after a reload. With
        `return_stages=True`, a dict {size: images} with every stage's output. `truncation=t`
        draws the noise as t · N(0, 1) cut at ±2 (`truncate`; DF-GAN samples with 0.88):
        images nearer the modes, less varied.
        """
        outputs = self.generate_outputs(
            captions, seed, num_per_caption, embeddings, batch_size, truncation
        )
        return stage_images(outputs["images"], return_stages)

    def interpolate(self, caption_a, caption_b, steps=8, seed=0):
        """GAN-INT: images along the line between two captions' conditions, one fixed z (word
        masks, where a model has them, are joined)."""
        if steps < 2:
            raise ValueError(f"interpolate needs steps >= 2 (the two captions' ends); got {steps}.")
        ends = self.encode_captions([caption_a, caption_b])
        t = np.linspace(0.0, 1.0, steps, dtype="float32")

        def blend(end):
            if end.dtype == bool:
                return np.repeat(end[:1] | end[1:], steps, axis=0)
            w = t.reshape((steps,) + (1,) * (end.ndim - 1))
            return (1.0 - w) * end[0] + w * end[1]

        condition = keras.tree.map_structure(blend, ends)
        noise = np.repeat(latent_rows(seed, 1, self.latent_dim), steps, axis=0)
        outputs = run_in_batches(self.run_generator, noise, condition, steps)
        check_finite_images(self, outputs["images"])
        return stage_images(outputs["images"], return_stages=False)
