"""DiffAugment (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training",
2020): random, differentiable transformations of every image D sees, real and generated alike.

Augmenting only the real images would teach G to draw augmented images; augmenting both, with
transformations G's gradient passes through, keeps D from memorising a small training set
without changing what G learns to draw. Written with keras.ops and keras.random so it runs
inside the compiled step of every backend; each image of a batch gets its own draw.

Two transformations are left out on purpose, because the captions name what they would change:

- flips are never used: captions name positions ("on the left");
- "color" (brightness, saturation, contrast) is available but off in the recommended policy:
  captions name colours, and a caption's "red" should stay red for D.
"""

import keras
from keras import ops

POLICIES = ("color", "translation", "cutout")  # applied in this order, as Zhao et al.'s code
RECOMMENDED = "translation,cutout"
TRANSLATION_RATIO = 0.125  # the largest shift, a fraction of the side (Zhao et al.'s 1/8)
CUTOUT_RATIO = 0.5  # the side of the erased square, a fraction of the image's (theirs: 1/2)


def parse_policy(policy):
    """The transformations a policy names, in `POLICIES` order.

    Args:
        policy: None (no augmentation) or a comma-separated string of names from
            `POLICIES`, e.g. "translation,cutout" (`RECOMMENDED`).

    Returns:
        A tuple of names, empty for None.

    Raises:
        ValueError: for anything else, naming the policies; for a flip, saying why there is
            none.
    """
    if policy is None:
        return ()
    names = [name.strip() for name in policy.split(",")] if isinstance(policy, str) else [policy]
    for name in names:
        if isinstance(name, str) and "flip" in name:
            raise ValueError(
                f"diff_augment={policy!r}: flips are never used, because captions name "
                "positions (a flipped 'on the left' is on the right)."
            )
        if name not in POLICIES:
            raise ValueError(
                f"diff_augment={policy!r}: unknown policy {name!r}. Give None (off) or a "
                f"comma-separated subset of {', '.join(POLICIES)} (recommended: "
                f"{RECOMMENDED!r}; colour is off there because captions name colours)."
            )
    return tuple(name for name in POLICIES if name in names)


def diff_augment(images, policies, seed):
    """`images` [B, H, W, C] in [-1, 1] after each transformation `policies` names (see
    `parse_policy`), drawn with `seed` (a SeedGenerator); differentiable in the images."""
    for name in policies:
        images = TRANSFORMATIONS[name](images, seed)
    return images


def _per_image_uniform(images, seed):
    """U[0, 1) draws, one per image, shaped [B, 1, 1, 1] to scale it."""
    draws = keras.random.uniform((ops.shape(images)[0], 1, 1, 1), seed=seed)
    return ops.cast(draws, images.dtype)


def color(images, seed):
    """Zhao et al.'s colour: brightness + U(-½, ½), then saturation (each pixel's distance
    from its channel mean) × U(0, 2), then contrast (distance from the image mean) × U(½, 3/2)."""
    images = images + (_per_image_uniform(images, seed) - 0.5)
    mean = ops.mean(images, axis=-1, keepdims=True)
    images = (images - mean) * (2.0 * _per_image_uniform(images, seed)) + mean
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * (_per_image_uniform(images, seed) + 0.5) + mean


def _shift_matrices(shifts, size, dtype):
    """[B, size, size] 0/1 matrices: row i picks pixel i - shift, none past the edge (so the
    image moves by `shift` with zeros, the grey of [-1, 1] images, filling in)."""
    target = ops.reshape(ops.arange(size, dtype="int32"), (1, size, 1))
    source = ops.reshape(ops.arange(size, dtype="int32"), (1, 1, size))
    return ops.cast(ops.equal(source, target - ops.reshape(shifts, (-1, 1, 1))), dtype)


def _random_ints(images, low, high, seed):
    return keras.random.randint((ops.shape(images)[0],), low, high, dtype="int32", seed=seed)


def translation(images, seed):
    """Each image shifted by whole pixels, up to `TRANSLATION_RATIO` of its side in each axis,
    the uncovered border zero; a product with 0/1 shift matrices, so gradients pass."""
    height, width = images.shape[1], images.shape[2]
    reach_y, reach_x = int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5)
    rows = _shift_matrices(_random_ints(images, -reach_y, reach_y + 1, seed), height, images.dtype)
    cols = _shift_matrices(_random_ints(images, -reach_x, reach_x + 1, seed), width, images.dtype)
    images = ops.einsum("bik,bkwc->biwc", rows, images)
    return ops.einsum("bjl,bilc->bijc", cols, images)


def _inside(start, side, size):
    """[B, size] 0/1: which of `size` positions fall in [start, start + side)."""
    positions = ops.reshape(ops.arange(size, dtype="int32"), (1, size))
    start = ops.reshape(start, (-1, 1))
    return ops.logical_and(positions >= start, positions < start + side)


def cutout(images, seed):
    """A square of `CUTOUT_RATIO` of the side set to zero at a random place in each image (it
    may hang over the edge, as in Zhao et al.'s code)."""
    height, width = images.shape[1], images.shape[2]
    side_y, side_x = int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5)
    centre_y = _random_ints(images, 0, height + (1 - height % 2), seed)
    centre_x = _random_ints(images, 0, width + (1 - width % 2), seed)
    rows = _inside(centre_y - side_y // 2, side_y, height)
    cols = _inside(centre_x - side_x // 2, side_x, width)
    erased = ops.logical_and(rows[:, :, None], cols[:, None, :])
    return images * ops.cast(ops.logical_not(erased), images.dtype)[..., None]


TRANSFORMATIONS = {"color": color, "translation": translation, "cutout": cutout}
