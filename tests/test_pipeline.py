import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_zoo import Vocabulary
from gan_zoo.data import ArrayDataset, make_dataset


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(10, 32, 32, 3), dtype=np.uint8)
    captions = [[f"caption {i} one", f"caption {i} two"] for i in range(10)]
    return images, captions, Vocabulary.build(captions)


@pytest.mark.parametrize("use_tf_data", [True, False])
def test_batches_have_the_documented_structure(data, use_tf_data):
    images, captions, vocab = data
    ds = make_dataset(
        images, captions, vocab, batch_size=4, labels=np.arange(10), use_tf_data=use_tf_data
    )
    assert isinstance(ds, tf.data.Dataset if use_tf_data else ArrayDataset)
    batches = list(ds) if use_tf_data else [ds[i] for i in range(len(ds))]
    assert len(batches) == 2  # the remainder is dropped: shapes stay fixed under XLA
    batch = {k: np.asarray(v) for k, v in batches[0].items()}
    assert batch["images"].shape == (4, 32, 32, 3) and batch["images"].dtype == np.float32
    assert batch["images"].min() >= -1 and batch["images"].max() <= 1
    assert batch["tokens"].shape == (4, 18) and batch["tokens"].dtype == np.int32
    assert batch["labels"].dtype == np.int32
    assert ds.vocabulary is vocab


@pytest.mark.parametrize("use_tf_data", [True, False])
def test_pixels_and_captions_stay_paired(data, use_tf_data):
    images, captions, vocab = data
    # Tag each image by its index in pixel (0, 0) and check its caption says the same index.
    images = images.copy()
    images[:, 0, 0, 0] = np.arange(10) * 20
    ds = make_dataset(images, captions, vocab, batch_size=5, use_tf_data=use_tf_data)
    seen_captions = set()
    for _ in range(6):  # epochs
        batches = list(ds) if use_tf_data else [ds[i] for i in range(len(ds))]
        if not use_tf_data:
            ds.on_epoch_end()
        for batch in batches:
            tags = np.round((np.asarray(batch["images"])[:, 0, 0, 0] + 1) * 127.5 / 20).astype(int)
            texts = vocab.decode(np.asarray(batch["tokens"]))
            for tag, text in zip(tags, texts):
                assert text.split()[1] == str(tag)
                seen_captions.add(text)
    assert len(seen_captions) > 10  # both captions of an image get drawn over the epochs


def test_random_crop_and_resize(data):
    images, captions, vocab = data
    for use_tf_data in (True, False):
        ds = make_dataset(
            images,
            captions,
            vocab,
            batch_size=2,
            image_size=16,
            random_crop=True,
            flip=True,
            use_tf_data=use_tf_data,
        )
        batch = next(iter(ds)) if use_tf_data else ds[0]
        assert np.asarray(batch["images"]).shape == (2, 16, 16, 3)
    resized = make_dataset(
        images, captions, vocab, batch_size=2, image_size=16, random_crop=True, use_tf_data=False
    )
    assert (
        resized.images.dtype == np.uint8 and resized.images.shape[1] == 19
    )  # uint8: a quarter of float32
    unrounded = keras.ops.image.resize(
        images.astype("float32") / 127.5 - 1, (19, 19), antialias=True
    )
    np.testing.assert_allclose(
        resized.images / 127.5 - 1,
        np.clip(keras.ops.convert_to_numpy(unrounded), -1, 1),
        atol=0.5 / 127.5 + 1e-6,
    )  # rounded to the nearest of 256 levels


