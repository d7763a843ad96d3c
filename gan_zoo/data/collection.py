"""CaptionedImages: images read from disk with their captions, and what was skipped on the way.

Every loader (your own folder, CUB, ...) lists (image path, captions, label, crop box) items and
hands them to `read_items`, which decodes them with Pillow (installed with matplotlib) on a
pool of threads, shows a progress bar, and skips, counts and reports unreadable images and
empty captions instead of failing half-way (`strict=True` raises at the first one instead).
"""

import codecs
import collections
import concurrent.futures
import contextlib
import functools
import io
import os
import pickle
import sys
import warnings

import numpy as np

from gan_zoo.data.pipeline import make_dataset
from gan_zoo.text import Vocabulary, tokenize
from gan_zoo.utils.progress import progress_bar

# data: the decoded image itself (uint8 [H, W, 3]), for sources without image files
# (tensorflow-datasets); `path` then only names it.
Item = collections.namedtuple(
    "Item", "path captions label box embeddings data", defaults=(None,) * 4
)


class CaptionedImages:
    """uint8 images [N, S, S, 3], N caption lists, optional int labels [N] (classes, for DAMSM's
    and the discriminator's same-class masking), optional precomputed sentence embeddings
    [N, C, E], the image paths, and `skipped`: a count of what was left out, by reason."""

    def __init__(self, images, captions, labels=None, paths=None, skipped=None, embeddings=None):
        self.images, self.captions, self.labels, self.embeddings = (
            images,
            captions,
            labels,
            embeddings,
        )
        self.paths, self.skipped = paths or [], dict(skipped or {})

    def __len__(self):
        return len(self.images)

    def build_vocabulary(self, **kwargs):
        """A `Vocabulary` of these captions (`Vocabulary.build` arguments)."""
        return Vocabulary.build(self.captions, **kwargs)

    def to_dataset(self, vocabulary=None, batch_size=64, **kwargs):
        """The training input for `fit`: `make_dataset` over these images, their captions
        encoded with `vocabulary` (or, without one, their precomputed embeddings) and labels."""
        if vocabulary is None:
            if self.embeddings is None:
                raise ValueError(
                    "Pass the vocabulary to encode the captions with; this dataset "
                    "has no precomputed embeddings."
                )
            return make_dataset(
                self.images,
                embeddings=self.embeddings,
                batch_size=batch_size,
                labels=self.labels,
                **kwargs,
            )
        return make_dataset(
            self.images,
            self.captions,
            vocabulary,
            batch_size=batch_size,
            labels=self.labels,
            **kwargs,
        )

    def summary(self):
        captions = sum(len(c) for c in self.captions)
        text = f"{len(self)} images, {captions} captions"
        if self.skipped:
            text += "; skipped: " + ", ".join(
                f"{n} {why}" for why, n in sorted(self.skipped.items())
            )
        return text


def square_around(box, width, height):
    """AttnGAN's crop around a bounding box (x, y, w, h): the square of half-side 0.75 ·
    max(w, h) around the box's centre, clipped to the image; (left, top, right, bottom)."""
    x, y, w, h = box
    r = int(max(w, h) * 0.75)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    return max(0, cx - r), max(0, cy - r), min(width, cx + r), min(height, cy + r)


