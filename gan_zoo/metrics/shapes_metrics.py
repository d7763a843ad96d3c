"""Metrics on the captioned-shapes data, read back by its oracle: alignment, coverage, diversity."""

import numpy as np

from gan_zoo.data import shapes
from gan_zoo.metrics.diversity import COLLAPSE_THRESHOLD, spread_ratio


def _named_attributes(captions):
    named = {a: np.full(len(captions), -1, dtype="int32") for a in shapes.ATTRIBUTES}
    for i, caption in enumerate(captions):
        for attribute, index in shapes.caption_attributes(caption).items():
            named[attribute][i] = index
    return named


def alignment(
    model, num_samples=300, seed=0, split="test", holdout=None, fixed=None, batch_size=64
):
    """Per-attribute accuracy and alignment rate (shape and colour both right) of one image per
    caption of a shapes split the model never saw; "real" holds the oracle's scores on that
    split's own images (the ceiling) and "chance" that of a caption-blind model."""
    images, captions, _ = shapes.load(
        split=split,
        num_images=num_samples,
        image_size=model.image_size,
        seed=seed,
        holdout=holdout,
        fixed=fixed,
    )
    rng = np.random.default_rng(seed)
    chosen = [c[rng.integers(len(c))] for c in captions]
    named = _named_attributes(chosen)
    oracle = shapes.ShapesOracle()
    report = oracle.score(model.generate(chosen, seed=seed, batch_size=batch_size), named)
    report.update(
        real=oracle.score(images, named),
        num_samples=num_samples,
        chance=shapes.chance_alignment(),
        split=split,
    )
    return report


def coverage(model, samples_per_combination=10, seed=0):
    """Mode coverage over the (shape, colour) combinations: asked for each by a caption, how
    often the model draws it. Returns the fraction of combinations drawn at least once and
    each combination's frequency among its samples."""
    combos = [(s, c) for s in shapes.ATTRIBUTES["shape"] for c in shapes.ATTRIBUTES["colour"]]
    captions = [f"a {c} {s}" for s, c in combos]
    images = model.generate(captions, seed=seed, num_per_caption=samples_per_combination)
    predicted = shapes.ShapesOracle().predict(images)
    truth = _named_attributes(np.repeat(captions, samples_per_combination).tolist())
    hit = (predicted["shape"] == truth["shape"]) & (predicted["colour"] == truth["colour"])
    frequency = hit.reshape(len(combos), samples_per_combination).mean(axis=1)
    return {
        "coverage": float((frequency > 0).mean()),
        "frequency": {caption: float(f) for caption, f in zip(captions, frequency)},
        "samples_per_combination": samples_per_combination,
    }


def diversity(
    model,
    extractor,
    num_captions=6,
    samples_per_caption=16,
    seed=0,
    fixed=None,
    threshold=COLLAPSE_THRESHOLD,
):
    """For captions naming every attribute, the spread of `samples_per_caption` generated images
    (one caption, many noise vectors) over that of as many real images of those attributes
    (which differ by the renderer's jitter and, under unnamed attributes, nothing else).
    Returns the mean ratio, one per caption, and `collapsed` when the mean is below
    `threshold`."""
    rng = np.random.default_rng(seed)
    ratios = {}
    for _ in range(num_captions):
        attributes = {
            a: (fixed or {}).get(a, values[rng.integers(len(values))])
            for a, values in shapes.ATTRIBUTES.items()
        }
        real = np.stack(
            [shapes.draw(attributes, model.image_size, rng) for _ in range(samples_per_caption)]
        )
        caption = shapes.describe(attributes)
        fake = model.generate(
            [caption], seed=int(rng.integers(2**31)), num_per_caption=samples_per_caption
        )
        ratios[caption] = spread_ratio(extractor(fake)["features"], extractor(real)["features"])
    mean = float(np.mean(list(ratios.values())))
    return {
        "spread_ratio": mean,
        "per_caption": ratios,
        "collapsed": mean < threshold,
        "threshold": threshold,
        "features": extractor.name,
    }
