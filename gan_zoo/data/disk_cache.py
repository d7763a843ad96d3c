"""An on-disk cache of a loaded dataset: decode the images once, read them back in seconds.

Every loader takes `cache=PATH` (an .npz file). The file holds the decoded `CaptionedImages`
(images, labels and embeddings as arrays; captions, paths, what was skipped and why, and the
settings it was made with as JSON text, so nothing is unpickled) and is written atomically: a
temporary file beside it, fsynced, then renamed, so a preparation killed half-way leaves no
cache.
"""

import json
import os
import zipfile

import numpy as np

from gan_zoo.data.collection import CaptionedImages, report_skipped, warn
from gan_zoo.utils.files import atomic_file

FORMAT = 2  # raise when the file's contents change; older caches are then rebuilt
# What np.load and the reading below raise for a file that is not a whole cache.
UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)


def cached(path, settings, build, strict=False, verbose=True):
    """`build()` (a `CaptionedImages`), kept in the file `path`; None: no cache.

    settings: everything that changes the result (loader, source folder, split, image size,
        crop, embeddings, ...), JSON values. A cache made with other settings, or unreadable
        (half copied, another program's file), is rebuilt and replaced, with a warning.
    strict: a cache that skipped images is rebuilt too, so the build raises at the first.
    """
    if path is None:
        return build()
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"cache={path} is a folder; give the path of an .npz file to keep the "
            "decoded images in."
        )
    settings = json.loads(json.dumps({"format": FORMAT, **settings}))  # as the file holds them
    data = _read_matching(path, settings, strict, verbose) if os.path.exists(path) else None
    if data is None:
        data = build()
        try:
            write(data, settings, path)
        except OSError as error:  # a full disk must not cost the decoding just done
            warn(
                f"Could not write the cache {path} ({type(error).__name__}: {error}); the data "
                "is loaded, uncached."
            )
    return data


def key_path(path):
    """A folder or file as the settings hold it: absolute, ~ expanded (None stays None)."""
    return None if path is None else os.path.abspath(os.path.expanduser(path))


def write(data, settings, path):
    """Writes `data` and its `settings` to the .npz file `path`, atomically."""
    meta = {
        "settings": settings,
        "captions": data.captions,
        "paths": list(data.paths),
        "skipped": data.skipped,
        "skipped_files": data.skipped_files,
    }
    arrays = {"images": data.images, "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    if data.labels is not None:
        arrays["labels"] = data.labels
    if data.embeddings is not None:
        arrays["embeddings"] = data.embeddings
    with atomic_file(path, "wb") as f:
        np.savez(f, **arrays)


def read(path):
    """(the `CaptionedImages` in the cache file `path`, the settings it was made with)."""
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(npz["meta"].tobytes().decode("utf-8"))
        optional = {key: npz[key] if key in npz.files else None for key in ("labels", "embeddings")}
        data = CaptionedImages(
            npz["images"],
            meta["captions"],
            optional["labels"],
            meta["paths"],
            meta["skipped"],
            optional["embeddings"],
            [tuple(pair) for pair in meta["skipped_files"]],
        )
    return data, meta["settings"]


def _read_matching(path, settings, strict, verbose):
    """The cache at `path` if it was made with `settings` (and skipped nothing, when `strict`);
    else None, with a warning saying why it will be rebuilt."""
    try:
        data, made_with = read(path)
    except UNREADABLE as error:
        warn(f"Rebuilding the cache {path}: it cannot be read ({type(error).__name__}: {error}).")
        return None
    if made_with != settings:
        changed = {
            key: (made_with.get(key), settings.get(key))
            for key in sorted(made_with.keys() | settings)
            if made_with.get(key) != settings.get(key)
        }
        warn(
            f"Rebuilding the cache {path}: it was made with other settings "
            f"(setting: (cached, asked)): {changed}."
        )
        return None
    if strict and data.skipped:
        return None
    if verbose:
        print(f"Read {data.summary()} from the cache {path}")
    report_skipped(data, f" (from the cache {path})")
    return data
