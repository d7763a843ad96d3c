"""Your own captioned images: a folder of images with same-name .txt captions, or a manifest.

    photos/beach.jpg   photos/beach.txt      (one caption per line)
    photos/cats/a.png  photos/cats/a.txt     (subfolders too; labels="subfolder" makes them classes)

or a CSV (`image,caption` header) or JSONL (`{"image": ..., "caption": ...}` per line) manifest,
one row per caption, image paths relative to the manifest. Photos are turned upright as their
EXIF orientation says.
"""

import csv
import json
import os

from gan_zoo.data.collection import Item, read_items, read_lines, require
from gan_zoo.data.disk_cache import cached, key_path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
LAYOUT = "a folder of images, each with a same-name .txt file of captions (one per line)"


def load(
    root=None, manifest=None, image_size=64, labels=None, strict=False, verbose=True, cache=None
):
    """Loads captioned images from `root` (image + .txt pairs) or from a `manifest` file.

    labels: "subfolder" gives each image the class of its folder below `root` (or of its
        manifest path's folder); None leaves the dataset unlabelled.
    strict: raise at the first unreadable image or empty caption file instead of skipping it.
    cache: an .npz file to keep the decoded images in and read them back from (`disk_cache`);
        it is not refreshed when the folder changes: delete it then.
    Returns a `CaptionedImages`; images without a caption file count as skipped.
    """
    if (root is None) == (manifest is None):
        raise ValueError(
            "Give root= (a folder of images and .txt captions) or manifest= (CSV/JSONL)."
        )
    if labels not in (None, "subfolder"):
        raise ValueError(f"labels must be None or 'subfolder'; got {labels!r}")
    settings = dict(
        loader="folder",
        root=key_path(root),
        manifest=key_path(manifest),
        image_size=image_size,
        labels=labels,
        upright=True,
    )  # upright: older caches, of images as stored, are rebuilt
    return cached(
        cache,
        settings,
        lambda: read_items(
            _items(root, manifest, labels), image_size, strict, verbose, upright=True
        ),
        strict,
        verbose,
    )


def _items(root, manifest, labels):
    """The `Item`s of the folder or manifest, with their subfolder classes if asked."""
    items = _folder_items(root) if root is not None else _manifest_items(manifest)
    base = os.path.expanduser(
        root if root is not None else os.path.dirname(os.path.abspath(manifest))
    )
    if labels == "subfolder":
        classes = sorted({os.path.dirname(os.path.relpath(i.path, base)) for i in items})
        items = [
            i._replace(label=classes.index(os.path.dirname(os.path.relpath(i.path, base))))
            for i in items
        ]
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
        raise FileNotFoundError(
            f"No images ({', '.join(IMAGE_EXTENSIONS)}) under {root}. Expected layout: {LAYOUT}"
        )
    return items


def _manifest_items(manifest):
    manifest = require(os.path.expanduser(manifest), "a CSV (image,caption) or JSONL manifest")
    base = os.path.dirname(os.path.abspath(manifest))
    with open(manifest, encoding="utf-8-sig") as f:  # -sig: the byte-order mark Excel writes
        rows = (
            _jsonl_rows(f, manifest)
            if manifest.lower().endswith(".jsonl")
            else list(csv.DictReader(f))
        )
    if not rows:
        raise ValueError(f"{manifest} lists no images.")
    grouped = {}
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not {"image", "caption"} <= set(row):
            raise ValueError(
                f"{manifest}, entry {number}: needs 'image' and 'caption' (CSV columns or "
                f"JSONL keys); got {sorted(row) if isinstance(row, dict) else type(row).__name__}."
            )
        caption = row["caption"] or ""
        if not isinstance(caption, str):
            raise ValueError(
                f"{manifest}, entry {number}: 'caption' must be one string; got "
                f"{type(caption).__name__} (give each caption an entry of its own)."
            )
        grouped.setdefault(os.path.join(base, row["image"]), []).append(caption)
    return [Item(path, captions) for path, captions in grouped.items()]


def _jsonl_rows(lines, manifest):
    """One JSON object per non-blank line; a line that is not JSON is named by its number."""
    rows = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{manifest}, line {number} is not JSON: {error.msg}.") from None
    return rows
