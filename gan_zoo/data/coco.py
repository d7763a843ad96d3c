"""MS-COCO 2014 captions, in either of the two layouts the papers' code reads:

- AttnGAN / DM-GAN: `coco/{train,test}/filenames.pickle`, `coco/text/<name>.txt` (5 captions,
  one per line) and `coco/images/<name>.jpg` (train2014 and val2014 together);
- the official release: `annotations/captions_{train,val}2014.json` with `train2014/` and
  `val2014/`; split "test" is val2014 (40,504 images), the papers' test set.

COCO has no classes, so no labels.
"""

import json
import os

from gan_zoo.data.collection import Item, read_items, read_lines, read_pickle, require
from gan_zoo.data.disk_cache import cached, key_path

LAYOUT = ("coco/{train,test}/filenames.pickle + coco/text/<name>.txt + coco/images/<name>.jpg (AttnGAN), "
          "or annotations/captions_{train,val}2014.json + train2014/ + val2014/ (official)")
OFFICIAL_SPLITS = {"train": "train2014", "test": "val2014"}


def load(root, split="train", image_size=256, strict=False, verbose=True, cache=None):
    """Loads a split of COCO 2014 from `root`, whichever layout it holds.

    cache: an .npz file to keep the decoded split in and read it back from (`disk_cache`).
    """
    if split not in OFFICIAL_SPLITS:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    settings = dict(loader="coco", root=key_path(root), split=split, image_size=image_size)
    return cached(cache, settings, lambda: read_items(_items(root, split), image_size, strict, verbose),
                  strict, verbose)


def _items(root, split):
    """The split's `Item`s from whichever layout `root` holds."""
    root = require(os.path.expanduser(root), LAYOUT)
    if os.path.exists(os.path.join(root, split, "filenames.pickle")):
        return _attngan_items(root, split)
    if os.path.isdir(os.path.join(root, "annotations")):
        return _official_items(root, OFFICIAL_SPLITS[split])
    raise FileNotFoundError(f"Neither {os.path.join(root, split, 'filenames.pickle')} nor "
                            f"{os.path.join(root, 'annotations')} exists. Expected layout: {LAYOUT}")


def _attngan_items(root, split):
    names = read_pickle(os.path.join(root, split, "filenames.pickle"))
    items = []
    for name in names:
        text_path = os.path.join(root, "text", name + ".txt")
        captions = read_lines(text_path) if os.path.exists(text_path) else []
        items.append(Item(os.path.join(root, "images", name + ".jpg"), captions))
    return items


def _official_items(root, folder):
    path = require(os.path.join(root, "annotations", f"captions_{folder}.json"), LAYOUT)
    with open(path, encoding="utf-8") as f:
        annotations = json.load(f)
    captions = {}
    for entry in annotations["annotations"]:
        captions.setdefault(entry["image_id"], []).append(entry["caption"])
    return [Item(os.path.join(root, folder, image["file_name"]), captions.get(image["id"], []))
            for image in sorted(annotations["images"], key=lambda image: image["id"])]
