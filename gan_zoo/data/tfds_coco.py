"""MS-COCO 2014 captions from tensorflow-datasets' `coco_captions`, prepared beforehand.

Nothing is downloaded here: prepare the data once on a machine with internet,

    tfds build coco_captions --data_dir ~/tensorflow_datasets

and point `load` at that data_dir (it holds coco_captions/2014/<version>/).

TFDS splits COCO the Karpathy way: train (82,783 images, all of train2014), and val (5,000),
test (5,000) and restval (30,504), which cut val2014 in three. The text-to-image papers train
on train2014 and test on all of val2014 (40,504 images), so split "train" is TFDS's train and
"test" is its val + test + restval together: the same images as `coco.load`'s splits.
(Captioning work counts restval as training data; here it is test data, as in the papers.)
Any other TFDS split expression ("train[:1000]", "val") is passed as it is. COCO has no
classes, so no labels.
"""

import os

from gan_zoo.data.collection import Item, decode_text, read_items
from gan_zoo.data.disk_cache import cached, key_path

SPLITS = {"train": "train", "test": "val+test+restval"}


def load(data_dir, split="train", image_size=256, strict=False, verbose=True, cache=None):
    """Loads a split of TFDS's coco_captions from the prepared `data_dir`, without downloading.

    Images are cut to their central square and resized as the files of the other loaders are
    (`collection.fit_image`); captions come from `captions/text`, paths are the image file names.
    cache: an .npz file to keep the decoded split in and read it back from (`disk_cache`).
    """
    settings = dict(
        loader="tfds_coco", data_dir=key_path(data_dir), split=split, image_size=image_size
    )
    return cached(
        cache,
        settings,
        lambda: _read(data_dir, SPLITS.get(split, split), image_size, strict, verbose),
        strict,
        verbose,
    )


def _read(data_dir, split, image_size, strict, verbose):
    """Streams the TFDS split through `read_items`."""
    dataset = _examples(data_dir, split)
    return read_items(_items(dataset), image_size, strict, verbose, total=len(dataset))


def _examples(data_dir, split):
    """The split as a tf.data.Dataset of {image, image/filename, captions/text}, in file order
    (objects are not decoded); FileNotFoundError saying how to prepare it when it is absent."""
    tfds = _tfds()
    data_dir = os.path.expanduser(data_dir)
    builder = tfds.builder("coco_captions", data_dir=data_dir)
    features = tfds.decode.PartialDecoding(
        {"image": True, "image/filename": True, "captions": {"text": True}}
    )
    try:
        return builder.as_dataset(split=split, shuffle_files=False, decoders=features)
    except AssertionError as error:  # how TFDS says "could not find data in <data_dir>"
        raise FileNotFoundError(
            f"No prepared coco_captions in {data_dir} (looked for {builder.data_dir}). "
            "gan_zoo never "
            f"downloads it: on a machine with internet run `tfds build coco_captions --data_dir "
            f"{data_dir}`, then copy that folder here."
        ) from error


def _items(dataset):
    """An `Item` per example, carrying its decoded image; its captions decoded by
    `decode_text`, so a caption that is not UTF-8 is an error rather than altered."""
    for example in _tfds().as_numpy(dataset):
        name = decode_text(example["image/filename"], "an image file name in coco_captions")
        yield Item(
            name,
            [decode_text(text, f"a caption of {name}") for text in example["captions"]["text"]],
            data=example["image"],
        )


def _tfds():
    """tensorflow_datasets, imported only when used (gan_zoo imports without TensorFlow)."""
    try:
        import tensorflow_datasets
    except ImportError as error:
        raise ImportError(
            "tfds_coco needs tensorflow-datasets: pip install tensorflow-datasets"
        ) from error
    return tensorflow_datasets
