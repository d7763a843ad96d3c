"""DF-GAN: Tao et al., "DF-GAN: A Simple and Effective Baseline for Text-to-Image Synthesis"
(CVPR 2022).

One generator paints the image at full size in one stage: z becomes a 4x4 map, and each
up-block doubles it while deep fusion blocks modulate every channel with an affine transform
predicted from [z, sentence]. One discriminator (NetD) encodes the image to 4x4 with residual
down-blocks, and a conditional head (NetC) judges those features against the sentence. The
losses are hinge losses with the matching-aware gradient penalty (MA-GP) on real pairs. Widths,
blocks, initialisation, losses and hyperparameters follow the authors' code (`models/GAN.py`,
`lib/modules.py`, `src/train.py`, `cfg/bird.yml`, `cfg/coco.yml`).
"""

import math
import numbers

import keras
from keras import layers, ops

from gan_zoo import losses, remedies
from gan_zoo.layers import tile_spatially
from gan_zoo.models.base import TextToImageGAN
from gan_zoo.models.damsm import frozen_text_arguments
from gan_zoo.models.generation import DFGAN_TRUNCATION

# The authors' cfg/bird.yml ("birds", the defaults) and cfg/coco.yml, which build the same
# networks (they differ in epochs, 1301 and 301, and in their DAMSM); and a small model for CPU
# work (see `gan_zoo.models.presets`).
PRESETS = {
    "birds": {"nf": 32, "image_size": 256, "sentence_dim": 256},
    "coco": {"nf": 32, "image_size": 256, "sentence_dim": 256},
    "small": {"nf": 16, "image_size": 32, "sentence_dim": 64},
}


def torch_uniform(fan_in):
    """PyTorch's default initialisation of Linear and Conv2d weights and biases, which the
    authors keep: U(±1/√fan_in)."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def dense(units, fan_in, name=None, **kwargs):
    """A Linear layer as PyTorch initialises it (unless `kwargs` set the initialisers)."""
    init = dict(kernel_initializer=torch_uniform(fan_in), bias_initializer=torch_uniform(fan_in))
    return layers.Dense(units, name=name, **{**init, **kwargs})


def conv(filters, kernel, in_channels, strides=1, padding="same", use_bias=True, name=None):
    """A Conv2d as PyTorch initialises it; "same" padding is PyTorch's padding 1 for the 3x3
    convolutions and for the 4x4 stride-2 ones."""
    init = torch_uniform(in_channels * kernel * kernel)
    return layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=init,
        bias_initializer=init,
        name=name,
    )


def check_image_size(image_size):
    """DF-GAN's D halves the image to 4x4 and its widths reach 8·nf there from 32 px on."""
    if not (
        isinstance(image_size, numbers.Integral)
        and image_size >= 32
        and image_size & (image_size - 1) == 0
    ):
        raise ValueError(
            f"DF-GAN needs image_size a power of two of at least 32 (32, 64, 128, 256, ...): its "
            f"discriminator halves the image to 4x4 and ends with 8·nf channels there; got "
            f"{image_size!r}. Build it with one of those sizes and load the data at that size."
        )


def widths(nf, image_size):
    """The authors' feature widths from the image side: nf · min(2^k, 8) for k = 0 .. log2(size)
    - 2. NetD walks them from the image down to 4x4; NetG walks them back up."""
    return [nf * min(2**k, 8) for k in range(int(math.log2(image_size)) - 1)]


