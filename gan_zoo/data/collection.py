"""CaptionedImages: images read from disk with their captions, and what was skipped on the way.

Every loader (your own folder, CUB, ...) lists (image path, captions, label, crop box) items and
hands them to `read_items`, which decodes them with Pillow (installed with matplotlib) on a
pool of threads, shows a progress bar, and skips unreadable images and empty captions instead
of failing half-way (`strict=True` raises at the first one instead): one warning counts them
and names the first few, and a log file lists every one with its reason.

Caption files and manifests are decoded by `decode_text`, which never replaces a character: a
file in another encoding is an error naming it.
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
import tempfile
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
    [N, C, E], the image paths, `skipped`: a count of what was left out, by reason, and
    `skipped_files`: each file left out and why, as (path, reason) pairs."""

    def __init__(
        self,
        images,
        captions,
        labels=None,
        paths=None,
        skipped=None,
        embeddings=None,
        skipped_files=None,
    ):
        self.images, self.captions, self.labels, self.embeddings = (
            images,
            captions,
            labels,
            embeddings,
        )
        self.paths, self.skipped = paths or [], dict(skipped or {})
        self.skipped_files = list(skipped_files or [])

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
    """Reads every item into a `CaptionedImages`, skipping unreadable images and items without
    captions (`report_skipped` warns once and logs them all); `strict` raises at the first
    instead.

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
    skipped, skipped_files = collections.Counter(), []
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
                category, reason = _reason(text, image)
                skipped[category] += 1
                skipped_files.append((item.path, reason))
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
            f"None of the {total} images could be used ({dict(skipped)}); "
            f"{_log_skipped(skipped_files)}"
        )
    images.resize((len(captions), *images.shape[1:]), refcheck=False)  # skipped rows let go
    result = CaptionedImages(
        images,
        captions,
        None if any(label is None for label in labels) else np.array(labels, "int32"),
        paths,
        skipped,
        None if any(e is None for e in embeddings) else np.stack(embeddings).astype("float32"),
        skipped_files,
    )
    report_skipped(result)
    return result


def report_skipped(data, source=""):
    """Warns once, if `data` left files out: how many by reason, the first few by name, and a
    log file listing every one with its reason (a count alone does not say what to fix).

    Args:
        data: a `CaptionedImages`.
        source: where it was read from, for the warning (" (from the cache PATH)").
    """
    if data.skipped_files:
        warn(f"Loaded {data.summary()}{source}; {_log_skipped(data.skipped_files)}")


def _log_skipped(skipped_files, shown=3):
    """Writes every skipped file and its reason to a new file in the temporary folder, one
    "path<TAB>reason" line each, and returns message text naming the first `shown` of them
    and that file."""
    named = "; ".join(f"{path} ({reason})" for path, reason in skipped_files[:shown])
    more = len(skipped_files) - shown
    try:
        handle, log = tempfile.mkstemp(prefix="gan_zoo_skipped_", suffix=".txt")
        with open(handle, "w", encoding="utf-8") as f:
            f.writelines(f"{path}\t{reason}\n" for path, reason in skipped_files)
        listed = f"all {len(skipped_files)}, with their reasons, are listed in {log}"
    except OSError as error:  # an unwritable temporary folder must not cost the load
        listed = f"the list of all could not be written ({error})"
    return f"the first: {named}{f' and {more} more' if more > 0 else ''}; {listed}."


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


def _reason(text, error):
    """(why an item was skipped, as `CaptionedImages.skipped` counts it; the reason its log
    line gives), from its captions that have words and the error that kept it out."""
    if not text:
        return "without captions", str(error)
    if isinstance(error, FileNotFoundError):
        return "missing images", "no such file"
    return "unreadable images", str(error)


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
    """The non-empty lines of a text file (`read_text`), stripped; lines end in \\n, \\r\\n
    or \\r."""
    return [line.strip() for line in io.StringIO(read_text(path), newline=None) if line.strip()]


def read_text(path):
    """The text of a caption file or manifest, decoded by `decode_text` (ValueError naming
    `path` when it cannot be decoded)."""
    with open(path, "rb") as f:
        return decode_text(f.read(), path)


def decode_text(raw, name):
    """Text from bytes in UTF-8 (a leading byte-order mark, as Excel writes, dropped) or in
    UTF-16 behind its byte-order mark (Windows Notepad's "Unicode"), every character kept.

    Args:
        raw: the bytes.
        name: what they are (a file's path), for the error.
    Returns:
        the text, never with a character replaced.
    Raises:
        ValueError naming `name`, the line and the bytes, where they are in another encoding
        (Latin-1, Windows-1252), and where they hold NUL characters (UTF-16 or UTF-32 without
        a byte-order mark, or no text at all): captions read otherwise would be silently wrong.
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, body = "UTF-16", raw
    else:
        encoding, body = "UTF-8", raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as error:
        line = body[: error.start].decode(encoding).count("\n") + 1
        raise ValueError(
            f"{name} is not {encoding}: {error.reason} at line {line} "
            f"({body[error.start : error.end]!r}). Save it as UTF-8 (in your editor's Save As, "
            "or `iconv -f latin1 -t utf-8 OLD > NEW` for a Latin-1 or Windows-1252 file)."
        ) from None
    if "\x00" in text:
        raise ValueError(
            f"{name} holds NUL characters: UTF-16 or UTF-32 without a byte-order mark, or not "
            "text. Save it as UTF-8."
        )
    return text


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