def test_tf_data_reads_rows_from_the_array_in_chunks_and_lets_it_go():
    """Rows are gathered from the numpy images (no tensor copy) 64 at a time: across chunk
    boundaries each image still comes with its own caption; the dataset keeps its length, and
    once it is dropped the images can be freed."""
    import gc
    import weakref

    words = [f"w{i}" for i in range(150)]
    images = np.zeros((150, 8, 8, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(150)  # each image tagged with its index
    vocab = Vocabulary.build(words)
    ds = make_dataset(images, [[w] for w in words], vocab, batch_size=10, seed=0, max_length=1)
    assert int(ds.cardinality()) == 15
    seen = 0
    for batch in ds:
        tags = np.rint((np.asarray(batch["images"])[:, 0, 0, 0] + 1) * 127.5).astype(int)
        assert [vocab.decode(t[None])[0] for t in np.asarray(batch["tokens"])] == [
            f"w{t}" for t in tags
        ]
        seen += len(tags)
    assert seen == 150
    alive = weakref.ref(images)
    del ds, images
    gc.collect()
    assert alive() is None


def test_array_dataset_plan_depends_only_on_seed_and_epoch(data):
    images, captions, vocab = data
    first = make_dataset(images, captions, vocab, batch_size=5, seed=1, use_tf_data=False)
    second = make_dataset(images, captions, vocab, batch_size=5, seed=1, use_tf_data=False)
    first.on_epoch_end()
    first.on_epoch_end()
    second.set_epoch(2)
    np.testing.assert_array_equal(first[0]["tokens"], second[0]["tokens"])
    np.testing.assert_array_equal(first[1]["images"], second[1]["images"])


def test_tf_data_plan_depends_only_on_seed_and_epoch(data):
    """A pipeline set to epoch 2 gives the batches another gives on its third pass, and each
    new pass moves on to the next epoch's plan."""
    images, captions, vocab = data

    def batches(ds):
        return [np.asarray(b["images"]) for b in ds]

    first = make_dataset(images, captions, vocab, batch_size=5, random_crop=True, seed=1)
    second = make_dataset(images, captions, vocab, batch_size=5, random_crop=True, seed=1)
    epochs = [batches(first) for _ in range(3)]
    assert not np.array_equal(epochs[0][0], epochs[1][0])
    second.set_epoch(2)
    for a, b in zip(batches(second), epochs[2]):
        np.testing.assert_array_equal(a, b)


def test_tf_data_depends_only_on_its_seed(data):
    """The same seed gives the same batches, crops, flips and caption picks, epoch after epoch,
    however the parallel map schedules its work; another seed gives others."""
    images, captions, vocab = data

    def two_epochs(seed):
        ds = make_dataset(
            images,
            captions,
            vocab,
            batch_size=5,
            image_size=24,
            random_crop=True,
            flip=True,
            seed=seed,
        )
        return [{k: np.asarray(v) for k, v in batch.items()} for _ in range(2) for batch in ds]

    first, again, other = two_epochs(3), two_epochs(3), two_epochs(4)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a["images"], b["images"])
        np.testing.assert_array_equal(a["tokens"], b["tokens"])
    assert not np.array_equal(first[0]["images"], other[0]["images"])
    assert not np.array_equal(first[0]["images"], first[2]["images"])  # each epoch is drawn anew


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 32, 32), np.uint8), "rank 4"),
        (np.zeros((4, 32, 32, 1), np.uint8), "3 colour channels"),
        (np.zeros((4, 32, 24, 3), np.uint8), "square"),
        (np.full((4, 32, 32, 3), 2.0, np.float32), r"\[-1, 1\]"),
        (np.zeros((4, 32, 32, 3), np.int64), "dtype"),
    ],
)
def test_bad_images_are_named(bad, message):
    vocab = Vocabulary.build(["a b"])
    with pytest.raises(ValueError, match=message):
        make_dataset(bad, ["a b"] * 4, vocab, batch_size=2)


def test_caption_problems_are_named(data):
    images, captions, vocab = data
    with pytest.raises(ValueError, match="10 images but 9"):
        make_dataset(images, captions[:9], vocab, batch_size=2)
    broken = list(captions)
    broken[3] = ["fine caption", "  "]
    with pytest.raises(ValueError, match="image 3.*empty"):
        make_dataset(images, broken, vocab, batch_size=2)


def test_precomputed_embeddings_instead_of_captions(shapes32):
    images, captions, _, vocab = shapes32
    vectors = np.random.default_rng(0).standard_normal((len(images), 24)).astype("float32")
    batch = next(
        iter(
            make_dataset(images, embeddings=vectors, batch_size=8, shuffle=False, use_tf_data=False)
        )
    )
    np.testing.assert_array_equal(batch["embeddings"], vectors[:8])
    assert "tokens" not in batch
    with pytest.raises(ValueError, match=r"\[128, E\] or \[128, C, E\]"):
        make_dataset(images, embeddings=vectors[:-1])
    with pytest.raises(ValueError, match="captions and vocabulary, or embeddings"):
        make_dataset(images, captions)
