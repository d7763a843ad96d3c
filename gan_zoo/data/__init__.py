"""Datasets and the input pipeline. TensorFlow is imported only when tf.data is used."""

from gan_zoo.data import coco, cub, flowers, folder, shapes, tfds_coco
from gan_zoo.data.collection import CaptionedImages
from gan_zoo.data.pipeline import ArrayDataset, make_dataset
from gan_zoo.data.validation import check_images

__all__ = [
    "ArrayDataset",
    "CaptionedImages",
    "check_images",
    "coco",
    "cub",
    "flowers",
    "folder",
    "make_dataset",
    "shapes",
    "tfds_coco",
]
