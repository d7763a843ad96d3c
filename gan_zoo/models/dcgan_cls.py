"""DCGAN-cls: GAN-INT-CLS of Reed et al., "Generative Adversarial Text to Image Synthesis" (2016).

Widths, residual blocks, losses and hyperparameters follow the authors' `main_cls_int.lua`
and `train_cub.sh`: ngf 128, ndf 64, text projected to 128, z 100, a matching-aware D
(real/right + 0.5 real/wrong + 0.5 fake/right) and GAN-INT (halfway conditions, weight 1).
"""

import math

import keras
from keras import layers, ops

from gan_zoo import losses, remedies
from gan_zoo.layers import (
    ResidualBlock,
    activation,
    batch_norm,
    conv2d,
    conv_initializer,
    projection,
    spectral_normalization,
    tile_spatially,
)
from gan_zoo.models.base import TextToImageGAN
from gan_zoo.models.damsm import frozen_text_arguments
from gan_zoo.models.presets import deserialize_entry

# Widths and schedules (see `gan_zoo.models.presets`): GAN-INT-CLS halving every 100 epochs
# (train_cub.sh, train_flowers.sh; "birds", the defaults), GAN-CLS halving every 40 on COCO
# (train_coco.sh, nt 128, whose main_cls.lua builds D as the "cls" layout).
PRESETS = {
    "birds": {
        "ngf": 128,
        "ndf": 64,
        "text_dim": 128,
        "interp_weight": 1.0,
        "lr_decay_every": 100,
        "d_layout": "cls_int",
    },
    "coco": {
        "ngf": 196,
        "ndf": 196,
        "text_dim": 128,
        "interp_weight": 0.0,
        "lr_decay_every": 40,
        "d_layout": "cls",
    },
    "small": {
        "ngf": 32,
        "ndf": 32,
        "text_dim": 128,
        "interp_weight": 1.0,
        "lr_decay_every": 100,
        "d_layout": "cls_int",
    },
}
# Training recipes over a preset (`DCGANCLS.from_preset(name, recipe=...)`): the authors', and
# remedies (gan_zoo.remedies) measured by benchmarks/quality.py (docs/stabilizers.md#recipes):
# "stable" and two of its ablations, each measured over three seeds.
RECIPES = {
    "paper": {},
    "stable": {"projection": True, "generator_ema": 0.99, "wrong_pairs": "similar"},
    "stable-gan-cls": {
        "projection": True,
        "generator_ema": 0.99,
        "wrong_pairs": "similar",
        "interp_weight": 0.0,
    },
    "projection-ema": {"projection": True, "generator_ema": 0.99},
}
VARIANTS = ("residual", "plain")
D_LAYOUTS = ("cls_int", "cls")


def _text_projection(condition, text_dim, with_batch_norm, spectral_norm=False):
    """Linear -> [BN] -> LeakyReLU(0.2): the sentence squeezed to `text_dim` (the linear
    layer spectrally normalised with `spectral_norm`)."""
    dense = layers.Dense(text_dim, kernel_initializer=conv_initializer())
    t = spectral_normalization(dense, spectral_norm)(condition)
    if with_batch_norm:
        t = batch_norm()(t)
    return activation("leaky_relu")(t)


def _num_resamples(image_size):
    steps = math.log2(image_size) - 2
    if image_size < 16 or steps != int(steps):
        raise ValueError(
            f"DCGAN-cls needs a power-of-two image_size of at least 16; got {image_size}"
        )
    return int(steps)


