"""The input checks of every model, in one place.

Only checks that stop a silently wrong result, or a failure deep inside a backend's compiled
step, live here: the batch's structure and shapes, class labels that would broadcast, token ids
past the vocabulary (JAX reads them as NaN), a dataset encoded with another vocabulary, and a
model whose trained parts changed after `compile()`. Errors that Keras already gives well are
left to Keras.
"""

import contextlib

import keras
import numpy as np

from gan_zoo.data.validation import check_positive_int


def check_model_arguments(
    vocabulary, embedding_dim, image_size, noise_dim, max_length, learning_rate
):
    """A GAN's constructor arguments: one text source, positive sizes, a usable rate."""
    if (vocabulary is None) == (embedding_dim is None):
        raise ValueError(
            "Give either vocabulary= (captions, encoded by the shared TextEncoder, or "
            "text_encoder=HubTextEncoder(...) alone) or embedding_dim= (precomputed "
            "sentence embeddings), not both."
        )
    for name, count in [
        ("image_size", image_size),
        ("noise_dim", noise_dim),
        ("max_length", max_length),
    ]:
        check_positive_int(count, name)
    if not (isinstance(learning_rate, (int, float)) and 0 < learning_rate < float("inf")):
        raise ValueError(f"learning_rate must be a finite number > 0; got {learning_rate!r}.")


def unwrap_batch(data):
    """Keras hands a dataset's dict batches over as they are or as a 1-tuple."""
    if isinstance(data, (tuple, list)) and len(data) == 1:
        return data[0]
    return data


def reject_raw_strings(batch):
    """Captions must reach a model as token ids; raw strings get an error that says how."""
    for key, value in batch.items():
        dtype = getattr(value, "dtype", "")
        if "str" in str(dtype) or getattr(dtype, "kind", "") in ("U", "S", "O"):  # tf or numpy
            raise TypeError(
                f"Batch entry {key!r} holds raw strings: encode captions with "
                "gan_zoo.data.make_dataset(images, captions, vocabulary)."
            )


def check_labels(batch):
    """Class labels must be one id per image: a column [B, 1] would broadcast to [B, B] in the
    mismatch and DAMSM masks and corrupt the losses without an error."""
    if "labels" in batch and len(tuple(batch["labels"].shape)) != 1:
        raise ValueError(
            f"The batch's 'labels' must be [batch] class ids; got shape "
            f"{tuple(batch['labels'].shape)}."
        )


def check_tokens(tokens, max_length, vocabulary_size):
    """Token ids must be [batch, max_length], as make_dataset pads them for the model, and
    (where they are at hand, as arrays given to fit) ids of its vocabulary: backends differ on
    an id past the embedding's end (JAX gives NaN silently)."""
    if tuple(tokens.shape)[1:] != (max_length,):
        raise ValueError(
            f"tokens must be [batch, {max_length}]; got {tuple(tokens.shape)}. "
            f"Use make_dataset(..., max_length={max_length})."
        )
    if not isinstance(tokens, np.ndarray) or not tokens.size:
        return
    low, high = tokens.min(), tokens.max()
    if low < 0 or high >= vocabulary_size:
        bad = low if low < 0 else high
        raise ValueError(
            f"Token id {bad} is outside this model's vocabulary of {vocabulary_size} "
            "ids: encode captions with model.vocabulary (make_dataset does)."
        )


def check_batch(model, data, image_size=None, latent_dim=None):
    """A GAN's or DAMSM's training batch, checked (at trace time) and returned as a dict.

    Args:
        model: the model the batch is for: its conditioning entry ("tokens" with its
            vocabulary and max_length, or "embeddings" of its embedding_dim) is checked.
        data: the batch as Keras hands it over.
        image_size: the side the images must have (a GAN's); None takes any (a DAMSM's).
        latent_dim: the width of the batch's optional "latent" rows (a GAN's).

    Returns:
        The batch dict.
    """
    data = unwrap_batch(data)
    name = type(model).__name__
    if not isinstance(data, dict):
        raise TypeError(
            f"{name} trains on dict batches {{'images', 'tokens'}} such as "
            "gan_zoo.data.make_dataset(images, captions, vocabulary) builds; got "
            f"{type(data).__name__}."
        )
    reject_raw_strings(data)
    check_labels(data)
    needed = "tokens" if model.text_encoder is not None else "embeddings"
    for key in ("images", needed):
        if key not in data:
            raise ValueError(f"{name} needs the batch entry {key!r}; the batch has {sorted(data)}.")
    shape = tuple(data["images"].shape)
    size = image_size
    if len(shape) != 4 or shape[-1] != 3 or (size and shape[1:3] != (size, size)):
        side = size or "H"
        raise ValueError(
            f"{name} takes images [batch, {side}, {side if size else 'W'}, 3]; the batch has "
            f"{shape}."
            + (
                f" Build the model with image_size={shape[1]} for images of that size, or "
                f"resize the data with make_dataset(..., image_size={size})."
                if size and len(shape) == 4
                else ""
            )
        )
    if needed == "tokens":
        check_tokens(data["tokens"], model.max_length, len(model.vocabulary))
    elif tuple(data["embeddings"].shape)[1:] != (model.embedding_dim,):
        raise ValueError(
            f"{name} takes embeddings [batch, {model.embedding_dim}]; the batch has "
            f"{tuple(data['embeddings'].shape)}."
        )
    if latent_dim and "latent" in data and tuple(data["latent"].shape)[1:] != (latent_dim,):
        raise ValueError(
            f"The batch's 'latent' must be [batch, {latent_dim}]; got "
            f"{tuple(data['latent'].shape)}."
        )
    return data


