"""Oxford-102 flowers with Reed et al.'s captions, in the layout StackGAN and its successors use:

    flowers/jpg/image_XXXXX.jpg                            the 8,189 images
    flowers/text_c10/class_XXXXX/image_XXXXX.txt           10 captions, one per line
    flowers/{train,test}/filenames.pickle                  ["jpg/image_XXXXX", ...]
    flowers/{train,test}/class_info.pickle                 optional: the class (1-102) of each
    flowers/{train,test}/char-CNN-RNN-embeddings.pickle    optional: StackGAN's [N, 10, 1024]

StackGAN's pickles name the images "jpg/image_XXXXX" and its code finds their captions in the
class folder that class_info.pickle gives. This loader finds each caption file by the image's
name under text_c10/ instead, so "class_XXXXX/image_XXXXX" entries work too, and so do splits
without class_info.pickle (the class is then the caption folder's number). The text-to-image
split is class-disjoint (82 train, 20 test classes). Flowers have no bounding boxes: each image
is cut to its central square.
"""

import glob
import os
import re

from gan_zoo.data.collection import Item, read_items, read_lines, read_split, require
from gan_zoo.data.disk_cache import cached, key_path

LAYOUT = (
    "flowers/jpg/image_XXXXX.jpg, flowers/text_c10/class_XXXXX/image_XXXXX.txt, "
    "flowers/<split>/filenames.pickle (StackGAN's Data/flowers)"
)


def load(
    root, split="train", image_size=256, embeddings=False, strict=False, verbose=True, cache=None
):
    """Loads a split of Oxford-102 from `root` (the folder holding jpg/, text_c10/ and the splits).

    Returns a `CaptionedImages` with the class labels, so same-class pairs are no negatives in
    training. With `embeddings=True` it also carries StackGAN's char-CNN-RNN sentence
    embeddings, and `to_dataset()` without a vocabulary feeds them (models built with
    `embedding_dim=1024`).
    cache: an .npz file to keep the decoded split in and read it back from (`disk_cache`).
    """
    settings = dict(
        loader="flowers",
        root=key_path(root),
        split=split,
        image_size=image_size,
        embeddings=embeddings,
    )
    return cached(
        cache,
        settings,
        lambda: read_items(_items(root, split, embeddings), image_size, strict, verbose),
        strict,
        verbose,
    )


def _items(root, split, embeddings):
    """The split's `Item`s: image, its captions (none if it has no caption file), class,
    embeddings."""
    root = require(os.path.expanduser(root), LAYOUT)
    names, labels, vectors = read_split(os.path.join(root, split), LAYOUT, embeddings)
    caption_files = _caption_files(root)
    items = []
    for i, (name, vector) in enumerate(zip(names, vectors)):
        image = os.path.basename(name)
        text_path = caption_files.get(image)
        label = int(labels[i]) if labels is not None else _class_number(text_path)
        items.append(
            Item(
                os.path.join(root, "jpg", image + ".jpg"),
                read_lines(text_path) if text_path else [],
                label,
                embeddings=vector,
            )
        )
    return items


def _caption_files(root):
    """{image name: its caption file}, over text_c10/<class folder>/<image name>.txt."""
    text = require(os.path.join(root, "text_c10"), LAYOUT)
    paths = sorted(glob.glob(os.path.join(glob.escape(text), "*", "*.txt")))
    return {os.path.splitext(os.path.basename(path))[0]: path for path in paths}


def _class_number(text_path):
    """The class of a caption file's folder (text_c10/class_00077/... -> 77); None if unknown."""
    match = text_path and re.fullmatch(r"class_(\d+)", os.path.basename(os.path.dirname(text_path)))
    return int(match.group(1)) if match else None
