"""R-precision: can a text–image encoder pair find each generated image's own caption?

The protocol of AttnGAN's paper as DM-GAN's code runs it: for each generated image, its true
caption and 99 mismatched ones are ranked by cosine similarity of their embeddings (a DAMSM's
image and sentence encoders); R@1 is the share of images whose true caption ranks first,
reported as mean ± std over 10 folds of the generated set.
"""

import numpy as np


def r_precision(
    image_embeddings,
    text_embeddings,
    num_mismatched=99,
    folds=10,
    seed=0,
    caption_ids=None,
    labels=None,
):
    """(mean, std) of R@1 over folds, as DM-GAN measures it. Row i of both arrays belongs
    together; image i's `num_mismatched` captions are drawn from the other rows, skipping rows
    of its own label (`labels`: the class on CUB, the source image on COCO, as DM-GAN's
    `get_mis_caption` skips them) and, with `caption_ids` (e.g. the caption strings), rows of
    the same caption, which are no mismatch either. A hit is the true caption scoring highest,
    a tie with a mismatch included (DM-GAN's argmax). The hits are shuffled before the folds, so a
    test set sorted by class gives no fold a class of its own. Where fewer rows than
    `num_mismatched` qualify, they are drawn with repetition."""
    images = np.array(image_embeddings, dtype="float64")  # copies: normalised below
    texts = np.array(text_embeddings, dtype="float64")
    if images.shape != texts.shape or images.ndim != 2:
        raise ValueError(
            f"image and text embeddings must be matching [N, D] arrays; got "
            f"{images.shape} and {texts.shape}"
        )
    if len(images) <= num_mismatched:
        raise ValueError(
            f"R-precision needs more than {num_mismatched} samples to draw "
            f"{num_mismatched} mismatched captions; got {len(images)}"
        )
    images /= np.linalg.norm(images, axis=1, keepdims=True) + 1e-12
    texts /= np.linalg.norm(texts, axis=1, keepdims=True) + 1e-12
    ids, groups = (_codes(values, len(texts)) for values in (caption_ids, labels))
    rng = np.random.default_rng(seed)
    hits = np.empty(len(images), dtype=bool)
    for i in range(len(images)):
        pool = np.flatnonzero(
            (ids != ids[i]) & (groups != groups[i])
        )  # every row that is a mismatch
        if not len(pool):
            raise ValueError(
                "R-precision needs mismatched captions: every caption is the same, or of "
                "the same label"
            )
        others = pool[rng.choice(len(pool), num_mismatched, replace=len(pool) < num_mismatched)]
        candidates = texts[np.concatenate([[i], others])]
        scores = candidates @ images[i]
        hits[i] = scores[0] >= scores[1:].max()
    per_fold = [part.mean() for part in np.array_split(rng.permutation(hits), folds)]
    return float(np.mean(per_fold)), float(np.std(per_fold))


def _codes(values, count):
    """Integer codes of `values` (equal values, equal codes); None: every row its own."""
    if values is None:
        return np.arange(count)
    values = np.asarray(values)
    if values.ndim != 1 or len(values) != count:
        raise ValueError(
            f"R-precision needs one caption id and label per row; got shape {values.shape} "
            f"for {count} rows"
        )
    return np.unique(values, return_inverse=True)[1].reshape(-1)