def read_image(path, image_size, box=None, upright=False):
    """An image file -> uint8 [image_size, image_size, 3]: decoded fully (a truncated file is an
    error), turned as its EXIF orientation says with `upright` (a phone photo is stored
    sideways), then cut and resized by `fit_image`."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.load()
        return fit_image(ImageOps.exif_transpose(image) if upright else image, image_size, box)


def fit_image(image, image_size, box=None):
    """A Pillow image -> uint8 [image_size, image_size, 3]: converted to RGB (grayscale, palette,
    16-bit too; RGBA loses its alpha, as the authors' `convert('RGB')` drops it), cropped around
    the bounding box `box` (x, y, w, h; `square_around`),
    cut to its central square (as the authors' shorter-side resize and crop keep the aspect
    ratio) and resized (bilinear, antialiased, as the authors' PIL resize)."""
    from PIL import Image

    if image.mode.startswith(
        "I"
    ):  # 16-bit integers (PNG, TIFF): 65535 -> 255, as a viewer shows them
        values = np.asarray(image, dtype="float64")
        image = Image.fromarray(np.uint8(np.clip(np.round(values / 257), 0, 255)))
    elif image.mode == "F":
        raise ValueError(
            "holds floating-point pixels, whose range is unknown: save it as 8- or 16-bit"
        )
    image = image.convert("RGB")
    if box is not None:
        image = image.crop(square_around(box, *image.size))
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    image = image.resize((image_size, image_size), Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def read_items(
    items, image_size, strict=False, verbose=True, total=None, workers=None, upright=False
):
    """Reads every item into a `CaptionedImages`, skipping (and counting) unreadable images and
    items without captions; `strict` raises at the first instead.

    items: a list of `Item`s, or any iterable of them with `total` its length (read lazily, so
        a stream of images never sits in memory all at once).
    workers: decoding threads (default: one per CPU; Pillow releases the GIL while it decodes
        and resizes). The result is the same, in the same order, for any number.
    upright: turn images as their EXIF orientation says (your own photos; the papers' datasets
        are read as stored, as the authors read them).
    """
    total = len(items) if total is None else total
    images = np.empty((total, image_size, image_size, 3), np.uint8)  # filled in place: one copy
    captions, labels, paths, embeddings = [], [], [], []
    skipped, first_skip = collections.Counter(), None
    progress = progress_bar(total, verbose)
    decoded = _ordered_map(
        functools.partial(_decode, image_size=image_size, upright=upright),
        items,
        workers or os.cpu_count() or 1,
    )
    with contextlib.closing(decoded):  # a strict error shuts the threads down here
        for done, (item, text, image) in enumerate(decoded, 1):
            if isinstance(image, Exception):
                if strict:
                    raise ValueError(f"Cannot use {item.path}: {image}") from image
                skipped[_reason(item, text)] += 1
                first_skip = first_skip or f"{item.path}: {image}"
            else:
                if len(captions) == total:
                    raise ValueError(
                        f"More items than total={total} were read: give their real number."
                    )
                images[len(captions)] = image
                captions.append(text)
                labels.append(item.label)
                paths.append(item.path)
                embeddings.append(item.embeddings)
            if progress is not None:
                progress.update(done)
    if not captions:
        raise ValueError(
            f"None of the {total} images could be used ({dict(skipped)}); the first: {first_skip}."
        )
    images.resize((len(captions), *images.shape[1:]), refcheck=False)  # skipped rows let go
    result = CaptionedImages(
        images,
        captions,
        None if any(label is None for label in labels) else np.array(labels, "int32"),
        paths,
        skipped,
        None if any(e is None for e in embeddings) else np.stack(embeddings).astype("float32"),
    )
    if skipped:
        warn(f"Loaded {result.summary()}.")
    return result


def _decode(item, image_size, upright=False):
    """(item, its captions that have words, its image or the error that keeps it out): one
    worker's job. Lines without a word are dropped, as AttnGAN's caption loader drops them; an
    item without captions is not decoded."""
    from PIL import Image

    # Pillow reports broken files as OSError (truncated, unidentified), SyntaxError (broken
    # PNG chunks) or ValueError, and oversized ones as DecompressionBombError.
    unreadable = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
    text = [c.strip() for c in item.captions if tokenize(c)]
    try:
        if not text:
            raise ValueError("no caption with a word (its caption file is missing or empty)")
        if item.data is None:
            return item, text, read_image(item.path, image_size, item.box, upright)
        return item, text, fit_image(Image.fromarray(item.data), image_size, item.box)
    except unreadable as error:
        return item, text, error


def _reason(item, text):
    """Why an item was skipped, as `CaptionedImages.skipped` counts it."""
    if not text:
        return "without captions"
    if item.data is None and not os.path.exists(item.path):
        return "missing images"
    return "unreadable images"


def _ordered_map(function, iterable, workers):
    """`function` over `iterable` on `workers` threads, yielded in the input's order. At most
    2 · workers calls are in flight, so a lazy input is read only as fast as it is decoded."""
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        pending = collections.deque()
        for value in iterable:
            pending.append(pool.submit(function, value))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def warn(message):
    """A UserWarning attributed to the first caller outside gan_zoo.data: the user's line that
    loaded the dataset, however deep in the loaders the reason was found."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("gan_zoo.data"):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, stacklevel=level)


def read_pickle(path):
    """A pickle as the authors wrote them (Python 2: latin-1 strings)."""
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def read_lines(path):
    """The non-empty lines of a text file, stripped: UTF-8 (undecodable bytes replaced), or
    UTF-16 where the file starts with its byte-order mark (Windows Notepad's "Unicode")."""
    with open(path, "rb") as f:
        raw = f.read()
    utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    text = raw.decode("utf-16" if utf16 else "utf-8-sig", errors="replace")
    return [
        line.strip() for line in io.StringIO(text, newline=None) if line.strip()
    ]  # \n, \r\n or \r


def require(path, layout):
    """Raises FileNotFoundError naming `path` and the expected layout unless it exists."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"Missing {path}. Expected layout: {layout}")
    return path


def read_split(folder, layout, embeddings=False):
    """StackGAN's split files in `folder` (CUB's and Oxford-102's train/ and test/): the names in
    filenames.pickle; the class of each in class_info.pickle (None without that file); and,
    with `embeddings`, the rows of char-CNN-RNN-embeddings.pickle ([N, 10, 1024], row i for
    name i), else N Nones."""
    names = read_pickle(require(os.path.join(folder, "filenames.pickle"), layout))
    class_info = os.path.join(folder, "class_info.pickle")
    labels = _rows(class_info, names) if os.path.exists(class_info) else None
    vectors = [None] * len(names)
    if embeddings:
        vectors = _rows(
            require(os.path.join(folder, "char-CNN-RNN-embeddings.pickle"), layout), names
        )
    return names, labels, vectors


def _rows(path, names):
    """A pickle of one row per filename; a ValueError naming it when the counts differ."""
    rows = read_pickle(path)
    if len(rows) != len(names):
        raise ValueError(f"{path} has {len(rows)} rows for {len(names)} filenames.")
    return rows
