"""Caption alignment on the captioned-shapes data: does a generated image show what its caption says?"""

import numpy as np

from gan_zoo.data import shapes


def shapes_alignment(model, num_samples=300, seed=0, batch_size=64, split="test", holdout=None,
                     fixed=None):
    """Generates one image per held-out shapes caption and lets the oracle read it back.

    Captions come from the shapes `split` ("test" by default: images and captions the model
    never saw); `fixed` as in `shapes.load`, to match the training data. Returns per-attribute accuracy over the attributes each caption names, the
    alignment rate (shape and colour both right) and chance = 1 / (#shapes × #colours).
    """
    _, captions, attributes = shapes.load(split=split, num_images=num_samples,
                                          image_size=model.image_size, seed=seed, holdout=holdout,
                                          fixed=fixed)
    rng = np.random.default_rng(seed)
    chosen = [c[rng.integers(len(c))] for c in captions]
    named = {a: np.full(num_samples, -1, dtype="int32") for a in shapes.ATTRIBUTES}
    for i, caption in enumerate(chosen):
        for attribute, index in shapes.caption_attributes(caption).items():
            named[attribute][i] = index
    images = model.generate(chosen, seed=seed, batch_size=batch_size)
    report = shapes.ShapesOracle().score(images, named)
    report.update(num_samples=num_samples, chance=shapes.chance_alignment(), split=split)
    return report
