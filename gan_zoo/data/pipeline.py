"""make_dataset: images + captions -> batches {"images": float32 [-1, 1], "tokens": int32}."""

import weakref

import keras
import numpy as np

from gan_zoo.data.validation import check_images, check_positive_int, to_uint8, to_unit_range
from gan_zoo.text.hub import HubTextEncoder, HubVocabulary
from gan_zoo.text.vocabulary import iter_captions
from gan_zoo.utils.progress import batch_starts

LOAD_RATIO = 76 / 64  # the papers load images at 76/64 of the target size, then crop
RESIZE_CHUNK = 256  # images resized at a time by the numpy pipeline
GATHER_CHUNK = 64  # rows tf.data takes from the numpy images at a time


def encode_caption_sets(captions, vocabulary, max_length):
    """Per-image caption lists -> tokens int32 [N, C, T] (padded caption slots) and counts [N]."""
    sets = []
    for i, entry in enumerate(captions):
        if isinstance(entry, (str, bytes)):
            entry = [entry]
        elif not isinstance(entry, (list, tuple, np.ndarray)):
            raise TypeError(
                f"The captions of image {i} are a {type(entry).__name__}: give each image a "
                "caption string or a list of them."
            )
        sets.append(list(iter_captions(entry)))
    for i, caption_set in enumerate(sets):
        if not caption_set:
            raise ValueError(f"Image {i} has no captions.")
    width = max(len(s) for s in sets)
    tokens = np.zeros((len(sets), width, max_length), dtype="int32")
    if isinstance(vocabulary, HubVocabulary):  # one tokenizer call, one truncation warning
        flat = vocabulary.encode([c for s in sets for c in s], max_length)
        rows = np.split(flat, np.cumsum([len(s) for s in sets])[:-1])
        for i, row in enumerate(rows):
            tokens[i, : len(row)] = row
    else:
        for i, caption_set in enumerate(sets):
            try:
                tokens[i, : len(caption_set)] = vocabulary.encode(caption_set, max_length)
            except ValueError as error:
                raise ValueError(f"Captions of image {i}: {error}") from None
    return tokens, np.array([len(s) for s in sets], dtype="int32")


def make_dataset(
    images,
    captions=None,
    vocabulary=None,
    batch_size=64,
    image_size=None,
    max_length=None,
    labels=None,
    shuffle=True,
    random_crop=False,
    flip=False,
    seed=None,
    drop_remainder=True,
    use_tf_data=None,
    embeddings=None,
    preprocessor=None,
):
    """Builds the training input every gan_zoo model's `fit` takes.

    Args:
        images: uint8 [N, S, S, 3] in [0, 255] or floats in [-1, 1].
        captions: N captions, or N lists of captions (one is drawn per image each epoch).
        vocabulary: the `Vocabulary` the model was built with: `model.vocabulary`, which for
            a model with a `HubTextEncoder` is its tokenizer (a `HubVocabulary`).
        preprocessor: instead of vocabulary, a keras-hub preprocessor or tokenizer (a
            `CLIPPreprocessor`, `BertTextClassifierPreprocessor`, `CLIPTokenizer`, ...), or a
            `HubTextEncoder`: raw caption strings are tokenised with it, as the model's own
            encoder would (the same vocabulary and sequence length), then packed with start,
            end and padding tokens; longer captions are truncated, with a warning.
        max_length: caption length in tokens (default 18; a hub tokenizer's sequence length).
        embeddings: instead of captions and vocabulary, precomputed sentence embeddings [N, E]
            or [N, C, E] (one of the C is drawn per image each epoch), for models built with
            `embedding_dim=E` (StackGAN's char-CNN-RNN vectors, say).
        image_size: output size; images are resized to it (default: their own size).
        labels: optional int class labels [N]; mismatched pairs then skip same-class pairs.
        random_crop: load at 76/64 of the size and crop back at random, as the papers do.
        flip: random horizontal flips; off by default because captions may say left/right.
        drop_remainder: keep every batch the same shape (no recompilation under XLA).
        use_tf_data: tf.data when TensorFlow is installed (default), else a keras PyDataset.

    Returns:
        A `tf.data.Dataset` or a `keras.utils.PyDataset` of dicts {"images", "tokens" (or
        "embeddings")[, "labels"]}, carrying the vocabulary as `.vocabulary` so `fit` can check
        that it matches the model.
    """
    check_positive_int(batch_size, "batch_size")
    images = check_images(images)
    vocabulary, max_length = _text_side(vocabulary, preprocessor, max_length)
    if (embeddings is None) == (captions is None or vocabulary is None):
        raise ValueError("Give captions and vocabulary, or embeddings= (precomputed), not both.")
    if embeddings is not None:
        texts = np.asarray(embeddings, dtype="float32")
        texts = texts[:, None] if texts.ndim == 2 else texts
        if texts.ndim != 3 or len(texts) != len(images):
            raise ValueError(
                f"embeddings must be [{len(images)}, E] or [{len(images)}, C, E]; "
                f"got {np.shape(embeddings)}"
            )
        counts, key = np.full(len(texts), texts.shape[1], dtype="int32"), "embeddings"
    elif len(captions) != len(images):
        raise ValueError(f"Got {len(images)} images but {len(captions)} caption entries.")
    if labels is not None:
        labels = np.asarray(labels, dtype="int32")
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape [{len(images)}]; got {labels.shape}")
    if batch_size > len(images) and drop_remainder:
        raise ValueError(
            f"batch_size {batch_size} is larger than the dataset ({len(images)} images)."
        )
    if embeddings is None:
        (texts, counts), key = encode_caption_sets(captions, vocabulary, max_length), "tokens"
    image_size = image_size or images.shape[1]
    if use_tf_data is None:
        use_tf_data = _tensorflow_available()
    build = _tf_dataset if use_tf_data else ArrayDataset
    dataset = build(
        images,
        texts,
        counts,
        labels,
        batch_size=batch_size,
        image_size=image_size,
        shuffle=shuffle,
        random_crop=random_crop,
        flip=flip,
        seed=seed,
        drop_remainder=drop_remainder,
        text_key=key,
    )
    dataset.vocabulary = vocabulary
    return dataset


