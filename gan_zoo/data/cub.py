"""CUB-200-2011 with Reed et al.'s captions, in the layout AttnGAN, DM-GAN and DF-GAN use:

    birds/CUB_200_2011/images/<NNN.Class>/<name>.jpg
    birds/CUB_200_2011/images.txt              <id> <NNN.Class>/<name>.jpg
    birds/CUB_200_2011/bounding_boxes.txt      <id> <x> <y> <w> <h>
    birds/text/<NNN.Class>/<name>.txt          10 captions, one per line (AttnGAN's text.zip,
                                               unzipped; Reed's folder name text_c10 works too)
    birds/{train,test}/filenames.pickle        ["<NNN.Class>/<name>", ...] (8,855 / 2,933)
    birds/{train,test}/class_info.pickle       optional: the class id of each filename
    birds/{train,test}/char-CNN-RNN-embeddings.pickle   optional: StackGAN's [N, 10, 1024]

Each image is cropped as the authors crop it (`collection.square_around`): a square of
half-side 0.75 · max(w, h) around the bounding box's centre, clipped to the image.
"""

import os

from gan_zoo.data.collection import Item, read_items, read_lines, read_split, require
from gan_zoo.data.disk_cache import cached, key_path

LAYOUT = (
    "birds/CUB_200_2011/{images/, images.txt, bounding_boxes.txt}, birds/text/<class>/<name>.txt "
    "(unzip AttnGAN's text.zip; Reed's text_c10/ works too), birds/<split>/filenames.pickle "
    "(AttnGAN's data/birds)"
)


def load(
    root,
    split="train",
    image_size=256,
    crop=True,
    embeddings=False,
    strict=False,
    verbose=True,
    cache=None,
):
    """Loads a split of CUB from `root` (the folder holding CUB_200_2011/, text/ and the splits).

    Returns a `CaptionedImages` with the class labels (from class_info.pickle, else the
    class folder's number), so same-class pairs are no negatives in training. With
    `embeddings=True` it also carries StackGAN's char-CNN-RNN sentence embeddings, and
    `to_dataset()` without a vocabulary feeds them (models built with `embedding_dim=1024`).
    cache: an .npz file to keep the decoded split in and read it back from (`disk_cache`).
    """
    settings = dict(
        loader="cub",
        root=key_path(root),
        split=split,
        image_size=image_size,
        crop=crop,
        embeddings=embeddings,
    )
    return cached(
        cache,
        settings,
        lambda: read_items(_items(root, split, crop, embeddings), image_size, strict, verbose),
        strict,
        verbose,
    )


def _items(root, split, crop, embeddings):
    """The split's `Item`s: image, its 10 captions, class, bounding box (with `crop`),
    embeddings."""
    root = require(os.path.expanduser(root), LAYOUT)
    cub = require(os.path.join(root, "CUB_200_2011"), LAYOUT)
    image_folder = require(os.path.join(cub, "images"), LAYOUT)
    text = os.path.join(root, "text")
    if not os.path.isdir(text) and os.path.isdir(os.path.join(root, "text_c10")):
        text = os.path.join(root, "text_c10")
    require(text, LAYOUT)
    names, labels, vectors = read_split(os.path.join(root, split), LAYOUT, embeddings)
    if labels is None:
        labels = [int(n.split(".")[0]) for n in names]
    boxes = _boxes(cub) if crop else {}
    items = []
    for name, label, vector in zip(names, labels, vectors):
        text_path = os.path.join(text, name + ".txt")
        captions = read_lines(text_path) if os.path.exists(text_path) else []
        items.append(
            Item(
                os.path.join(image_folder, name + ".jpg"),
                captions,
                int(label),
                boxes.get(name),
                vector,
            )
        )
    return items


def _boxes(cub):
    """{name without extension: (x, y, w, h)} from images.txt and bounding_boxes.txt."""
    paths = dict(
        line.split() for line in read_lines(require(os.path.join(cub, "images.txt"), LAYOUT))
    )
    boxes = {}
    for line in read_lines(require(os.path.join(cub, "bounding_boxes.txt"), LAYOUT)):
        image_id, *values = line.split()
        boxes[os.path.splitext(paths[image_id])[0]] = tuple(float(v) for v in values)
    return boxes
