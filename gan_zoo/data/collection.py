"""CaptionedImages: images read from disk with their captions, and what was skipped on the way.

Every loader (your own folder, CUB, ...) lists (image path, captions, label, crop box) items and
hands them to `read_items`, which decodes them with Pillow (installed with matplotlib), shows a
progress bar, and skips, counts and reports unreadable images and empty captions instead of
failing half-way (`strict=True` raises at the first one instead).
"""

import collections
import os
import pickle
import warnings

import numpy as np

from gan_zoo.data.pipeline import make_dataset
from gan_zoo.text import Vocabulary
from gan_zoo.utils.progress import progress_bar

Item = collections.namedtuple("Item", "path captions label box embeddings", defaults=(None, None, None))


class CaptionedImages:
    """uint8 images [N, S, S, 3], N caption lists, optional int labels [N] (classes, for DAMSM's
    and the discriminator's same-class masking), optional precomputed sentence embeddings
    [N, C, E], the image paths, and `skipped`: a count of what was left out, by reason."""

    def __init__(self, images, captions, labels=None, paths=None, skipped=None, embeddings=None):
        self.images, self.captions, self.labels, self.embeddings = images, captions, labels, embeddings
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
                raise ValueError("Pass the vocabulary to encode the captions with; this dataset "
                                 "has no precomputed embeddings.")
            return make_dataset(self.images, embeddings=self.embeddings, batch_size=batch_size,
                                labels=self.labels, **kwargs)
        return make_dataset(self.images, self.captions, vocabulary, batch_size=batch_size,
                            labels=self.labels, **kwargs)

    def summary(self):
        captions = sum(len(c) for c in self.captions)
        text = f"{len(self)} images, {captions} captions"
        if self.skipped:
            text += "; skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return text


def square_around(box, width, height):
    """AttnGAN's crop around a bounding box (x, y, w, h): the square of half-side 0.75 ·
    max(w, h) around the box's centre, clipped to the image; (left, top, right, bottom)."""
    x, y, w, h = box
    r = int(max(w, h) * 0.75)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    return max(0, cx - r), max(0, cy - r), min(width, cx + r), min(height, cy + r)


def read_image(path, image_size, box=None):
    """An image file -> uint8 [image_size, image_size, 3]: decoded fully (a truncated file is an
    error), converted to RGB (grayscale, palette, RGBA and 16-bit too), cropped around the
    bounding box `box` (x, y, w, h; `square_around`), cut to its central square (as the
    authors' shorter-side resize and crop keep the aspect ratio) and resized (bilinear,
    antialiased, as the authors' PIL resize)."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        if image.mode.startswith("I"):  # 16/32-bit integers: scale to 8 bits
            values = np.asarray(image, dtype="float64")
            image = Image.fromarray(np.uint8(np.clip(values / max(values.max(), 1) * 255, 0, 255)))
        image = image.convert("RGB")
        if box is not None:
            image = image.crop(square_around(box, *image.size))
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        image = image.resize((image_size, image_size), Image.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


def read_items(items, image_size, strict=False, verbose=True):
    """Reads every item into a `CaptionedImages`, skipping (and counting) unreadable images and
    items without captions; `strict` raises at the first instead."""
    from PIL import Image

    # Pillow reports broken files as OSError (truncated, unidentified), SyntaxError (broken
    # PNG chunks) or ValueError, and oversized ones as DecompressionBombError.
    unreadable = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
    images, captions, labels, paths, embeddings = [], [], [], [], []
    skipped = collections.Counter()
    progress = progress_bar(len(items), verbose)
    for i, item in enumerate(items):
        text = [c.strip() for c in item.captions if c.strip()]
        try:
            if not text:
                raise ValueError(f"{item.path} has no caption (empty caption file)")
            image = read_image(item.path, image_size, item.box)
        except unreadable as error:
            if strict:
                raise ValueError(f"Cannot use {item.path}: {error}") from error
            reason = ("without captions" if not text else "missing images"
                      if not os.path.exists(item.path) else "unreadable images")
            skipped[reason] += 1
        else:
            images.append(image)
            captions.append(text)
            labels.append(item.label)
            paths.append(item.path)
            embeddings.append(item.embeddings)
        if progress is not None:
            progress.update(i + 1)
    if not images:
        raise ValueError(f"None of the {len(items)} images could be used ({dict(skipped)}).")
    result = CaptionedImages(np.stack(images), captions,
                             None if any(label is None for label in labels) else np.array(labels, "int32"),
                             paths, skipped,
                             None if any(e is None for e in embeddings) else np.stack(embeddings).astype("float32"))
    if skipped:
        warnings.warn(f"Loaded {result.summary()}.", stacklevel=3)
    return result



def read_pickle(path):
    """A pickle as the authors wrote them (Python 2: latin-1 strings)."""
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def read_lines(path):
    """The non-empty lines of a text file, stripped (undecodable bytes replaced)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.strip() for line in f if line.strip()]


def require(path, layout):
    """Raises FileNotFoundError naming `path` and the expected layout unless it exists."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"Missing {path}. Expected layout: {layout}")
    return path