def check_fit(model, x):
    """What `fit` checks before Keras starts: a finished compile() over what the model trains
    now, the dataset's vocabulary, and the first batch (Keras's JAX trainer leaves a model
    unusable when its step fails after it has moved the variables out)."""
    name = type(model).__name__
    if isinstance(x, np.ndarray) or (hasattr(x, "shape") and hasattr(x, "dtype")):
        raise TypeError(
            f"{name}.fit takes dict batches {{'images', 'tokens'}} (or a dataset of them) such "
            "as gan_zoo.data.make_dataset(images, captions, vocabulary) builds; got an array "
            f"of shape {tuple(x.shape)}."
        )
    compiled = getattr(model, "_compiled_variable_ids", None)  # None: no compile() finished
    if compiled is None:
        raise RuntimeError(f"Call {name}.compile() before fit().")
    frozen = [part for part, variables in model.trained_parts().items() if not variables]
    if frozen:
        raise ValueError(
            f"This {name} has nothing to train in its {' and '.join(frozen)}: a "
            "Stage-II StackGAN freezes its Stage-I's generator and an AttnGAN its DAMSM, in "
            "place, as they share them; set `.trainable = True` on it and compile() again "
            "to train it again."
        )
    if [id(v) for v in model.optimized_variables()] != compiled:
        raise ValueError(
            f"What this {name} trains changed after compile() (a part "
            "was frozen or unfrozen): call compile() again."
        )
    vocabulary = getattr(x, "vocabulary", None)
    if vocabulary is not None and model.vocabulary is not None and vocabulary != model.vocabulary:
        raise ValueError(
            f"The dataset was encoded with a different vocabulary ({len(vocabulary)} "
            f"entries) than the model's ({len(model.vocabulary)}): build it with "
            "make_dataset(..., vocabulary=model.vocabulary)."
        )
    first = x if isinstance(x, dict) else getattr(x, "element_spec", None)  # arrays, tf.data's
    if first is None and isinstance(x, keras.utils.PyDataset) and x.num_batches != 0:
        first = x[0]  # or a PyDataset's first batch
    # Per-replica specs (tf.distribute) have no shapes.
    if first is not None and all(hasattr(s, "shape") for s in keras.tree.flatten(first)):
        model.check_batch(first)


def check_generation_request(captions, embeddings, num_per_caption):
    """`generate` takes captions or embeddings (one of them, not empty) and k ≥ 1 per caption."""
    if (captions is None) == (embeddings is None):
        raise ValueError("Pass captions or embeddings= (one of them).")
    if len(captions if embeddings is None else embeddings) == 0:
        raise ValueError("No captions were given: pass at least one.")
    check_positive_int(num_per_caption, "num_per_caption")


# Marks the messages of the checks run inside a tf.data pipeline, which surface wrapped in a
# TensorFlow error: `data_errors_named` gives them back as they were written.
DATA_CHECK, DATA_CHECK_END = "gan_zoo data check: ", " (end of check)"
IMAGE_RANGE_SLACK = 1e-3  # resizing and float rounding may step this far past ±1


def check_values(model, batch):
    """A batch of arrays, its values checked: images float in [-1, 1] and finite, embeddings
    finite, token ids in the vocabulary (see `check_tokens`).

    Args:
        model: the model the batch is for (named in the messages).
        batch: a dict of numpy-convertible arrays.

    Raises:
        ValueError: naming the entry, what is wrong and the conversion that fixes it.
    """
    batch = unwrap_batch(batch)
    if not isinstance(batch, dict) or "images" not in batch:
        return  # the structure is check_batch's
    lengths = {key: len(value) for key, value in batch.items() if np.ndim(value)}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"The batch's entries hold different numbers of rows: {lengths}.")
    images = np.asarray(batch["images"])
    if images.dtype == np.uint8:
        raise ValueError(
            f"{type(model).__name__} trains on float images in [-1, 1]; these are uint8 "
            "[0, 255]: convert them with images / 127.5 - 1, or build the data with "
            "gan_zoo.data.make_dataset (it converts uint8 images)."
        )
    _check_finite(images, "images")
    low, high = float(images.min(initial=0.0)), float(images.max(initial=0.0))
    if low < -1 - IMAGE_RANGE_SLACK or high > 1 + IMAGE_RANGE_SLACK:
        hint = " They look like [0, 255] values: scale with x / 127.5 - 1." if high > 2 else ""
        raise ValueError(f"Images must lie in [-1, 1]; these lie in [{low:.4g}, {high:.4g}].{hint}")
    if "embeddings" in batch:
        _check_finite(np.asarray(batch["embeddings"]), "embeddings")
    vocabulary = getattr(model, "vocabulary", None)
    if "tokens" in batch and vocabulary is not None:
        tokens = np.asarray(batch["tokens"])
        if not np.issubdtype(tokens.dtype, np.integer):
            raise ValueError(
                f"tokens must be integer ids; got {tokens.dtype}. Encode captions with "
                "model.vocabulary.encode (make_dataset does)."
            )
        check_tokens(tokens, model.max_length, len(vocabulary))