def _text_side(vocabulary, preprocessor, max_length):
    """(vocabulary, max_length) of make_dataset's text arguments: a keras-hub preprocessor,
    tokenizer or `HubTextEncoder` made a `HubVocabulary`, the caption length its own."""
    if preprocessor is not None:
        if vocabulary is not None:
            raise ValueError("Give vocabulary= or preprocessor=, not both.")
        tokenizer = getattr(preprocessor, "tokenizer", preprocessor)
        length = getattr(preprocessor, "sequence_length", None) or max_length
        if not hasattr(tokenizer, "start_token_id") or not length:
            raise ValueError(
                "preprocessor= takes a keras-hub preprocessor, a tokenizer with max_length=, or "
                f"a HubTextEncoder; got {type(preprocessor).__name__}."
            )
        vocabulary = HubVocabulary(tokenizer, length)
    if isinstance(vocabulary, HubTextEncoder):
        vocabulary = vocabulary.vocabulary
    if isinstance(vocabulary, HubVocabulary):
        return vocabulary, max_length or vocabulary.sequence_length
    return vocabulary, max_length or 18


def _tensorflow_available():
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def _tf_dataset(
    images,
    texts,
    counts,
    labels,
    batch_size,
    image_size,
    shuffle,
    random_crop,
    flip,
    seed,
    drop_remainder,
    text_key="tokens",
):
    import tensorflow as tf

    load_size = round(image_size * LOAD_RATIO) if random_crop else image_size
    # Rows are gathered from the numpy array itself: a tensor of it would be a second copy of
    # the images (16 GB for COCO at 256 px). TensorFlow keeps a numpy_function's callable for
    # the life of the process, so it holds the array weakly; the dataset holds it.
    source = weakref.ref(images)

    def rows_of(index):
        held = source()
        if held is None:
            raise RuntimeError(
                "The images this dataset reads were freed: keep the dataset (or its images) "
                "alive while iterating it."
            )
        return held[index]

    columns = {"texts": tf.constant(texts), "counts": tf.constant(counts)}
    if labels is not None:
        columns["labels"] = tf.constant(labels)
    count = len(images)
    seed = int(np.random.default_rng().integers(2**31)) if seed is None else seed
    # Every random choice of an epoch (the order, then each example's crop, flip and caption)
    # is a function of (seed, epoch) alone, so that a run resumed at epoch k sees the batches
    # an uninterrupted one does. Each new iterator takes the epoch from `epoch` and moves it
    # on by one; `fit` sets it at every epoch's start (`set_epoch`).
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)

    def epoch_plan(_):
        key = tf.random.experimental.stateless_fold_in(
            tf.constant([seed, 0], tf.int64), epoch.assign_add(1) - 1
        )
        order_key, example_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
        order = tf.range(count)
        if shuffle:
            order = tf.argsort(tf.random.stateless_uniform([count], order_key))
        keys = tf.random.experimental.stateless_split(example_key, count)
        return tf.data.Dataset.from_tensor_slices({"index": order, "key": keys})

    def gather(rows):  # a chunk of rows at a time: one call into Python per chunk, not per image
        image = tf.numpy_function(
            rows_of, [rows["index"]], tf.as_dtype(images.dtype), stateful=False
        )
        picked = {name: tf.gather(column, rows["index"]) for name, column in columns.items()}
        return dict(
            picked, key=rows["key"], images=tf.ensure_shape(image, (None, *images.shape[1:]))
        )

    ds = (
        tf.data.Dataset.from_tensors(0)
        .flat_map(epoch_plan)
        .batch(GATHER_CHUNK)
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .unbatch()
    )
    ds = ds.apply(tf.data.experimental.assert_cardinality(count))  # for fit's progress bar

    def prepare(example):
        keys = tf.random.experimental.stateless_split(example["key"], 3)
        crop_key, flip_key, pick_key = tf.unstack(keys)
        image = tf.cast(example["images"], tf.float32)
        if images.dtype == np.uint8:
            image = image / 127.5 - 1.0
        if image.shape[0] != load_size:
            image = tf.image.resize(image, (load_size, load_size), antialias=True)
        if random_crop:
            image = tf.image.stateless_random_crop(
                image, (image_size, image_size, 3), seed=crop_key
            )
        if flip:
            image = tf.image.stateless_random_flip_left_right(image, seed=flip_key)
        pick = tf.random.stateless_uniform((), pick_key, 0, example["counts"], dtype=tf.int32)
        out = {"images": tf.clip_by_value(image, -1.0, 1.0), text_key: example["texts"][pick]}
        if "labels" in example:
            out["labels"] = example["labels"]
        return out

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    ds.source_images = images  # the strong reference `rows_of` lacks
    ds.set_epoch = epoch.assign  # see `epoch_plan`
    return ds


