"""Adversarial losses, written with keras.ops only so they run on every backend.

Every GAN here trains with one of three adversarial losses (`ADVERSARIAL_LOSSES`), chosen by
the model's `adversarial_loss=`; each is written once below, as D's loss on one logit (for a
real or a fake/mismatched input) and G's, and the matching-aware structure (real/right,
real/wrong, fake/right and the unconditional terms) is built from those pieces:

- "bce": the papers' binary cross-entropy, G's loss the non-saturating -log σ(D(G(z)));
- "hinge" (SAGAN, BigGAN, DF-GAN): D's relu(1 - D(real)) + relu(1 + D(fake)), G's -D(fake);
- "lsgan" (Mao et al. 2017): least squares, D's (D(real) - 1)² + D(fake)², G's (D(fake) - 1)²,
  as the papers' BCE terms are turned into MSE terms (PyTorch's MSELoss, no ½).
"""

import keras
from keras import ops

from gan_zoo.layers.attention import MASKED, masked_softmax

ADVERSARIAL_LOSSES = ("bce", "hinge", "lsgan")


def _flat(logits):
    return ops.reshape(ops.cast(logits, "float32"), (-1,))


def _weighted_mean(per_sample, weights=None):
    """The mean; with 0/1 `weights`, sum(w · x) / max(sum(w), 1), 0 when every weight is 0."""
    if weights is None:
        return ops.mean(per_sample)
    weights = ops.cast(weights, "float32")
    return ops.sum(per_sample * weights) / ops.maximum(ops.sum(weights), 1.0)


def sigmoid_cross_entropy_per_sample(logits, target):
    """Binary cross-entropy of each logit against a constant target (1 = real, 0 = fake)."""
    logits = _flat(logits)
    return ops.binary_crossentropy(ops.full_like(logits, target), logits, from_logits=True)


def sigmoid_cross_entropy(logits, target, weights=None):
    """Mean binary cross-entropy of logits against a constant target.

    With `weights` (0/1: which rows count), the mean over the rows weighted 1, that is
    sum(w · loss) / max(sum(w), 1), and 0 when every weight is 0.
    """
    return _weighted_mean(sigmoid_cross_entropy_per_sample(logits, target), weights)


def discriminator_per_sample(logits, real, loss="bce", real_label=1.0):
    """D's loss on each logit of a real/right pair (`real=True`) or of a fake or mismatched one.

    Args:
        logits: D's logits, any shape (flattened).
        real: whether D should call these inputs real.
        loss: one of `ADVERSARIAL_LOSSES`.
        real_label: one-sided label smoothing, D's target for real inputs. With "bce" the
            cross-entropy's target, with "lsgan" the least-squares target (LSGAN's b): D is
            pulled to `real_label` instead of 1, never rewarded past it. The hinge loss has no
            target to smooth (its margin already stops rewarding D once D(real) ≥ 1), so it
            takes only 1.

    Returns:
        A float32 vector, one loss per logit.

    Raises:
        ValueError: for an unknown `loss`, or a `real_label` other than 1 with "hinge".
    """
    logits = _flat(logits)
    if loss == "bce":
        return sigmoid_cross_entropy_per_sample(logits, real_label if real else 0.0)
    if loss == "hinge":
        if real_label != 1.0:
            raise ValueError(
                "The hinge loss takes no label smoothing (its margin already bounds D's "
                f"reward); got a real label of {real_label}. Use label_smoothing=0."
            )
        return ops.relu(1.0 - logits) if real else ops.relu(1.0 + logits)
    if loss == "lsgan":
        return ops.square(logits - (real_label if real else 0.0))
    raise ValueError(f"Unknown adversarial loss {loss!r}; choose from {ADVERSARIAL_LOSSES}.")


def discriminator_term(logits, real, loss="bce", weights=None, real_label=1.0):
    """The mean of `discriminator_per_sample` (over the rows weighted 1, with 0/1 `weights`)."""
    return _weighted_mean(discriminator_per_sample(logits, real, loss, real_label), weights)


def generator_per_sample(logits, loss="bce"):
    """G's loss on each logit D gave a generated image: "bce" the non-saturating -log σ(x),
    "hinge" -x (as SAGAN, BigGAN and DF-GAN train G), "lsgan" (x - 1)²."""
    logits = _flat(logits)
    if loss == "bce":
        return sigmoid_cross_entropy_per_sample(logits, 1.0)
    if loss == "hinge":
        return -logits
    if loss == "lsgan":
        return ops.square(logits - 1.0)
    raise ValueError(f"Unknown adversarial loss {loss!r}; choose from {ADVERSARIAL_LOSSES}.")


WRONG_PAIRS = ("rolled", "similar")
SIMILAR_TEMPERATURE = 0.1  # "similar": cosine similarities / 0.1 are the draw's logits


