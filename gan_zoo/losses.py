"""Adversarial losses, written with keras.ops only so they run on every backend."""

from keras import ops

from gan_zoo.layers.attention import MASKED, masked_softmax


def sigmoid_cross_entropy_per_sample(logits, target):
    """Binary cross-entropy of each logit against a constant target (1 = real, 0 = fake)."""
    logits = ops.reshape(ops.cast(logits, "float32"), (-1,))
    return ops.binary_crossentropy(ops.full_like(logits, target), logits, from_logits=True)


def sigmoid_cross_entropy(logits, target, weights=None):
    """Mean binary cross-entropy of logits against a constant target.

    With `weights` (0/1: which rows count), the mean over the rows weighted 1, that is
    sum(w · loss) / max(sum(w), 1), and 0 when every weight is 0.
    """
    losses = sigmoid_cross_entropy_per_sample(logits, target)
    if weights is None:
        return ops.mean(losses)
    weights = ops.cast(weights, "float32")
    return ops.sum(losses * weights) / ops.maximum(ops.sum(weights), 1.0)


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
    real_logits, wrong_logits, fake_logits, wrong_weight=0.5, wrong_mask=None, real_label=1.0
):
    """GAN-CLS discriminator loss: real/right + w·real/wrong + (1 - w)·fake/right.

    Reed et al.'s code weights the wrong and fake terms by cls_weight = 0.5 and 1 - cls_weight.
    `real_label` below 1 is one-sided label smoothing (gan_zoo.stabilizers). Returns the total
    and its named parts.
    """
    real = sigmoid_cross_entropy(real_logits, real_label)
    wrong = sigmoid_cross_entropy(wrong_logits, 0.0, wrong_mask)
    fake = sigmoid_cross_entropy(fake_logits, 0.0)
    total = real + wrong_weight * wrong + (1.0 - wrong_weight) * fake
    return total, {"d_real": real, "d_wrong": wrong, "d_fake": fake}


def conditional_and_unconditional_discriminator_loss(
    real, wrong, fake, real_uncond, fake_uncond, wrong_mask=None, real_label=1.0
):
    """StackGAN Stage-II / AttnGAN: ½(real_c + real_u) + ⅓(fake_c + wrong_c + fake_u)."""
    parts = {
        "d_real": sigmoid_cross_entropy(real, real_label),
        "d_wrong": sigmoid_cross_entropy(wrong, 0.0, wrong_mask),
        "d_fake": sigmoid_cross_entropy(fake, 0.0),
        "d_real_uncond": sigmoid_cross_entropy(real_uncond, real_label),
        "d_fake_uncond": sigmoid_cross_entropy(fake_uncond, 0.0),
    }
    total = (parts["d_real"] + parts["d_real_uncond"]) / 2.0 + (
        parts["d_fake"] + parts["d_wrong"] + parts["d_fake_uncond"]
    ) / 3.0
    return total, parts


def generator_loss(fake_logits, weights=None):
    """Non-saturating generator loss: BCE of D(G(z, t)) against the real label.

    With per-image `weights`, the mean of weight · loss over all images (Torch's weighted
    BCECriterion, which Reed et al. use for GAN-INT's extra conditions).
    """
    per_image = sigmoid_cross_entropy_per_sample(fake_logits, 1.0)
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