def _check_finite(values, name):
    bad = values.size - int(np.count_nonzero(np.isfinite(values)))
    if bad:
        raise ValueError(
            f"The batch's {name} hold {bad:,} NaN or infinite values: a model trained on them "
            "turns to NaN. Find and drop or repair those entries."
        )


class CheckedBatches(keras.utils.PyDataset):
    """A user's PyDataset whose every batch is checked by `check_values` as it is read."""

    def __init__(self, model, dataset):
        super().__init__(
            workers=dataset.workers,
            use_multiprocessing=dataset.use_multiprocessing,
            max_queue_size=dataset.max_queue_size,
        )
        self.model, self.dataset = model, dataset

    @property
    def num_batches(self):
        return self.dataset.num_batches

    def __getitem__(self, index):
        batch = self.dataset[index]
        check_values(self.model, batch)
        return batch

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


def checked_input(model, x):
    """The data `fit` trains on, with their values checked on every path into it.

    make_dataset's pipelines were checked when built and pass as they are. Dicts of arrays are
    checked whole, now; a user's PyDataset batch by batch as it is read; a user's tf.data
    dataset batch by batch inside its pipeline (about 1% of a CPU pipeline's time: see
    benchmarks/RESULTS.md). A Python generator is not checked: a NaN in it stops the run at
    the `DivergenceGuard` instead.

    Args:
        model: the model `fit` trains.
        x: what `fit` was given.

    Returns:
        (`x`, or `x` wrapped so that its batches are checked as they are read; whether its
        values are checked).
    """
    if isinstance(x, dict):
        check_values(model, x)
    elif isinstance(x, keras.utils.PyDataset) and not hasattr(x, "set_epoch"):
        return CheckedBatches(model, x), True
    elif hasattr(x, "element_spec") and not hasattr(x, "source_images"):
        return _checked_tf_dataset(model, x), True
    return x, isinstance(x, (dict, keras.utils.PyDataset)) or hasattr(x, "element_spec")


def _checked_tf_dataset(model, dataset):
    """A user's tf.data dataset whose batches assert what `check_values` checks."""
    import tensorflow as tf

    spec = unwrap_batch(dataset.element_spec)
    if not isinstance(spec, dict) or "images" not in spec:
        return dataset  # the structure is check_batch's
    if spec["images"].dtype == tf.uint8:
        check_values(model, {"images": np.zeros((1, 1, 1, 3), "uint8")})  # its message

    def check(*batch):
        entries = unwrap_batch(batch if len(batch) > 1 else batch[0])
        images = tf.cast(entries["images"], tf.float32)
        # Three reductions and no temporary: a sum is finite exactly when every value is
        # (values in [-1, 1] cannot overflow it), then the range.
        low, high = tf.reduce_min(images), tf.reduce_max(images)
        asserts = [
            _assert(
                tf.math.is_finite(tf.reduce_sum(images)),
                "images hold NaN or inf values: drop or repair them.",
            ),
            _assert(
                (low >= -1.0 - IMAGE_RANGE_SLACK) & (high <= 1.0 + IMAGE_RANGE_SLACK),
                "images must lie in [-1, 1] (scale [0, 255] values with x / 127.5 - 1).",
            ),
        ]
        vocabulary = getattr(model, "vocabulary", None)
        if "tokens" in entries and vocabulary is not None:
            tokens = tf.cast(entries["tokens"], tf.int64)
            asserts.append(
                _assert(
                    (tf.reduce_min(tokens) >= 0) & (tf.reduce_max(tokens) < len(vocabulary)),
                    f"a token id is outside the vocabulary of the model ({len(vocabulary)} "
                    "ids): encode captions with model.vocabulary.",
                )
            )
        with tf.control_dependencies(asserts):
            return tf.nest.map_structure(tf.identity, batch if len(batch) > 1 else batch[0])

    return dataset.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _assert(condition, message):
    import tensorflow as tf

    return tf.debugging.Assert(condition, [DATA_CHECK + message + DATA_CHECK_END])


@contextlib.contextmanager
def data_errors_named():
    """Turns a failed check inside a tf.data pipeline (a TensorFlow error wrapping it) back
    into the ValueError it stands for."""
    try:
        yield
    except Exception as error:
        text = str(error)
        if DATA_CHECK not in text:
            raise
        message = text[text.index(DATA_CHECK) + len(DATA_CHECK) :].split(DATA_CHECK_END)[0]
        raise ValueError(f"A batch of the dataset failed its check: {message}") from None