def build_generator(
    noise_dim,
    condition_dim,
    image_size=64,
    ngf=128,
    text_dim=128,
    variant="residual",
    text_batch_norm=False,
):
    """G(z, sentence): 1x1 -> 4x4 (ConvT) -> x2 upsamplings (ConvT 4x4 s2) -> tanh image.

    "residual": Reed's code, with bottleneck residual blocks at 4x4 and 8x8.
    "plain": the paper's plain DCGAN, as the common PyTorch port builds it (BN on the text).
    `text_batch_norm` adds BatchNorm to the text projection of the residual variant.
    """
    residual = variant == "residual"
    z = keras.Input((noise_dim,), name="noise")
    condition = keras.Input((condition_dim,), name="condition")
    t = _text_projection(condition, text_dim, with_batch_norm=text_batch_norm or not residual)
    x = layers.Reshape((1, 1, noise_dim + text_dim))(layers.Concatenate()([z, t]))
    x = batch_norm()(conv2d(ngf * 8, 4, padding="valid", transpose=True)(x))
    x = ResidualBlock(ngf * 2, "relu")(x) if residual else layers.ReLU()(x)
    num_up = _num_resamples(image_size)
    for i in range(num_up - 1):
        x = batch_norm()(conv2d(ngf * 2 ** (num_up - 2 - i), 4, 2, transpose=True)(x))
        x = ResidualBlock(ngf, "relu")(x) if residual and i == 0 else layers.ReLU()(x)
    image = layers.Activation("tanh", dtype="float32")(conv2d(3, 4, 2, transpose=True)(x))
    return keras.Model([z, condition], image, name="generator")


def build_discriminator(
    condition_dim,
    image_size=64,
    ndf=64,
    text_dim=128,
    variant="residual",
    layout="cls_int",
    spectral_norm=False,
    with_projection=False,
):
    """D(image, sentence) -> logit: stride-2 convs to 4x4, the text tiled and joined there.

    "residual": Reed's code (a bottleneck residual block at 4x4, then a 1x1 conv over image
    and text features), in the `layout` of main_cls_int.lua ("cls_int": no activation after
    the next-to-last conv, BatchNorm on the text projection) or of main_cls.lua, the COCO
    script's ("cls": LeakyReLU there, no BatchNorm on the text). "plain": the common port.
    `spectral_norm` wraps every convolution and dense layer in SpectralNormalization;
    `with_projection` adds the projection head's term (the sentence against the 4x4 image
    features, before the text joins them) to the logit.
    """
    residual = variant == "residual"
    reed_cls = residual and layout == "cls"
    conv = lambda *args, **kw: conv2d(*args, spectral_norm=spectral_norm, **kw)  # noqa: E731
    image = keras.Input((image_size, image_size, 3), name="image")
    condition = keras.Input((condition_dim,), name="condition")
    num_down = _num_resamples(image_size)
    x = activation("leaky_relu")(conv(ndf, 4, 2)(image))
    for i in range(1, num_down):
        x = batch_norm()(conv(ndf * min(2**i, 8), 4, 2)(x))
        if residual and i == num_down - 1:
            x = ResidualBlock(ndf * 2, "leaky_relu", spectral_norm=spectral_norm)(x)
        elif not (residual and i == num_down - 2) or reed_cls:
            x = activation("leaky_relu")(x)
    features = x
    t = _text_projection(condition, text_dim, not reed_cls, spectral_norm)
    x = layers.Concatenate()([x, tile_spatially(t, 4)])
    if residual:
        x = activation("leaky_relu")(batch_norm()(conv(ndf * 8, 1)(x)))
    logit = layers.Flatten(dtype="float32")(conv(1, 4, padding="valid")(x))
    if with_projection:
        logit = layers.Add(dtype="float32")([logit, projection(features, condition, spectral_norm)])
    return keras.Model([image, condition], logit, name="discriminator")