class ArrayDataset(keras.utils.PyDataset):
    """The same batches as the tf.data pipeline, from numpy alone (no TensorFlow needed); an
    up-front resize rounds uint8 images back to uint8, where tf.data resizes each in float.

    Its randomness is a function of (seed, epoch), so with a `seed` a run resumed at epoch k
    sees the same batches as an uninterrupted one. uint8 images are kept as they are and scaled
    per batch: CUB's 8,855 training images at 304 px take 2.5 GB so, not 10.
    """

    def __init__(
        self,
        images,
        texts,
        counts,
        labels=None,
        batch_size=64,
        image_size=None,
        shuffle=True,
        random_crop=False,
        flip=False,
        seed=None,
        drop_remainder=True,
        text_key="tokens",
    ):
        super().__init__()
        self.images = _resize(images, image_size, random_crop)
        self.texts, self.counts, self.labels, self.text_key = texts, counts, labels, text_key
        self.batch_size, self.image_size = batch_size, image_size or images.shape[1]
        self.shuffle, self.random_crop, self.flip = shuffle, random_crop, flip
        self.seed = (
            np.random.SeedSequence().entropy if seed is None else seed
        )  # None: a fresh order
        self.drop_remainder = drop_remainder
        self.epoch = 0
        self._plan()

    def _plan(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        n = len(self.images)
        self._order = rng.permutation(n) if self.shuffle else np.arange(n)
        self._caption_pick = (rng.random(n) * self.counts).astype("int32")
        self._offsets = rng.integers(0, self.images.shape[1] - self.image_size + 1, size=(n, 2))
        self._flips = rng.random(n) < 0.5 if self.flip else np.zeros(n, dtype=bool)

    def set_epoch(self, epoch):
        """Moves the random plan to `epoch` (used when training resumes)."""
        self.epoch = epoch
        self._plan()

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)

    def __len__(self):
        n = len(self.images)
        return n // self.batch_size if self.drop_remainder else -(-n // self.batch_size)

    def __getitem__(self, index):
        idx = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        size = self.image_size
        batch_images = np.empty((len(idx), size, size, 3), dtype="float32")
        for row, i in enumerate(idx):
            top, left = self._offsets[i]
            image = self.images[i, top : top + size, left : left + size]
            batch_images[row] = to_unit_range(image[:, ::-1] if self._flips[i] else image)
        out = {"images": batch_images, self.text_key: self.texts[idx, self._caption_pick[idx]]}
        if self.labels is not None:
            out["labels"] = self.labels[idx]
        return out


def _resize(images, image_size, random_crop):
    """Resizes once, up front, to the load size (76/64 of the target when cropping), a chunk
    at a time so that only the result is held, not a float copy of the input too; uint8 input
    is rounded back to uint8 (a quarter of float32's memory)."""
    if image_size is None:
        return images
    load_size = round(image_size * LOAD_RATIO) if random_crop else image_size
    if images.shape[1] == load_size:
        return images
    resized = np.empty((len(images), load_size, load_size, 3), dtype=images.dtype)
    for start in batch_starts(
        len(images), RESIZE_CHUNK, verbose=len(images) > RESIZE_CHUNK
    ):  # bar: minutes for COCO
        chunk = keras.ops.image.resize(
            to_unit_range(images[start : start + RESIZE_CHUNK]),
            (load_size, load_size),
            antialias=True,
        )
        chunk = np.clip(keras.ops.convert_to_numpy(chunk), -1.0, 1.0)
        resized[start : start + RESIZE_CHUNK] = (
            to_uint8(chunk) if images.dtype == np.uint8 else chunk
        )
    return resized
