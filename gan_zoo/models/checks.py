"""The input checks of every model, in one place.

Only checks that stop a silently wrong result, or a failure deep inside a backend's compiled
step, live here: the batch's structure and shapes, class labels that would broadcast, token ids
past the vocabulary (JAX reads them as NaN), a dataset encoded with another vocabulary, and a
model whose trained parts changed after `compile()`. Errors that Keras already gives well are
left to Keras.
"""

import keras
import numpy as np


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
    if num_per_caption < 1:
        raise ValueError(f"num_per_caption must be at least 1; got {num_per_caption}.")