def true_mismatches(texts, labels=None):
    """[B, B] booleans: whether the text of row i and the image of row j truly mismatch (their
    texts differ and, with class `labels`, so do their classes); never on the diagonal."""
    texts = ops.reshape(texts, (ops.shape(texts)[0], -1))
    differ = ops.any(ops.not_equal(texts[:, None], texts[None]), axis=-1)
    if labels is not None:
        differ = ops.logical_and(differ, ops.not_equal(labels[:, None], labels[None]))
    return differ


def wrong_pairs(rule, texts, sentences, labels=None, seed=None):
    """Which real image each caption is paired with as the matching-aware D's wrong pair.

    Args:
        rule: one of `WRONG_PAIRS`. "rolled": row i's text with row i-1's image, as every
            paper here pairs them. "similar": with the image of another row drawn with
            probability ∝ exp(cos(sentence_i, sentence_j) / SIMILAR_TEMPERATURE) among the
            rows whose text truly mismatches (`true_mismatches`), nearer captions likelier.
            Without labels, a reworded caption of the same content counts as a mismatch and
            is the likeliest draw (docs/stabilizers.md measures how often on shapes).
        texts: the rows' tokens or embeddings [B, ...], to tell identical texts apart.
        sentences: the sentence vectors [B, E] whose similarities "similar" draws by.
        labels: optional class labels [B]; pairs of one class never count as wrong.
        seed: a keras.random.SeedGenerator, for "similar"'s draw.

    Returns:
        (order [B] int, weights [B] float): row i's wrong image is images[order[i]], and
        weights[i] is 1 where that pair truly mismatches, else 0.
    """
    if rule == "rolled":
        order = ops.roll(ops.arange(ops.shape(texts)[0], dtype="int32"), 1, axis=0)
        return order, mismatch_weights(texts, labels)
    if rule != "similar":
        raise ValueError(f"Unknown wrong_pairs {rule!r}; choose from {WRONG_PAIRS}.")
    mismatches = true_mismatches(texts, labels)
    unit = ops.stop_gradient(ops.cast(sentences, "float32"))
    unit = unit / ops.maximum(ops.norm(unit, axis=-1, keepdims=True), 1e-8)
    logits = ops.matmul(unit, ops.transpose(unit)) / SIMILAR_TEMPERATURE
    logits = ops.where(mismatches, logits, MASKED)
    order = ops.cast(keras.random.categorical(logits, 1, seed=seed)[:, 0], "int32")
    return order, ops.cast(ops.any(mismatches, axis=-1), "float32")


def mismatch_weights(texts, labels=None):
    """Which rolled pairs (the image of row i-1 with the text of row i) truly mismatch: 1 or 0.

    `texts` are the rows' tokens or embeddings. A pair whose two texts are identical, or whose
    images share a class label, is no negative example for the matching-aware discriminator,
    so it is left out.
    """
    texts = ops.reshape(texts, (ops.shape(texts)[0], -1))
    differ = ops.any(ops.not_equal(texts, ops.roll(texts, 1, axis=0)), axis=-1)
    if labels is not None:
        differ = ops.logical_and(differ, ops.not_equal(labels, ops.roll(labels, 1, axis=0)))
    return ops.cast(differ, "float32")


def matching_aware_discriminator_loss(
    real_logits,
    wrong_logits,
    fake_logits,
    wrong_weight=0.5,
    wrong_mask=None,
    real_label=1.0,
    loss="bce",
):
    """GAN-CLS discriminator loss: real/right + w·real/wrong + (1 - w)·fake/right.

    Reed et al.'s code weights the wrong and fake terms by cls_weight = 0.5 and 1 - cls_weight.
    `real_label` below 1 is one-sided label smoothing (gan_zoo.stabilizers); `loss` is one of
    `ADVERSARIAL_LOSSES`, each term `discriminator_term` of it. Returns the total and its
    named parts.
    """
    real = discriminator_term(real_logits, True, loss, real_label=real_label)
    wrong = discriminator_term(wrong_logits, False, loss, wrong_mask)
    fake = discriminator_term(fake_logits, False, loss)
    total = real + wrong_weight * wrong + (1.0 - wrong_weight) * fake
    return total, {"d_real": real, "d_wrong": wrong, "d_fake": fake}


def conditional_and_unconditional_discriminator_loss(
    real, wrong, fake, real_uncond, fake_uncond, wrong_mask=None, real_label=1.0, loss="bce"
):
    """StackGAN Stage-II / AttnGAN: ½(real_c + real_u) + ⅓(fake_c + wrong_c + fake_u), each
    term `discriminator_term` of `loss`."""
    parts = {
        "d_real": discriminator_term(real, True, loss, real_label=real_label),
        "d_wrong": discriminator_term(wrong, False, loss, wrong_mask),
        "d_fake": discriminator_term(fake, False, loss),
        "d_real_uncond": discriminator_term(real_uncond, True, loss, real_label=real_label),
        "d_fake_uncond": discriminator_term(fake_uncond, False, loss),
    }
    total = (parts["d_real"] + parts["d_real_uncond"]) / 2.0 + (
        parts["d_fake"] + parts["d_wrong"] + parts["d_fake_uncond"]
    ) / 3.0
    return total, parts


