"""Your own captioned images: a folder of images with same-name .txt captions, or a manifest.

    photos/beach.jpg   photos/beach.txt      (one caption per line)
    photos/cats/a.png  photos/cats/a.txt     (subfolders too; labels="subfolder" makes them classes)

or a CSV (`image,caption` header) or JSONL (`{"image": ..., "caption": ...}` per line) manifest,
one row per caption, image paths relative to the manifest. Photos are turned upright as their
EXIF orientation says. Caption files and manifests are UTF-8 or UTF-16 with its byte-order mark
(`collection.decode_text`); a manifest of another structure is an error naming the line.
"""

import csv
import io
import json
import os

from gan_zoo.data.collection import Item, read_items, read_lines, read_text, require
from gan_zoo.data.disk_cache import cached, key_path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
LAYOUT = "a folder of images, each with a same-name .txt file of captions (one per line)"
EXPECTED_CSV = (
    "Expected a CSV manifest: a header naming the columns image and caption, then a row per "
    'caption, e.g.\n    image,caption\n    beach.jpg,a sandy beach\n    beach.jpg,"waves, sand"'
)
EXPECTED_JSONL = (
    "Expected a JSONL manifest: one JSON object per line, e.g.\n"
    '    {"image": "beach.jpg", "caption": "a sandy beach"}\n'
    '    {"image": "beach.jpg", "caption": "waves, sand"}'
)


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
    """The images a manifest lists, with their captions.

    Args:
        manifest: a CSV file, or a JSONL one (named .jsonl or .json), one caption per row.
    Returns:
        an `Item` per image (its path joined to the manifest's folder), all its captions
        together.
    Raises:
        ValueError naming the manifest and the line, and saying the structure expected, where
        it is not such a manifest: not UTF-8, empty, a JSON array, a line that is not one
        object, columns missing, a row with more fields than the header (an unquoted comma),
        an image or caption that is not one string. Read on, any of these would lose or
        garble captions without a word.
    """
    manifest = require(os.path.expanduser(manifest), "a CSV (image,caption) or JSONL manifest")
    base = os.path.dirname(os.path.abspath(manifest))
    jsonl = manifest.lower().endswith((".jsonl", ".json"))
    expected = EXPECTED_JSONL if jsonl else EXPECTED_CSV
    text = read_text(manifest)
    rows = _jsonl_rows(text, manifest) if jsonl else _csv_rows(text, manifest)
    if not rows:
        raise ValueError(
            f"{manifest} {'lists no images' if text.strip() else 'is empty'}. {expected}"
        )
    grouped = {}
    for number, (line, row) in enumerate(rows, 1):
        where = f"{manifest}, line {line}, entry {number}"
        if not {"image", "caption"} <= set(row):
            raise ValueError(f"{where}: needs 'image' and 'caption'; got {sorted(row)}. {expected}")
        image, caption = row["image"], row["caption"]
        if not isinstance(image, str) or not image.strip():
            raise ValueError(
                f"{where}: 'image' must be the image's path (relative to the manifest); "
                f"got {image!r}."
            )
        if not isinstance(caption, str):
            raise ValueError(
                f"{where}: 'caption' must be one string; got {type(caption).__name__} (give "
                "each caption an entry of its own)."
            )
        grouped.setdefault(os.path.join(base, image), []).append(caption)
    return [Item(path, captions) for path, captions in grouped.items()]


def _csv_rows(text, manifest):
    """(line number, {column: field}) for each row under the header; blank lines (and rows of
    empty fields) are passed over. A header without 'image' and 'caption', a row of more or
    fewer fields than the header (an unquoted comma) and a row running over several lines (a
    quote left open) are ValueErrors naming the line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header, rows, line = None, [], 1  # line: where the next row starts
    try:
        for fields in reader:
            first, last, line = line, reader.line_num, reader.line_num + 1
            if not "".join(fields).strip():
                continue
            if header is None:
                header = fields
                if not {"image", "caption"} <= set(header):
                    raise ValueError(
                        f"{manifest}, line {first}: the header needs the columns 'image' and "
                        f"'caption'; got {header}. {EXPECTED_CSV}"
                    )
            elif last > first:
                raise ValueError(
                    f"{manifest}, lines {first}-{last}: one row runs over several lines, as "
                    'after a quote left open; close it ("...") or remove the line break.'
                )
            elif len(fields) != len(header):
                raise ValueError(
                    f"{manifest}, line {first}: {len(fields)} fields under the header's "
                    f"{len(header)} ({','.join(header)}). Put a caption that holds commas in "
                    'double quotes: beach.jpg,"waves, sand".'
                )
            else:
                rows.append((first, dict(zip(header, fields))))
    except csv.Error as error:
        raise ValueError(f"{manifest}, line {reader.line_num}: not CSV ({error}).") from None
    return rows


def _jsonl_rows(text, manifest):
    """(line number, object) for each non-blank line; a JSON array, a line that is not JSON
    or not an object is a ValueError naming the line and the structure expected."""
    rows = []
    for line, content in enumerate(text.split("\n"), 1):
        if not content.strip():
            continue
        if not rows and content.lstrip().startswith("["):
            raise ValueError(
                f"{manifest}, line {line}: a JSON array; JSONL holds no list around its "
                f"objects. {EXPECTED_JSONL}"
            )
        try:
            row = json.loads(content)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{manifest}, line {line} is not JSON: {error.msg}. {EXPECTED_JSONL}"
            ) from None
        if not isinstance(row, dict):
            raise ValueError(
                f"{manifest}, line {line} is not a JSON object ({type(row).__name__}). "
                f"{EXPECTED_JSONL}"
            )
        rows.append((line, row))
    return rows
