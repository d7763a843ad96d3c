"""The discriminator StackGAN and AttnGAN share: an image encoder and logit heads on it."""

import math

import keras
from keras import layers, ops

from gan_zoo import losses, remedies
from gan_zoo.layers import activation, batch_norm, conv2d, projection, tile_spatially


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

    Two remedies change the network (see `gan_zoo.remedies`): `spectral_norm` wraps every
    convolution and dense layer in SpectralNormalization, and `with_projection` adds the
    projection head's term (the condition against the 4x4 features) to the conditional logit.
    """

    def __init__(
        self,
        image_size,
        df,
        condition_dim,
        unconditional,
        initializer="normal",
        spectral_norm=False,
        with_projection=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_size, self.df, self.condition_dim = image_size, df, condition_dim
        self.unconditional, self.initializer = unconditional, initializer
        self.spectral_norm, self.with_projection = spectral_norm, with_projection
        conv = lambda *args, **kw: conv2d(  # noqa: E731
            *args, initializer=initializer, spectral_norm=spectral_norm, **kw
        )
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
        if with_projection:
            term = projection(features, condition, spectral_norm, initializer)
            logit = layers.Add()([logit, term])
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

    def real_pair(self, image, condition):
        """The conditional logits of real/right pairs, and the image features (reused for the
        wrong pairs and the unconditional head): what a gradient penalty differentiates."""
        features = self.encoder(image, training=True)
        return self.cond_head([features, condition], training=True), features

    def discriminator_loss(self, real, fake, condition, wrong_pairs, real_label=1.0, settings=None):
        """D's loss on real and generated images and their captions' condition, and its parts.

        Wrong pairs are the real images' features against other rows' conditions: `wrong_pairs`
        is (order, weights) from the model's `wrong_pairs` (rolled by one by default, as both
        authors' losses build them). With an unconditional head: ½(real_c + real_u) +
        ⅓(fake_c + wrong_c + fake_u) (StackGAN Stage-II, AttnGAN); without: real + ½(wrong +
        fake) (StackGAN Stage-I). `settings`, the model's `Remedies` (None: the papers'),
        choose the adversarial loss and add the gradient penalties on the real/right pairs (of
        the conditional head, D(x, t)).
        """
        settings = settings or remedies.Remedies()
        real_logits, real_features, penalties = settings.real_pair(self.real_pair, real, condition)
        fake_features = self.encoder(fake, training=True)
        order, wrong_mask = wrong_pairs
        wrong_features = ops.take(real_features, order, axis=0)
        wrong_logits, fake_logits = (
            self.cond_head([features, condition], training=True)
            for features in (wrong_features, fake_features)
        )
        loss = settings.adversarial_loss
        if self.uncond_head is None:
            total_and_parts = losses.matching_aware_discriminator_loss(
                real_logits, wrong_logits, fake_logits, 0.5, wrong_mask, real_label, loss
            )
        else:
            total_and_parts = losses.conditional_and_unconditional_discriminator_loss(
                real_logits,
                wrong_logits,
                fake_logits,
                self.uncond_head(real_features, training=True),
                self.uncond_head(fake_features, training=True),
                wrong_mask,
                real_label,
                loss,
            )
        return remedies.with_penalties(*total_and_parts, penalties)

    def generator_losses(self, fake, condition, loss="bce"):
        """G's terms against this D under the adversarial `loss`: {"g_fake"} (fool the
        conditional head) and, with an unconditional head, {"g_fake_uncond"}."""
        features = self.encoder(fake, training=True)
        logits = {"g_fake": self.cond_head([features, condition], training=True)}
        if self.uncond_head is not None:
            logits["g_fake_uncond"] = self.uncond_head(features, training=True)
        return {name: losses.generator_loss(value, loss=loss) for name, value in logits.items()}

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            df=self.df,
            condition_dim=self.condition_dim,
            unconditional=self.unconditional,
            initializer=self.initializer,
            spectral_norm=self.spectral_norm,
            with_projection=self.with_projection,
        )
        return config
