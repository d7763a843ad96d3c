"""Captioned shapes: a procedural, seeded text-to-image dataset that needs no download.

Each image holds one shape with a colour, a size and a position on a plain background; each
comes with several captions drawn from templates with synonyms and varied word order. Because
the attributes are known, `ShapesOracle` can read them back from any image, generated ones
included, which makes "does the image follow the caption?" a number.
"""

import numpy as np

from gan_zoo.data.validation import check_positive_int
from gan_zoo.utils.progress import progress_bar

ATTRIBUTES = {
    "shape": ("circle", "square", "triangle"),
    "colour": ("red", "green", "blue", "yellow", "purple", "cyan"),
    "size": ("small", "big"),
    "position": ("left", "right", "top", "bottom", "centre"),
    "background": ("black", "white", "gray"),
}
COLOUR_RGB = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 70, 230),
    "yellow": (245, 215, 30),
    "purple": (150, 50, 200),
    "cyan": (30, 205, 215),
}
BACKGROUND_RGB = {"black": (0, 0, 0), "white": (255, 255, 255), "gray": (128, 128, 128)}
_CENTRES = {
    "left": (0.28, 0.5),
    "right": (0.72, 0.5),
    "top": (0.5, 0.28),
    "bottom": (0.5, 0.72),
    "centre": (0.5, 0.5),
}  # (x, y) as fractions of the image side
_HALF_EXTENT = {"small": 0.12, "big": 0.21}  # half the shape's width, as a fraction of the side

# Words a caption may use for each attribute value (the first is the canonical one).
SYNONYMS = {
    "shape": {"circle": ("circle", "disk"), "square": ("square", "box"), "triangle": ("triangle",)},
    "colour": {
        "red": ("red",),
        "green": ("green",),
        "blue": ("blue",),
        "yellow": ("yellow",),
        "purple": ("purple", "violet"),
        "cyan": ("cyan", "turquoise"),
    },
    "size": {"small": ("small", "little", "tiny"), "big": ("big", "large", "huge")},
    "position": {
        "left": ("on the left", "at the left", "to the left"),
        "right": ("on the right", "at the right", "to the right"),
        "top": ("at the top", "near the top"),
        "bottom": ("at the bottom", "near the bottom"),
        "centre": ("in the centre", "in the middle", "in the center"),
    },
    "background": {"black": ("black", "dark"), "white": ("white",), "gray": ("gray", "grey")},
}
_TEMPLATES = (
    "a {size} {colour} {shape} {position}",
    "a {colour} {shape} {position}",
    "a {colour} {shape}",
    "{position} there is a {size} {colour} {shape}",
    "a {size} {colour} {shape} on a {background} background",
    "there is a {colour} {shape} {position} on a {background} background",
    "a {shape} coloured {colour}, {size}, {position}",
    "on a {background} background, a {colour} {shape} {position}",
)
_SPLIT_STREAMS = {"train": 0, "test": 1, "holdout": 2}
_SUPERSAMPLE = 4


def _normalise_holdout(holdout):
    """Validates attribute combinations such as {"shape": "triangle", "colour": "red"}."""
    combos = []
    for combo in holdout or ():
        for attribute, value in combo.items():
            if attribute not in ATTRIBUTES or value not in ATTRIBUTES[attribute]:
                raise ValueError(
                    f"Unknown shapes attribute {attribute}={value!r}; choose from {ATTRIBUTES}"
                )
        combos.append(dict(combo))
    return combos


def _is_held_out(sample, combos):
    return any(all(sample[a] == v for a, v in combo.items()) for combo in combos)


def _sample_attributes(rng, combos, split, fixed):
    """Draws one attribute set; held-out combinations only in the "holdout" split, and only
    there. Settings under which no sample can fit (all held out, or a fixed value that undoes
    the held-out ones) are an error, not an endless draw."""
    for _ in range(10_000):
        sample = dict(combos[rng.integers(len(combos))]) if split == "holdout" else {}
        for attribute, values in ATTRIBUTES.items():
            sample.setdefault(attribute, values[rng.integers(len(values))])
        sample.update(fixed)
        if _is_held_out(sample, combos) == (split == "holdout"):
            return sample
    raise ValueError(
        f"No {split!r} sample fits fixed={fixed} with holdout={combos}: they conflict."
    )


def caption_for(attributes, rng):
    """One caption for the attributes, from a random template and random synonyms."""
    template = _TEMPLATES[rng.integers(len(_TEMPLATES))]
    words = {a: SYNONYMS[a][v][rng.integers(len(SYNONYMS[a][v]))] for a, v in attributes.items()}
    return template.format(**words)


