"""Adversarial losses, written with keras.ops only so they run on every backend."""

from keras import ops


def sigmoid_cross_entropy_per_sample(logits, target):
    """Binary cross-entropy of each logit against a constant target (1 = real, 0 = fake)."""
    logits = ops.reshape(ops.cast(logits, "float32"), (-1,))
    return ops.binary_crossentropy(ops.full_like(logits, target), logits, from_logits=True)


def sigmoid_cross_entropy(logits, target, weights=None):
    """Mean binary cross-entropy of logits against a constant target.

    With `weights`, the weighted mean sum(w · loss) / sum(w) (0 when every weight is 0).
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


def matching_aware_discriminator_loss(real_logits, wrong_logits, fake_logits, wrong_weight=0.5,
                                      wrong_mask=None):
    """GAN-CLS discriminator loss: real/right + w·real/wrong + (1 - w)·fake/right.

    Reed et al.'s code weights the wrong and fake terms by cls_weight = 0.5 and 1 - cls_weight.
    Returns the total and its named parts.
    """
    real = sigmoid_cross_entropy(real_logits, 1.0)
    wrong = sigmoid_cross_entropy(wrong_logits, 0.0, wrong_mask)
    fake = sigmoid_cross_entropy(fake_logits, 0.0)
    total = real + wrong_weight * wrong + (1.0 - wrong_weight) * fake
    return total, {"d_real": real, "d_wrong": wrong, "d_fake": fake}


def conditional_and_unconditional_discriminator_loss(real, wrong, fake, real_uncond, fake_uncond,
                                                     wrong_mask=None):
    """StackGAN Stage-II / AttnGAN: ½(real_c + real_u) + ⅓(fake_c + wrong_c + fake_u)."""
    parts = {
        "d_real": sigmoid_cross_entropy(real, 1.0),
        "d_wrong": sigmoid_cross_entropy(wrong, 0.0, wrong_mask),
        "d_fake": sigmoid_cross_entropy(fake, 0.0),
        "d_real_uncond": sigmoid_cross_entropy(real_uncond, 1.0),
        "d_fake_uncond": sigmoid_cross_entropy(fake_uncond, 0.0),
    }
    total = (parts["d_real"] + parts["d_real_uncond"]) / 2.0 + (
        parts["d_fake"] + parts["d_wrong"] + parts["d_fake_uncond"]) / 3.0
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
