"""Your own captioned images: a folder of images with same-name .txt captions, or a manifest.

    photos/beach.jpg   photos/beach.txt      (one caption per line)
    photos/cats/a.png  photos/cats/a.txt     (subfolders too; labels="subfolder" makes them classes)

or a CSV (`image,caption` header) or JSONL (`{"image": ..., "caption": ...}` per line) manifest,
one row per caption, image paths relative to the manifest.
"""

import csv
import json
import os

from gan_zoo.data.collection import Item, read_items, read_lines, require
from gan_zoo.data.disk_cache import cached, key_path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
LAYOUT = "a folder of images, each with a same-name .txt file of captions (one per line)"


def load(root=None, manifest=None, image_size=64, labels=None, strict=False, verbose=True, cache=None):
    """Loads captioned images from `root` (image + .txt pairs) or from a `manifest` file.

    labels: "subfolder" gives each image the class of its folder below `root` (or of its
        manifest path's folder); None leaves the dataset unlabelled.
    strict: raise at the first unreadable image or empty caption file instead of skipping it.
    cache: an .npz file to keep the decoded images in and read them back from (`disk_cache`);
        it is not refreshed when the folder changes: delete it then.
    Returns a `CaptionedImages`; images without a caption file count as skipped.
    """
    if (root is None) == (manifest is None):
        raise ValueError("Give root= (a folder of images and .txt captions) or manifest= (CSV/JSONL).")
    if labels not in (None, "subfolder"):
        raise ValueError(f"labels must be None or 'subfolder'; got {labels!r}")
    settings = dict(loader="folder", root=key_path(root), manifest=key_path(manifest), image_size=image_size,
                    labels=labels)
    return cached(cache, settings, lambda: read_items(_items(root, manifest, labels), image_size, strict, verbose),
                  strict, verbose)


def _items(root, manifest, labels):
    """The `Item`s of the folder or manifest, with their subfolder classes if asked."""
    items = _folder_items(root) if root is not None else _manifest_items(manifest)
    base = os.path.expanduser(root if root is not None else os.path.dirname(os.path.abspath(manifest)))
    if labels == "subfolder":
        classes = sorted({os.path.dirname(os.path.relpath(i.path, base)) for i in items})
        items = [i._replace(label=classes.index(os.path.dirname(os.path.relpath(i.path, base))))
                 for i in items]
    return items


def _folder_items(root):
    root = require(os.path.expanduser(root), LAYOUT)
    items = []
    for directory, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            stem, extension = os.path.splitext(name)
            if extension.lower() not in IMAGE_EXTENSIONS:
                continue
            text_path = os.path.join(directory, stem + ".txt")
            captions = read_lines(text_path) if os.path.exists(text_path) else []
            items.append(Item(os.path.join(directory, name), captions))
    if not items:
        raise FileNotFoundError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) under {root}. "
                                f"Expected layout: {LAYOUT}")
    return items


def _manifest_items(manifest):
    manifest = require(os.path.expanduser(manifest), "a CSV (image,caption) or JSONL manifest")
    base = os.path.dirname(os.path.abspath(manifest))
    with open(manifest, encoding="utf-8") as f:
        if manifest.lower().endswith(".jsonl"):
            rows = [json.loads(line) for line in f if line.strip()]
        else:
            rows = list(csv.DictReader(f))
    if not rows or not {"image", "caption"} <= set(rows[0]):
        raise ValueError(f"{manifest} must have 'image' and 'caption' columns (CSV header) or keys (JSONL).")
    grouped = {}
    for number, row in enumerate(rows, 1):
        caption = row["caption"] or ""
        if not isinstance(caption, str):
            raise ValueError(f"{manifest}, entry {number}: 'caption' must be one string; got "
                             f"{type(caption).__name__} (give each caption an entry of its own).")
        grouped.setdefault(os.path.join(base, row["image"]), []).append(caption)
    return [Item(path, captions) for path, captions in grouped.items()]