def describe(attributes):
    """The canonical caption naming every attribute, e.g. "a big red circle on the left on a
    black background"."""
    words = {a: SYNONYMS[a][v][0] for a, v in attributes.items()}
    return ("a {size} {colour} {shape} {position} on a {background} background").format(**words)


def class_labels(attributes):
    """Each image's class, its (shape, colour) pair as one int32 in [0, 18), from `load`'s
    attributes. Every caption template names both, so two images of one class may both match a
    caption, and two of different classes never do: the labels a matching-aware D's wrong
    pairs and a DAMSM's mismatches exclude, as CUB's 200 species are.
    """
    colours = len(ATTRIBUTES["colour"])
    return (attributes["shape"] * colours + attributes["colour"]).astype("int32")


def draw(attributes, image_size, rng=None):
    """Renders one anti-aliased uint8 image [S, S, 3] of the attributes (with a little jitter)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    cx, cy = _CENTRES[attributes["position"]]
    cx, cy = cx + rng.uniform(-0.03, 0.03), cy + rng.uniform(-0.03, 0.03)
    r = _HALF_EXTENT[attributes["size"]] * rng.uniform(0.9, 1.1)
    n = image_size * _SUPERSAMPLE
    coords = (np.arange(n) + 0.5) / n
    x, y = coords[None, :] - cx, coords[:, None] - cy
    shape = attributes["shape"]
    if shape == "circle":
        inside = x * x + y * y <= r * r
    elif shape == "square":
        inside = (np.abs(x) <= r) & (np.abs(y) <= r)
    else:  # triangle pointing up: apex at y = -r, base at y = +r
        inside = (y >= -r) & (y <= r) & (np.abs(x) <= (y + r) / 2)
    coverage = inside.reshape(image_size, _SUPERSAMPLE, image_size, _SUPERSAMPLE).mean(axis=(1, 3))
    background = np.array(BACKGROUND_RGB[attributes["background"]], dtype="float32")
    colour = np.array(COLOUR_RGB[attributes["colour"]], dtype="float32")
    image = background + coverage[..., None] * (colour - background)
    return np.round(image).astype("uint8")


def load(
    split="train",
    num_images=5000,
    image_size=64,
    seed=0,
    holdout=None,
    captions_per_image=5,
    fixed=None,
    verbose=False,
):
    """Draws a split of the captioned-shapes dataset.

    Args:
        split: "train" and "test" draw from every combination not held out (different
            streams of the same seed); "holdout" draws only the held-out combinations.
        num_images: how many images to draw.
        image_size: their side, 16 to 256 px. At 16 px (a first stage's size) the oracle
            reads 83% of the shapes right, at 32 px and above 97% or more.
        seed: the seed of the draw.
        holdout: attribute combinations kept out of "train" and "test", e.g.
            `[{"shape": "triangle", "colour": "red"}]`, to test compositional generalisation.
        fixed: attributes every image shares, e.g. `{"background": "black"}`: an easier
            variant for quick experiments (captions still name them).
        verbose: show a progress bar.

    Returns:
        images: uint8 [N, S, S, 3]; captions: N lists of `captions_per_image` strings;
        attributes: dict name -> int array [N] of indices into `ATTRIBUTES[name]`.
    """
    if split not in _SPLIT_STREAMS:
        raise ValueError(f"split must be one of {tuple(_SPLIT_STREAMS)}; got {split!r}")
    check_positive_int(num_images, "num_images")
    if not 16 <= image_size <= 256:
        raise ValueError(f"image_size must be between 16 and 256 pixels; got {image_size}")
    combos = _normalise_holdout(holdout)
    fixed = _normalise_holdout([fixed] if fixed else [])[0] if fixed else {}
    if split == "holdout" and not combos:
        raise ValueError('split="holdout" needs holdout=[...] combinations to draw from.')
    rng = np.random.default_rng([seed, _SPLIT_STREAMS[split]])
    images = np.empty((num_images, image_size, image_size, 3), dtype="uint8")
    captions = []
    attributes = {a: np.empty(num_images, dtype="int32") for a in ATTRIBUTES}
    progress = progress_bar(num_images, verbose)
    for i in range(num_images):
        sample = _sample_attributes(rng, combos, split, fixed)
        images[i] = draw(sample, image_size, rng)
        captions.append([caption_for(sample, rng) for _ in range(captions_per_image)])
        for a, v in sample.items():
            attributes[a][i] = ATTRIBUTES[a].index(v)
        if progress is not None and ((i + 1) % 100 == 0 or i + 1 == num_images):
            progress.update(i + 1)
    return images, captions, attributes


def caption_attributes(caption):
    """Reads the attributes a caption names: dict name -> index (absent attributes are left out)."""
    text = " ".join(caption.lower().replace(",", " ").split())
    words = text.split()
    found = {}
    for attribute in ("shape", "colour", "size"):
        for value, synonyms in SYNONYMS[attribute].items():
            if any(s in words for s in synonyms):
                found[attribute] = ATTRIBUTES[attribute].index(value)
    for value, phrases in SYNONYMS["position"].items():
        if any(p.split()[-1] in words for p in phrases):
            found["position"] = ATTRIBUTES["position"].index(value)
    for value, synonyms in SYNONYMS["background"].items():
        if any(f"{s} background" in text for s in synonyms):
            found["background"] = ATTRIBUTES["background"].index(value)
    return found


class ShapesOracle:
    """Reads shape, colour, size, position and background back from images, analytically.

    The background is the colour of the border; the shape is every pixel far from it. Colour
    and background are the nearest palette entries, size comes from the shape's extent,
    position from its centre, and the shape from how much of its bounding box it fills
    (square 1, circle π/4, triangle 1/2) and how its mass splits between top and bottom
    halves (the triangle points up). An image with no foreground predicts -1 everywhere.
    """

    def __init__(self, foreground_threshold=60.0):
        self.foreground_threshold = foreground_threshold
        self._palette = np.array([COLOUR_RGB[c] for c in ATTRIBUTES["colour"]], dtype="float32")
        self._backgrounds = np.array(
            [BACKGROUND_RGB[b] for b in ATTRIBUTES["background"]], dtype="float32"
        )
        # (fill ratio, share of mass in the top half) of the ideal shapes.
        self._shape_prototypes = np.array([[np.pi / 4, 0.5], [1.0, 0.5], [0.5, 0.25]])

    def predict(self, images):
        """uint8 images [N, S, S, 3] -> dict name -> int array [N] (-1 = could not tell)."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"ShapesOracle expects images [N, S, S, 3]; got shape {images.shape}")
        out = {a: np.full(len(images), -1, dtype="int32") for a in ATTRIBUTES}
        for i, image in enumerate(images.astype("float32")):
            for attribute, value in self._read(image).items():
                out[attribute][i] = value
        return out

    def _read(self, image):
        size = image.shape[0]
        border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
        bg_colour = np.median(border, axis=0)
        result = {"background": int(np.argmin(((self._backgrounds - bg_colour) ** 2).sum(-1)))}
        distance = np.sqrt(((image - bg_colour) ** 2).sum(-1))
        mask = distance > self.foreground_threshold
        if mask.sum() < 4:
            return result
        fg = image[mask]
        result["colour"] = int(np.argmin(((self._palette[None] - np.median(fg, 0)) ** 2).sum(-1)))
        rows, cols = np.nonzero(mask)
        top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        extent = max(bottom - top, right - left) / size / 2
        result["size"] = int(extent > (_HALF_EXTENT["small"] + _HALF_EXTENT["big"]) / 2)
        centre = np.array([(left + right) / 2, (top + bottom) / 2]) / size
        anchors = np.array([_CENTRES[p] for p in ATTRIBUTES["position"]])
        result["position"] = int(np.argmin(((anchors - centre) ** 2).sum(-1)))
        fill = mask.sum() / ((bottom - top) * (right - left))
        top_share = (rows < (top + bottom) / 2).mean()
        features = np.array([fill, top_share])
        result["shape"] = int(np.argmin(((self._shape_prototypes - features) ** 2).sum(-1)))
        return result

    def score(self, images, attributes):
        """Per-attribute accuracy and the caption-alignment rate (shape and colour both right).

        `attributes` holds the true indices of the attributes a caption names (dict name ->
        int array, -1 where the caption does not name one); accuracy counts only named ones.
        """
        predicted = self.predict(images)
        accuracy = {}
        for attribute, truth in attributes.items():
            truth = np.asarray(truth)
            named = truth >= 0
            if named.any():
                accuracy[attribute] = float((predicted[attribute][named] == truth[named]).mean())
        aligned = (predicted["shape"] == np.asarray(attributes["shape"])) & (
            predicted["colour"] == np.asarray(attributes["colour"])
        )
        return {"accuracy": accuracy, "alignment": float(aligned.mean())}


def chance_alignment():
    """The alignment rate of a model that ignores the caption: 1 / (#shapes × #colours)."""
    return 1.0 / (len(ATTRIBUTES["shape"]) * len(ATTRIBUTES["colour"]))
