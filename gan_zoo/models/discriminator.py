"""The discriminator StackGAN and AttnGAN share: an image encoder and logit heads on it."""

import math

import keras
from keras import layers, ops

from gan_zoo import losses
from gan_zoo.layers import activation, batch_norm, conv2d, tile_spatially


def doublings(ratio, what):
    """How many x2 steps make `ratio`; anything but a power of two is an error naming `what`."""
    steps = math.log2(ratio)
    if ratio < 2 or steps != int(steps):
        raise ValueError(f"{what} must grow by a power of two; got a factor of {ratio}")
    return int(steps)


@keras.saving.register_keras_serializable(package="gan_zoo")
class ConditionalDiscriminator(keras.Model):
    """An image encoder to a 4x4 map with a conditional and an optional unconditional head.

    The encoder halves the image with 4x4 stride-2 convolutions (BN from the second, LeakyReLU
    0.2) to 4x4, then narrows with 3x3 convolutions to 8·df channels (at 256 px: 2048 -> 1024
    -> 512); below 64 px fewer halvings leave 4·df (32 px) or 2·df (16 px) channels. The conditional
    head joins the condition tiled over the 4x4 map (StackGAN's μ,
    AttnGAN's sentence vector): conv3x3, BN, LeakyReLU, then a 4x4 conv to one logit. The
    unconditional head is a 4x4 conv. These are StackGAN's D of both stages and AttnGAN's
    D_NET64/128/256 layer for layer. Encoder and heads are separate so a batch's features
    serve its mismatched pairs too, as both authors' losses do.
    """

    def __init__(
        self, image_size, df, condition_dim, unconditional, initializer="normal", **kwargs
    ):
        super().__init__(**kwargs)
        self.image_size, self.df, self.condition_dim = image_size, df, condition_dim
        self.unconditional, self.initializer = unconditional, initializer
        conv = lambda *args, **kw: conv2d(*args, initializer=initializer, **kw)  # noqa: E731
        image = keras.Input((image_size, image_size, 3))
        x = activation("leaky_relu")(conv(df, 4, strides=2)(image))
        width = df
        for _ in range(doublings(image_size / 4, "The discriminator's image size from 4x4") - 1):
            width *= 2
            x = activation("leaky_relu")(batch_norm()(conv(width, 4, strides=2)(x)))
        while width > df * 8:
            width //= 2
            x = activation("leaky_relu")(batch_norm()(conv(width, 3)(x)))
        self.encoder = keras.Model(image, x, name="image_encoder")
        features = keras.Input((4, 4, width))
        condition = keras.Input((condition_dim,))
        h = layers.Concatenate()([features, tile_spatially(condition, 4)])
        h = activation("leaky_relu")(batch_norm()(conv(df * 8, 3)(h)))
        logit = layers.Flatten()(conv(1, 4, strides=4, padding="valid", use_bias=True)(h))
        self.cond_head = keras.Model([features, condition], logit, name="cond_head")
        self.uncond_head = None
        if unconditional:
            logit = layers.Flatten()(
                conv(1, 4, strides=4, padding="valid", use_bias=True)(features)
            )
            self.uncond_head = keras.Model(features, logit, name="uncond_head")
        self.built = True

    def call(self, inputs, training=False):
        """[image, condition] -> conditional logits (and unconditional ones, when it has them)."""
        image, condition = inputs
        features = self.encoder(image, training=training)
        cond = self.cond_head([features, condition], training=training)
        if self.uncond_head is None:
            return cond
        return cond, self.uncond_head(features, training=training)

    def discriminator_loss(self, real, fake, condition, wrong_mask=None, real_label=1.0):
        """D's loss on real and generated images and their captions' condition, and its parts.

        Wrong pairs are the real images' features rolled by one against the conditions, as both
        authors' losses build them (`wrong_mask` zeroes the pairs that truly match). With an
        unconditional head: ½(real_c + real_u) + ⅓(fake_c + wrong_c + fake_u) (StackGAN
        Stage-II, AttnGAN); without: real + ½(wrong + fake) (StackGAN Stage-I).
        """
        real_features = self.encoder(real, training=True)
        fake_features = self.encoder(fake, training=True)
        real_logits, wrong_logits, fake_logits = (
            self.cond_head([features, condition], training=True)
            for features in (real_features, ops.roll(real_features, 1, axis=0), fake_features)
        )
        if self.uncond_head is None:
            return losses.matching_aware_discriminator_loss(
                real_logits, wrong_logits, fake_logits, 0.5, wrong_mask, real_label
            )
        return losses.conditional_and_unconditional_discriminator_loss(
            real_logits,
            wrong_logits,
            fake_logits,
            self.uncond_head(real_features, training=True),
            self.uncond_head(fake_features, training=True),
            wrong_mask,
            real_label,
        )

    def generator_losses(self, fake, condition):
        """G's terms against this D: {"g_fake"} (fool the conditional head) and, with an
        unconditional head, {"g_fake_uncond"}."""
        features = self.encoder(fake, training=True)
        terms = {
            "g_fake": losses.generator_loss(self.cond_head([features, condition], training=True))
        }
        if self.uncond_head is not None:
            terms["g_fake_uncond"] = losses.generator_loss(
                self.uncond_head(features, training=True)
            )
        return terms

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            df=self.df,
            condition_dim=self.condition_dim,
            unconditional=self.unconditional,
            initializer=self.initializer,
        )
        return config
