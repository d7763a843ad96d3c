"""MS-COCO captions, in either of the two layouts the papers' code reads:

- AttnGAN / DM-GAN: `coco/{train,test}/filenames.pickle`, `coco/text/<name>.txt` (5 captions,
  one per line) and `coco/images/<name>.jpg` (train2014 and val2014 together);
- the official release: `annotations/captions_{train,val}2014.json` with `train2014/` and
  `val2014/`; split "test" is val2014 (40,504 images), the papers' test set. The 2017 release
  (train2017/, val2017/, read where 2014's is absent or with `year=2017`) has the same images
  split otherwise: its 5,000-image val2017 is not the papers' test set.

COCO has no classes, so no labels.
"""

import glob
import json
import os

from gan_zoo.data.collection import Item, read_items, read_lines, read_pickle, read_text, require
from gan_zoo.data.disk_cache import cached, key_path

LAYOUT = (
    "coco/{train,test}/filenames.pickle + coco/text/<name>.txt (unzip AttnGAN's train2014-text.zip "
    "and val2014-text.zip into text/) + coco/images/<name>.jpg (AttnGAN), "
    "or annotations/captions_{train,val}2014.json + train2014/ + val2014/ (official; 2017 alike)"
)
OFFICIAL_SPLITS = {"train": "train", "test": "val"}
OFFICIAL_STRUCTURE = (
    '{"images": [{"id": 42, "file_name": "....jpg"}, ...], '
    '"annotations": [{"image_id": 42, "caption": "..."}, ...]}'
)


def load(root, split="train", image_size=256, strict=False, verbose=True, cache=None, year=None):
    """Loads a split of COCO from `root`, whichever layout it holds.

    year: the official release's, 2014 (the papers') or 2017; None: 2014, or 2017 where only
        its annotations are there.
    cache: an .npz file to keep the decoded split in and read it back from (`disk_cache`).
    """
    if split not in OFFICIAL_SPLITS:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    if year not in (None, 2014, 2017):
        raise ValueError(f"year must be 2014 or 2017; got {year!r}")
    settings = dict(
        loader="coco",
        root=key_path(root),
        split=split,
        image_size=image_size,
        **({"year": year} if year else {}),
    )  # None: the caches made before year= still match
    return cached(
        cache,
        settings,
        lambda: read_items(_items(root, split, year), image_size, strict, verbose),
        strict,
        verbose,
    )


def _items(root, split, year):
    """The split's `Item`s from whichever layout `root` holds."""
    root = require(os.path.expanduser(root), LAYOUT)
    if os.path.exists(os.path.join(root, split, "filenames.pickle")):
        return _attngan_items(root, split)
    if os.path.isdir(os.path.join(root, "annotations")):
        if year is None:
            annotations = os.path.join(glob.escape(root), "annotations")
            only_2017 = not glob.glob(
                os.path.join(annotations, "captions_*2014.json")
            ) and glob.glob(os.path.join(annotations, "captions_*2017.json"))
            year = 2017 if only_2017 else 2014
        return _official_items(root, f"{OFFICIAL_SPLITS[split]}{year}")
    raise FileNotFoundError(
        f"Neither {os.path.join(root, split, 'filenames.pickle')} nor "
        f"{os.path.join(root, 'annotations')} exists. Expected layout: {LAYOUT}"
    )


def _attngan_items(root, split):
    names = read_pickle(os.path.join(root, split, "filenames.pickle"))
    text, images = (require(os.path.join(root, folder), LAYOUT) for folder in ("text", "images"))
    items = []
    for name in names:
        text_path = os.path.join(text, name + ".txt")
        captions = read_lines(text_path) if os.path.exists(text_path) else []
        items.append(Item(os.path.join(images, name + ".jpg"), captions))
    return items


def _official_items(root, folder):
    path = os.path.join(root, "annotations", f"captions_{folder}.json")
    other = {"2014": "2017", "2017": "2014"}[folder[-4:]]
    if not os.path.exists(path) and os.path.exists(path.replace(folder[-4:], other)):
        raise FileNotFoundError(
            f"Missing {path}, but the {other} release is there: pass year={other}."
        )
    require(path, LAYOUT)
    require(os.path.join(root, folder), LAYOUT)
    images, captions = _annotations(path)
    return [
        Item(os.path.join(root, folder, name), captions.get(image_id, []))
        for image_id, name in images
    ]


def _annotations(path):
    """([(image id, file name)] by id, {image id: [caption, ...]}) of an official
    captions_*.json.

    Raises ValueError naming `path` where it is not JSON (a download cut short) or not of
    COCO's structure, rather than a KeyError or TypeError from deep inside the loader.
    """
    try:
        annotations = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not JSON ({error.msg} at line {error.lineno}, column {error.colno}): "
            "download or unzip it again."
        ) from None
    try:
        images = sorted((image["id"], str(image["file_name"])) for image in annotations["images"])
        captions = {}
        for entry in annotations["annotations"]:
            if not isinstance(entry["caption"], str):
                raise TypeError(f"caption {entry['caption']!r} is no string")
            captions.setdefault(entry["image_id"], []).append(entry["caption"])
    except (KeyError, TypeError) as error:
        raise ValueError(
            f"{path} is not a COCO captions file ({type(error).__name__}: {error}). Expected "
            f"{OFFICIAL_STRUCTURE}"
        ) from None
    return images, captions