# ----------------------------------------------------------------- the blocks
@keras.saving.register_keras_serializable(package="gan_zoo")
class Affine(layers.Layer):
    """x ↦ γ(c) · x + β(c), one γ and one β per channel, each predicted from the condition c by
    a Linear-ReLU-Linear MLP. The last Linear of γ starts at weight 0 and bias 1, and β's at 0
    and 0, so the block starts as the identity.

    Args:
        channels: the channels of the features it modulates.
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels

    def build(self, x_shape, condition_shape):
        fan_in, ch = condition_shape[-1], self.channels
        self.gamma_1 = dense(ch, fan_in, activation="relu", name="gamma_1")
        self.gamma_2 = dense(
            ch, ch, kernel_initializer="zeros", bias_initializer="ones", name="gamma_2"
        )
        self.beta_1 = dense(ch, fan_in, activation="relu", name="beta_1")
        self.beta_2 = dense(
            ch, ch, kernel_initializer="zeros", bias_initializer="zeros", name="beta_2"
        )
        for first, second in ((self.gamma_1, self.gamma_2), (self.beta_1, self.beta_2)):
            first.build(condition_shape)
            second.build(tuple(condition_shape[:-1]) + (ch,))
        self.built = True

    def call(self, x, condition):
        gamma = self.gamma_2(self.gamma_1(condition))[:, None, None, :]
        beta = self.beta_2(self.beta_1(condition))[:, None, None, :]
        return gamma * x + beta

    def compute_output_shape(self, x_shape, condition_shape):
        return x_shape

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package="gan_zoo")
class DeepFusion(layers.Layer):
    """The deep text-image fusion block (the authors' DFBLK): Affine, LeakyReLU(0.2), Affine,
    LeakyReLU(0.2), both affines conditioned on the same [z, sentence]."""

    def build(self, x_shape, condition_shape):
        self.affine0 = Affine(x_shape[-1], name="affine0")
        self.affine1 = Affine(x_shape[-1], name="affine1")
        for affine in (self.affine0, self.affine1):
            affine.build(x_shape, condition_shape)
        self.built = True

    def call(self, x, condition):
        x = ops.leaky_relu(self.affine0(x, condition), 0.2)
        return ops.leaky_relu(self.affine1(x, condition), 0.2)

    def compute_output_shape(self, x_shape, condition_shape):
        return x_shape


@keras.saving.register_keras_serializable(package="gan_zoo")
class UpBlock(layers.Layer):
    """The generator's block (the authors' G_Block): nearest x2, then
    shortcut(x) + conv3x3(fuse2(conv3x3(fuse1(x)))), the shortcut a 1x1 convolution where the
    width changes and the identity elsewhere.

    Args:
        filters: the output width.
    """

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, x_shape, condition_shape):
        inputs, width = x_shape[-1], self.filters
        up = (x_shape[0], 2 * x_shape[1], 2 * x_shape[2], inputs)
        self.fuse1, self.fuse2 = DeepFusion(name="fuse1"), DeepFusion(name="fuse2")
        self.conv1 = conv(width, 3, inputs, name="conv1")
        self.conv2 = conv(width, 3, width, name="conv2")
        self.shortcut = conv(width, 1, inputs, name="shortcut") if inputs != width else None
        self.fuse1.build(up, condition_shape)
        self.conv1.build(up)
        self.fuse2.build(up[:3] + (width,), condition_shape)
        self.conv2.build(up[:3] + (width,))
        if self.shortcut is not None:
            self.shortcut.build(up)
        self.built = True

    def call(self, x, condition):
        x = ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)  # nearest-neighbour x2
        h = self.conv1(self.fuse1(x, condition))
        h = self.conv2(self.fuse2(h, condition))
        return (self.shortcut(x) if self.shortcut is not None else x) + h

    def compute_output_shape(self, x_shape, condition_shape):
        height, width = (None if s is None else 2 * s for s in x_shape[1:3])
        return (x_shape[0], height, width, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="gan_zoo")
class DownBlock(layers.Layer):
    """NetD's block (the authors' D_Block): shortcut(x) + γ · residual(x), halving the image.

    residual: conv4x4 stride 2 -> LeakyReLU(0.2) -> conv3x3 -> LeakyReLU(0.2), no biases;
    shortcut: a 1x1 convolution where the width changes, then 2x2 average pooling; γ a learned
    scalar that starts at 0, so D starts as its shortcuts. Like the authors' block, every block
    holds the 1x1 convolution, also where the width stays and it never runs: their checkpoints
    carry those weights and their parameter count includes them. There it is frozen
    (non-trainable), as it never gets a gradient.

    Args:
        filters: the output width.
    """

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, input_shape):
        inputs, width = input_shape[-1], self.filters
        self.conv_down = conv(width, 4, inputs, strides=2, use_bias=False, name="conv_down")
        self.conv = conv(width, 3, width, use_bias=False, name="conv")
        self.shortcut = conv(width, 1, inputs, name="shortcut")
        self.learned_shortcut = inputs != width
        self.conv_down.build(input_shape)
        self.conv.build(self.conv_down.compute_output_shape(input_shape))
        self.shortcut.build(input_shape)
        self.shortcut.trainable = self.learned_shortcut
        self.gamma = self.add_weight(shape=(1,), initializer="zeros", name="gamma")
        self.built = True

    def call(self, x):
        residual = ops.leaky_relu(self.conv(ops.leaky_relu(self.conv_down(x), 0.2)), 0.2)
        shortcut = self.shortcut(x) if self.learned_shortcut else x
        return ops.average_pool(shortcut, 2, 2) + ops.cast(self.gamma, x.dtype) * residual

    def compute_output_shape(self, input_shape):
        height, width = (None if s is None else s // 2 for s in input_shape[1:3])
        return (input_shape[0], height, width, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


# ----------------------------------------------------------------- the networks
def build_generator(noise_dim, sentence_dim, image_size=256, nf=32):
    """NetG: [z, sentence] -> image. A Linear of z to 4x4x8·nf, one `UpBlock` per doubling,
    every fusion conditioned on [z, sentence], then LeakyReLU -> conv3x3 -> tanh."""
    z = keras.Input((noise_dim,), name="noise")
    sentence = keras.Input((sentence_dim,), name="sentence")
    condition = layers.Concatenate(name="condition")([z, sentence])
    steps = widths(nf, image_size)[::-1]
    x = layers.Reshape((4, 4, steps[0]))(dense(16 * steps[0], noise_dim, name="fc")(z))
    for i, width in enumerate(steps[1:]):
        x = UpBlock(width, name=f"up_block{i}")(x, condition)
    x = conv(3, 3, steps[-1], name="to_rgb")(layers.LeakyReLU(0.2)(x))
    image = layers.Activation("tanh", dtype="float32")(x)
    return keras.Model([z, sentence], image, name="generator")


def build_netd(image_size=256, nf=32):
    """NetD: image -> 4x4x8·nf features: conv3x3, then one `DownBlock` per halving."""
    image = keras.Input((image_size, image_size, 3), name="image")
    steps = widths(nf, image_size)
    x = conv(steps[0], 3, 3, name="conv_img")(image)
    for i, width in enumerate(steps[1:]):
        x = DownBlock(width, name=f"down_block{i}")(x)
    return keras.Model(image, x, name="netd")


def build_netc(nf=32, sentence_dim=256):
    """NetC: [4x4 features, sentence] -> logit [B, 1]: the sentence tiled over the map and
    joined after the features, conv3x3 to 2·nf (no bias), LeakyReLU(0.2), conv4x4 (no bias)."""
    features = keras.Input((4, 4, 8 * nf), name="features")
    sentence = keras.Input((sentence_dim,), name="sentence")
    x = layers.Concatenate()([features, tile_spatially(sentence, 4)])
    x = conv(2 * nf, 3, 8 * nf + sentence_dim, use_bias=False, name="joint_conv")(x)
    x = conv(1, 4, 2 * nf, padding="valid", use_bias=False, name="logit")(layers.LeakyReLU(0.2)(x))
    return keras.Model([features, sentence], layers.Flatten(dtype="float32")(x), name="netc")


def build_discriminator(image_size=256, nf=32, sentence_dim=256):
    """D(image, sentence) = NetC(NetD(image), sentence), the two kept as the nested models
    "netd" and "netc" (the losses reuse NetD's features of real images for mismatched pairs)."""
    netd, netc = build_netd(image_size, nf), build_netc(nf, sentence_dim)
    image = keras.Input((image_size, image_size, 3), name="image")
    sentence = keras.Input((sentence_dim,), name="sentence")
    return keras.Model([image, sentence], netc([netd(image), sentence]), name="discriminator")


def text_arguments(damsm, vocabulary, text_encoder, sentence_dim, kwargs):
    """`TextToImageGAN`'s arguments (`kwargs` among them) for the text source given: a DAMSM's
    frozen encoder, vocabulary and caption length; or a new encoder `sentence_dim` wide for a
    vocabulary; or what was given (a text encoder, or embedding_dim in `kwargs`)."""
    if damsm is None:
        if vocabulary is not None and (text_encoder is None or isinstance(text_encoder, dict)):
            text_encoder = {"hidden_dim": sentence_dim // 2, **(text_encoder or {})}
        return dict(kwargs, vocabulary=vocabulary, text_encoder=text_encoder)
    given = dict(kwargs, text_encoder=text_encoder)
    return frozen_text_arguments(damsm, vocabulary, given, "DF-GAN")[1]


@keras.saving.register_keras_serializable(package="gan_zoo")
class DFGAN(TextToImageGAN):
    """DF-GAN, conditioned on sentence vectors, trained with hinge losses and MA-GP.

    The defaults are the authors' CUB settings; `DFGAN.from_preset("coco" or "small", ...)`
    builds their COCO configuration (the same networks) or a small model for CPU work
    (`PRESETS`). Three text encoders can condition it:

    - `damsm=`: a pretrained DAMSM (trained here, or the authors' from
      `convert.damsm_from_authors`), as the authors train: its text encoder is shared, frozen
      and run in inference mode, and the model takes its vocabulary and caption length;
    - `vocabulary=` alone: a new `TextEncoder` of `sentence_dim` (two LSTM directions of half
      that), trained with D's loss, as DCGAN-cls trains its own; or `text_encoder=` one given;
    - `embedding_dim=`: precomputed sentence embeddings of `sentence_dim` width.

    Args:
        damsm: a pretrained `DAMSM` or the path of its `.keras` file (see above). The model
            keeps its text encoder only: a saved DF-GAN holds no image encoder.
        vocabulary: the `Vocabulary` captions are encoded with; with a DAMSM, optional and
            equal to its.
        nf: the width unit of both networks (G: 8·nf at 4x4 down to nf; D: nf up to 8·nf).
        image_size: a power of two ≥ 32 (256 in the papers; small: 32).
        sentence_dim: the width of the sentence vector (the authors' cond_dim 256; small: 64);
            a DAMSM, text encoder or embeddings of another width are refused.
        beta_1, beta_2: both players' Adam (the authors' 0.0 and 0.9).
        adversarial_loss, ma_gp, g_learning_rate, d_learning_rate: the remedies of
            `gan_zoo.remedies`, at the authors' recipe: hinge losses, MA-GP k = 2 (p = 6),
            G 1e-4 and D 4e-4.
        text_encoder: as in `TextToImageGAN`; a new one defaults to `sentence_dim` wide.
        **kwargs: `TextToImageGAN` arguments (noise_dim, seed, max_length, ...).
    """

    PRESETS = PRESETS
    evaluation_truncation = DFGAN_TRUNCATION  # the authors sample their FID images so

    loss_names = ("d_loss", "g_loss", "d_real", "d_wrong", "d_fake", "g_fake")

    def __init__(
        self,
        damsm=None,
        vocabulary=None,
        nf=32,
        image_size=256,
        sentence_dim=256,
        beta_1=0.0,
        beta_2=0.9,
        adversarial_loss="hinge",
        ma_gp=2.0,
        g_learning_rate=1e-4,
        d_learning_rate=4e-4,
        text_encoder=None,
        **kwargs,
    ):
        check_image_size(image_size)
        text = text_arguments(damsm, vocabulary, text_encoder, sentence_dim, kwargs)
        super().__init__(
            image_size=image_size,
            beta_1=beta_1,
            beta_2=beta_2,
            adversarial_loss=adversarial_loss,
            ma_gp=ma_gp,
            g_learning_rate=g_learning_rate,
            d_learning_rate=d_learning_rate,
            **text,
        )
        self._check_sentence_width(sentence_dim, "DAMSM" if damsm is not None else None)
        self.nf, self.sentence_dim = nf, sentence_dim
        self.generator = build_generator(self.noise_dim, sentence_dim, image_size, nf)
        self.discriminator = build_discriminator(image_size, nf, sentence_dim)
        self.built = True

    def _check_sentence_width(self, sentence_dim, source=None):
        """The sentence vectors the model receives must be `sentence_dim` wide."""
        if self.condition_dim == sentence_dim:
            return
        source = source or ("text encoder" if self.text_encoder is not None else "embeddings")
        raise ValueError(
            f"This DF-GAN is built for {sentence_dim}-d sentence vectors (sentence_dim), but "
            f"those of its {source} are {self.condition_dim}-d: build it with "
            f"sentence_dim={self.condition_dim} (an even width, for a new text encoder's two "
            "LSTM directions)."
        )

    # ----------------------------------------------------------------- the networks
    @property
    def netd(self):
        """NetD: images -> 4x4x8·nf features."""
        return self.discriminator.get_layer("netd")

    @property
    def netc(self):
        """NetC: [features, sentence] -> logits [B, 1]."""
        return self.discriminator.get_layer("netc")

    def run_generator(self, latent, condition, training=False):
        return {"images": {self.image_size: self.generator([latent, condition], training=training)}}

    def judge(self, images, sentence):
        """NetC's logits of (image, sentence) pairs, and NetD's features of the images."""
        features = self.netd(images, training=True)
        return self.netc([features, sentence], training=True), features

    # ----------------------------------------------------------------- losses
    def discriminator_loss(self, batch):
        """real + ½(fake + wrong) under the hinge loss, + MA-GP on the real pairs: the gradient
        of their logits with respect to the images and the sentence vectors. Wrong pairs are
        the real images' features against other rows' sentences (`wrong_pairs`)."""
        sentence = self.sentence_condition(batch, training=True)
        noise = self.sample_latent(batch, ops.shape(sentence)[0])
        fake = self.generator([noise, ops.stop_gradient(sentence)], training=True)
        real_logits, real_features, penalties = self.remedies.real_pair(
            self.judge, self.discriminator_view(batch["images"]), sentence
        )
        order, wrong_mask = self.wrong_pairs(batch, sentence)
        wrong_features = ops.take(real_features, order, axis=0)
        wrong_logits = self.netc([wrong_features, sentence], training=True)
        fake_logits, _ = self.judge(self.discriminator_view(ops.stop_gradient(fake)), sentence)
        loss = losses.matching_aware_discriminator_loss(
            real_logits,
            wrong_logits,
            fake_logits,
            0.5,
            wrong_mask,
            self.real_label,
            self.remedies.adversarial_loss,
        )
        return remedies.with_penalties(*loss, penalties)

    def generator_loss(self, batch):
        """−D(G(z, s), s), the mean of the fakes' logits negated (under the hinge loss)."""
        sentence = ops.stop_gradient(self.sentence_condition(batch, training=True))
        noise = self.sample_latent(batch, ops.shape(sentence)[0])
        fake = self.generator([noise, sentence], training=True)
        logits, _ = self.judge(self.discriminator_view(fake), sentence)
        loss = losses.generator_loss(logits, loss=self.remedies.adversarial_loss)
        return loss, {"g_fake": loss}

    # ----------------------------------------------------------------- saving
    def get_config(self):
        return {**super().get_config(), "nf": self.nf, "sentence_dim": self.sentence_dim}