@keras.saving.register_keras_serializable(package="gan_zoo")
class DCGANCLS(TextToImageGAN):
    """GAN-INT-CLS (Reed et al., ICML 2016), conditioned on the shared TextEncoder's sentence.

    The defaults are the authors' CUB settings; `DCGANCLS.from_preset("coco" or "small", ...)`
    builds their COCO run or a small model for CPU work (`PRESETS`).

    Args:
        vocabulary: a `Vocabulary` (or `embedding_dim=` for precomputed embeddings).
        variant: "residual" (the authors' code) or "plain" (the paper's plain DCGAN).
        ngf, ndf: generator and discriminator widths (COCO: 196 both; small: 32 both).
        text_dim: width the sentence is projected to in G and D.
        wrong_weight: weight of real/wrong in D; fake/right gets 1 - it (cls_weight = 0.5).
        interp_weight: weight of the GAN-INT halfway conditions in G's loss (0 = GAN-CLS,
            the authors' COCO recipe).
        text_batch_norm: BatchNorm on G's text projection. None: on when the TextEncoder is
            trained with the model (its sentence vectors start near zero and grow only
            slowly, so without it G long ignores the caption), off for precomputed
            embeddings, as in the authors' G.
        lr_decay_every: halve both learning rates every that many epochs (COCO: 40).
        d_layout: the residual D of main_cls_int.lua ("cls_int") or of main_cls.lua ("cls",
            the authors' COCO run): see `build_discriminator`.
        damsm: a pretrained `DAMSM` (or the path of its `.keras` file) whose text encoder
            reads the captions, frozen, as the paper reads fixed char-CNN-RNN embeddings.
            Its vocabulary and caption length become the model's.
        damsm_weight: λ of AttnGAN's DAMSM loss (word and sentence matching of G's images
            of the batch's captions, by the DAMSM's image encoder) added to G's loss. 0, the
            paper's, leaves it out; above 0 it needs `damsm`. Not in Reed et al.: a remedy
            that gives G a direct gradient towards each caption word.
        **kwargs: `TextToImageGAN` arguments (image_size, noise_dim, seed, ...).
    """

    PRESETS = PRESETS
    RECIPES = RECIPES
    projection_head = True

    loss_names = ("d_loss", "g_loss", "d_real", "d_wrong", "d_fake", "g_fake", "g_interp")

    def __init__(
        self,
        vocabulary=None,
        variant="residual",
        ngf=128,
        ndf=64,
        text_dim=128,
        wrong_weight=0.5,
        interp_weight=1.0,
        text_batch_norm=None,
        lr_decay_every=100,
        d_layout="cls_int",
        damsm=None,
        damsm_weight=0.0,
        **kwargs,
    ):
        remedies.check_weight("damsm_weight", damsm_weight, "the weight of G's DAMSM loss")
        if damsm_weight and damsm is None:
            raise ValueError(
                f"damsm_weight={damsm_weight} needs damsm=, the pretrained DAMSM whose image "
                "encoder scores G's images (train one with: gan-zoo train --model damsm)."
            )
        if damsm is not None:
            damsm, kwargs = frozen_text_arguments(damsm, vocabulary, kwargs, "DCGAN-cls")
            vocabulary = kwargs.pop("vocabulary")
            damsm.trainable = False
        if variant not in VARIANTS:
            raise ValueError(f"Unknown variant {variant!r}; choose from {VARIANTS}")
        if d_layout not in D_LAYOUTS:
            raise ValueError(f"Unknown d_layout {d_layout!r}; choose from {D_LAYOUTS}")
        super().__init__(vocabulary=vocabulary, lr_decay_every=lr_decay_every, **kwargs)
        self.damsm, self.damsm_weight = damsm, damsm_weight
        self.variant = variant
        self.ngf, self.ndf, self.text_dim = ngf, ndf, text_dim
        self.wrong_weight, self.interp_weight = wrong_weight, interp_weight
        self.d_layout = d_layout
        self.text_batch_norm = (
            self.text_encoder is not None if text_batch_norm is None else text_batch_norm
        )
        self.generator = build_generator(
            self.noise_dim,
            self.condition_dim,
            self.image_size,
            self.ngf,
            self.text_dim,
            variant,
            self.text_batch_norm,
        )
        self.discriminator = build_discriminator(
            self.condition_dim,
            self.image_size,
            self.ndf,
            self.text_dim,
            variant,
            self.d_layout,
            self.remedies.spectral_norm,
            self.remedies.projection,
        )
        self.built = True

    @property
    def logged_names(self):
        damsm = ("w_loss", "s_loss") if self.damsm_weight else ()
        return super().logged_names + damsm

    def run_generator(self, latent, condition, training=False):
        return {"images": {self.image_size: self.generator([latent, condition], training=training)}}

    def discriminator_loss(self, batch):
        images = batch["images"]
        condition = self.sentence_condition(batch, training=True)
        noise = self.sample_latent(batch, ops.shape(images)[0])
        fake = ops.stop_gradient(
            self.generator([noise, ops.stop_gradient(condition)], training=True)
        )
        images, fake = self.discriminator_view(images), self.discriminator_view(fake)
        real_logits, _, penalties = self.remedies.real_pair(
            lambda x, c: (self.discriminator([x, c], training=True), None), images, condition
        )
        order, wrong_mask = self.wrong_pairs(batch, condition)
        wrong_images = ops.take(images, order, axis=0)
        wrong_logits = self.discriminator([wrong_images, condition], training=True)
        fake_logits = self.discriminator([fake, condition], training=True)
        loss = losses.matching_aware_discriminator_loss(
            real_logits,
            wrong_logits,
            fake_logits,
            self.wrong_weight,
            wrong_mask,
            self.real_label,
            self.remedies.adversarial_loss,
        )
        return remedies.with_penalties(*loss, penalties)

    def generator_loss(self, batch):
        """Fooling D on right pairs, plus GAN-INT: B/2 halfway conditions (t_a + t_b) / 2,
        plus λ · DAMSM(the images of the batch's captions) with `damsm_weight`.

        As in the authors' code, one batch of 1.5·B conditions is generated and the per-image
        losses are averaged over all of them, the halfway ones weighted by interp_weight.
        """
        if self.damsm_weight:  # the DAMSM's frozen encoder: its words serve the DAMSM loss
            words, sentences, mask = self.text_encoder(batch["tokens"], training=False)
            condition = ops.stop_gradient(sentences)
        else:
            condition = ops.stop_gradient(self.sentence_condition(batch, training=True))
        batch_size = ops.shape(condition)[0]
        half = batch_size // 2 if self.interp_weight else 0
        halfway = 0.5 * (condition[:half] + condition[half : 2 * half])
        condition = ops.concatenate([condition, halfway], axis=0)
        fake = self.generator(
            [self.sample_latent(batch, batch_size + half), condition], training=True
        )
        logits = ops.reshape(
            self.discriminator([self.discriminator_view(fake), condition], training=True), (-1,)
        )
        weights = ops.concatenate(
            [ops.ones((batch_size,)), ops.full((half,), float(self.interp_weight))]
        )
        loss = self.remedies.adversarial_loss
        parts = {
            "g_fake": losses.generator_loss(logits[:batch_size], loss=loss),
            "g_interp": losses.generator_loss(logits[batch_size:], loss=loss)
            if self.interp_weight
            else ops.zeros(()),
        }
        total = losses.generator_loss(logits, weights, loss)
        if self.damsm_weight:
            _, damsm_parts = self.damsm.image_text_loss(
                fake[:batch_size], (words, sentences, mask), batch.get("labels")
            )
            parts.update(damsm_parts)
            total += self.damsm_weight * (parts["w_loss"] + parts["s_loss"])
        return total, parts

    def get_config(self):
        config = super().get_config()
        config.update(
            variant=self.variant,
            ngf=self.ngf,
            ndf=self.ndf,
            text_dim=self.text_dim,
            wrong_weight=self.wrong_weight,
            interp_weight=self.interp_weight,
            text_batch_norm=self.text_batch_norm,
            d_layout=self.d_layout,
            damsm_weight=self.damsm_weight,
        )
        if self.damsm is not None:  # the text encoder, vocabulary and length are the DAMSM's
            for key in (
                "vocabulary",
                "embedding_dim",
                "max_length",
                "train_text_encoder",
                "text_encoder",
            ):
                config.pop(key)
            config["damsm"] = keras.saving.serialize_keras_object(self.damsm)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_entry(config, "damsm"))
