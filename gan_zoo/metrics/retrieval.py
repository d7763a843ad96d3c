"""R-precision: can a text–image encoder pair find each generated image's own caption?

The protocol of AttnGAN's paper as DM-GAN's code runs it: for each generated image, its true
caption and 99 mismatched ones are ranked by cosine similarity of their embeddings (a DAMSM's
image and sentence encoders); R@1 is the share of images whose true caption ranks first,
reported as mean ± std over 10 folds of the generated set.
"""

import numpy as np


def r_precision(image_embeddings, text_embeddings, num_mismatched=99, folds=10, seed=0, caption_ids=None):
    """(mean, std) of R@1 over folds. Row i of both arrays belongs together; the mismatched
    captions of image i are drawn from the other rows, skipping rows of the same caption
    (`caption_ids`, e.g. the caption strings, when captions repeat): an identical caption is
    no mismatch, and its tie would count as a miss. Where fewer rows than `num_mismatched`
    differ (a small set of repetitive captions), they are drawn with repetition."""
    images = np.array(image_embeddings, dtype="float64")  # copies: normalised below
    texts = np.array(text_embeddings, dtype="float64")
    if images.shape != texts.shape or images.ndim != 2:
        raise ValueError(f"image and text embeddings must be matching [N, D] arrays; got "
                         f"{images.shape} and {texts.shape}")
    if len(images) <= num_mismatched:
        raise ValueError(f"R-precision needs more than {num_mismatched} samples to draw "
                         f"{num_mismatched} mismatched captions; got {len(images)}")
    images /= np.linalg.norm(images, axis=1, keepdims=True) + 1e-12
    texts /= np.linalg.norm(texts, axis=1, keepdims=True) + 1e-12
    ids = np.unique(np.asarray(caption_ids if caption_ids is not None else np.arange(len(texts))),
                    return_inverse=True)[1].reshape(-1)
    rng = np.random.default_rng(seed)
    hits = np.empty(len(images), dtype=bool)
    for i in range(len(images)):
        pool = np.flatnonzero(ids != ids[i])  # every row of another caption
        if not len(pool):
            raise ValueError("R-precision needs captions that differ; all of them are the same")
        others = pool[rng.choice(len(pool), num_mismatched, replace=len(pool) < num_mismatched)]
        candidates = texts[np.concatenate([[i], others])]
        scores = candidates @ images[i]
        hits[i] = scores[0] > scores[1:].max()
    per_fold = [part.mean() for part in np.array_split(hits, folds)]
    return float(np.mean(per_fold)), float(np.std(per_fold))