def generator_loss(fake_logits, weights=None, loss="bce"):
    """G's adversarial loss (`generator_per_sample` of `loss`; "bce": non-saturating BCE of
    D(G(z, t)) against the real label).

    With per-image `weights`, the mean of weight · loss over all images (Torch's weighted
    BCECriterion, which Reed et al. use for GAN-INT's extra conditions).
    """
    per_image = generator_per_sample(fake_logits, loss)
    if weights is None:
        return ops.mean(per_image)
    return ops.mean(per_image * ops.cast(weights, "float32"))


def kl_divergence(mu, logvar):
    """KL(N(μ, σ²) || N(0, I)) as StackGAN computes it: -½ · mean(1 + log σ² - μ² - σ²)."""
    mu, logvar = ops.cast(mu, "float32"), ops.cast(logvar, "float32")
    return -0.5 * ops.mean(1.0 + logvar - ops.square(mu) - ops.exp(logvar))


# ----------------------------------------------------------------- DAMSM (AttnGAN)
def cosine_similarity(a, b, axis=-1, eps=1e-8):
    """Cosine along `axis`, the norms' product clamped at `eps` as AttnGAN's code does. The
    product is taken under one square root, clamped first: a zero vector (a padding word)
    then has gradient 0, where the norm's own derivative would give NaN on JAX."""
    dot = ops.sum(a * b, axis=axis)
    squares = ops.sum(ops.square(a), axis=axis) * ops.sum(ops.square(b), axis=axis)
    return dot / ops.sqrt(ops.maximum(squares, eps**2))


def damsm_sentence_similarity(image_codes, sentences):
    """Cosine of every image code [B, D] with every sentence vector [B, D]: [B_images, B_texts]."""
    a = ops.expand_dims(ops.cast(image_codes, "float32"), 1)
    b = ops.expand_dims(ops.cast(sentences, "float32"), 0)
    return cosine_similarity(a, b)


def damsm_word_similarity(regions, words, mask, gamma1=4.0, gamma2=5.0):
    """DAMSM's word-level matching score R(image, caption) for every pair: [B_images, B_texts].

    regions [B, R, D] (image sub-region features), words [B, T, D], mask [B, T] (False =
    padding). For each caption and image, each word attends over the regions (a softmax over
    the caption's words, then a softmax of γ1 times that over the regions) to a region context;
    R = log Σ_words exp(γ2 · cos(word, context)), padding left out.
    """
    regions, words = ops.cast(regions, "float32"), ops.cast(words, "float32")
    mask = ops.cast(mask, "bool")
    scores = ops.einsum("jrd,itd->ijtr", regions, words)  # i: caption, j: image
    attention = ops.softmax(
        gamma1 * masked_softmax(scores, mask[:, None, :, None], axis=2), axis=-1
    )
    context = ops.einsum("ijtr,jrd->ijtd", attention, regions)
    cosines = cosine_similarity(ops.expand_dims(words, 1), context)  # [captions, images, T]
    word_mask = ops.broadcast_to(mask[:, None, :], ops.shape(cosines))
    similarity = ops.logsumexp(ops.where(word_mask, gamma2 * cosines, MASKED), axis=-1)
    return ops.transpose(similarity)


def damsm_matching_loss(similarity, gamma3=10.0, labels=None):
    """Cross-entropy of each image over the captions and of each caption over the images, the
    matching pairs on the diagonal of `similarity` [B, B] (scaled by γ3). Pairs of different
    rows sharing a class label are no negatives and are left out, as the authors mask them.
    Returns (images -> captions loss, captions -> images loss)."""
    logits = gamma3 * ops.cast(similarity, "float32")
    if labels is not None:
        same = ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0))
        same = ops.logical_and(same, ops.logical_not(ops.eye(ops.shape(logits)[0], dtype="bool")))
        logits = ops.where(same, MASKED, logits)
    diagonal = ops.eye(ops.shape(logits)[0], dtype="float32")
    loss0 = -ops.mean(ops.sum(ops.log_softmax(logits, axis=1) * diagonal, axis=1))
    loss1 = -ops.mean(ops.sum(ops.log_softmax(logits, axis=0) * diagonal, axis=0))
    return loss0, loss1


def damsm_loss(
    regions, image_codes, words, sentences, mask, labels=None, gamma1=4.0, gamma2=5.0, gamma3=10.0
):
    """The DAMSM loss L_w1 + L_w2 + L_s1 + L_s2; returns (total, {"w_loss", "s_loss"})."""
    w0, w1 = damsm_matching_loss(
        damsm_word_similarity(regions, words, mask, gamma1, gamma2), gamma3, labels
    )
    s0, s1 = damsm_matching_loss(damsm_sentence_similarity(image_codes, sentences), gamma3, labels)
    return w0 + w1 + s0 + s1, {"w_loss": w0 + w1, "s_loss": s0 + s1}
