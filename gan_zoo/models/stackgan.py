"""StackGAN: Zhang et al., "StackGAN: Text to Photo-realistic Image Synthesis with Stacked
Generative Adversarial Networks" (ICCV 2017).

Stage-I sketches a 64x64 image from z and a conditioning-augmented sentence code; Stage-II
re-reads that sketch together with the text and paints it at 256x256. Widths, blocks, losses
and hyperparameters follow the authors' StackGAN-Pytorch (`model.py`, `trainer.py`, `cfg/`).
"""

import os

import keras
from keras import layers, ops

from gan_zoo import losses
from gan_zoo.layers import (
    ResidualBlock,
    batch_norm,
    condition_on_text,
    conv2d,
    conv_initializer,
    tile_spatially,
    to_image,
    up_block,
)
from gan_zoo.models.base import TextToImageGAN
from gan_zoo.models.discriminator import ConditionalDiscriminator, doublings
from gan_zoo.models.presets import deserialize_entry, preset_settings

# TF StackGAN birds halves the learning rates every 50 epochs in Stage-I, every 100 in Stage-II
LR_DECAY_EVERY = {1: 50, 2: 100}
# Stage-II's last up-block has gf/4 channels: a Stage-II on a narrower Stage-I widens to this
STAGE2_MIN_GF = 64
# Settings of both stages, then each stage's own (see `gan_zoo.models.presets`)
PRESETS = {
    # StackGAN-Pytorch / TF StackGAN birds: the defaults
    "birds": {
        "gf": 128,
        "df": 64,
        "c_dim": 128,
        "r_num": 4,
        "stage1": {"lr_decay_every": LR_DECAY_EVERY[1]},
        "stage2": {"lr_decay_every": LR_DECAY_EVERY[2]},
    },
    # StackGAN-Pytorch coco_s1/s2.yml, which halve the learning rates every 20 epochs
    "coco": {"gf": 192, "df": 96, "c_dim": 128, "r_num": 2, "lr_decay_every": 20},
    # for CPU work; Stage-II's gf is 64 (16 would leave it 4 channels at the end)
    "small": {
        "gf": 16,
        "df": 16,
        "c_dim": 32,
        "r_num": 1,
        "stage1": {"lr_decay_every": LR_DECAY_EVERY[1]},
        "stage2": {"gf": STAGE2_MIN_GF, "lr_decay_every": LR_DECAY_EVERY[2]},
    },
}


def build_stage1_generator(
    noise_dim, embedding_dim, image_size=64, gf=128, c_dim=128, text_batch_norm=False
):
    """[z, embedding, ε] -> [image, μ, log σ²]: CA, FC to 4x4x(8·gf), upBlocks to the size."""
    z = keras.Input((noise_dim,), name="noise")
    embedding = keras.Input((embedding_dim,), name="embedding")
    eps = keras.Input((c_dim,), name="ca_noise")
    c, mu, logvar = condition_on_text(embedding, eps, c_dim, text_batch_norm=text_batch_norm)
    x = layers.Dense(
        4 * 4 * gf * 8, use_bias=False, kernel_initializer=conv_initializer(), name="fc"
    )(layers.Concatenate()([z, c]))
    x = layers.Reshape((4, 4, gf * 8))(layers.ReLU()(batch_norm("fc_bn")(x)))
    for i in range(doublings(image_size / 4, "Stage-I's image size from 4x4")):
        x = up_block(x, gf * 8 // 2 ** (i + 1), name=f"up{i + 1}")
    return keras.Model(
        [z, embedding, eps], [to_image(x, name="image"), mu, logvar], name="stage1_generator"
    )


def build_stage2_generator(
    stage1_generator,
    noise_dim,
    embedding_dim,
    image_size=256,
    gf=128,
    c_dim=128,
    r_num=4,
    text_batch_norm=False,
):
    """[z, embedding, ε1, ε2] -> [image, Stage-I image, μ, log σ²].

    The frozen Stage-I generator sketches; an encoder takes the sketch down 4x to gf·4
    channels, the tiled CA code joins it (hr_joint), `r_num` residual blocks and upBlocks
    follow.
    """
    low_size = stage1_generator.outputs[0].shape[1]
    z = keras.Input((noise_dim,), name="noise")
    embedding = keras.Input((embedding_dim,), name="embedding")
    eps1 = keras.Input((stage1_generator.inputs[2].shape[-1],), name="stage1_ca_noise")
    eps2 = keras.Input((c_dim,), name="ca_noise")
    # Frozen by the caller (trainable=False), which is also what keeps its BatchNorm on its
    # moving statistics: a training=False here would be overridden by the outer call's.
    low, _, _ = stage1_generator([z, embedding, eps1])
    c, mu, logvar = condition_on_text(embedding, eps2, c_dim, text_batch_norm=text_batch_norm)
    x = layers.ReLU()(conv2d(gf, 3, name="encoder_conv0")(low))
    for i, width in enumerate((gf * 2, gf * 4), start=1):
        x = layers.ReLU()(
            batch_norm(f"encoder_bn{i}")(conv2d(width, 4, strides=2, name=f"encoder_conv{i}")(x))
        )
    x = layers.Concatenate()([x, tile_spatially(c, low_size // 4)])
    x = layers.ReLU()(batch_norm("joint_bn")(conv2d(gf * 4, 3, name="joint_conv")(x)))
    for i in range(r_num):
        x = ResidualBlock(activation="relu", name=f"residual{i}")(x)
    for i in range(
        doublings(image_size / (low_size // 4), "Stage-II's image size from its 16x16 code")
    ):
        x = up_block(x, gf * 4 // 2 ** (i + 1), name=f"up{i + 1}")
    return keras.Model(
        [z, embedding, eps1, eps2],
        [to_image(x, name="image"), low, mu, logvar],
        name="stage2_generator",
    )


@keras.saving.register_keras_serializable(package="gan_zoo")
class StackGAN(TextToImageGAN):
    """StackGAN Stage-I (`stage=1`, 64 px) or Stage-II (`stage=2`, 256 px, Stage-I frozen).

    Stage-I's defaults are the authors' birds settings; `StackGAN.from_preset("coco" or
    "small", stage=..., ...)` builds their COCO configuration or a small model for CPU work
    (`PRESETS`). A Stage-II's widths and schedule default to its Stage-I's, as the authors
    pair their configurations.

    Args:
        vocabulary: a `Vocabulary` (or `embedding_dim=` for precomputed embeddings such as the
            authors' 1024-d char-CNN-RNN vectors). Stage-II takes both from its Stage-I.
        stage: 1 or 2.
        stage1: for stage 2, the trained Stage-I `StackGAN` or the path of its `.keras` file.
            Its generator (run in inference mode) and text encoder are shared and frozen in
            place, as in Keras transfer learning: the Stage-I model itself no longer trains.
        gf: generator width (GF). None: 128 in Stage-I; in Stage-II its Stage-I's, at least
            64 (its last up-block has gf/4 channels).
        df: discriminator width (DF). None: 64 in Stage-I; in Stage-II its Stage-I's.
        c_dim: conditioning-augmentation width. None: 128 in Stage-I; in Stage-II its
            Stage-I's (the shape `start_from_stage1_conditioning` copies into).
        r_num: Stage-II's residual blocks (Stage-I has none and keeps it for its Stage-II).
            None: 4 in Stage-I; in Stage-II its Stage-I's.
        kl_weight: weight of the conditioning-augmentation KL term (2.0 in every config).
        text_batch_norm: BatchNorm on the sentence vector before conditioning augmentation.
            None: on with a text encoder (the model's own TextEncoder's sentence vectors start
            ~100x smaller than the CA noise, so G would see noise only; a hub encoder's have
            their own scale); off for precomputed embeddings, as in the authors' code.
        lr_decay_every: halve both learning rates every that many epochs. None: 50 in
            Stage-I; in Stage-II 100 after a Stage-I on those 50 (the authors' birds
            schedule), else its Stage-I's (COCO: 20 in both).
        start_from_stage1_conditioning: Stage-II's conditioning augmentation (and text
            BatchNorm) start as copies of Stage-I's trained layers where their shapes match.
            The authors start them afresh; then the KL term pulls μ to 0 before D, which is
            conditioned on μ, learns to match captions, and Stage-II ignores the text.
        image_size: None: 64 in Stage-I, 4x its Stage-I's in Stage-II.
        embedding_dim: precomputed embeddings' width (Stage-II: its Stage-I's).
        **kwargs: `TextToImageGAN` arguments (noise_dim, seed, ...).
    """

    PRESETS = PRESETS
    projection_head = True
    lr_decay_offset = 0  # the authors' trainer halves at 0-based epochs 50, 100, ...

    def __init__(
        self,
        vocabulary=None,
        stage=1,
        stage1=None,
        gf=None,
        df=None,
        c_dim=None,
        r_num=None,
        kl_weight=2.0,
        text_batch_norm=None,
        lr_decay_every=None,
        start_from_stage1_conditioning=True,
        image_size=None,
        embedding_dim=None,
        **kwargs,
    ):
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2; got {stage!r}")
        if stage == 2:
            stage1 = _load_stage1(stage1)
            if embedding_dim is not None and embedding_dim != stage1.condition_dim:
                raise ValueError(
                    f"embedding_dim={embedding_dim} does not match the Stage-I model's "
                    f"condition size {stage1.condition_dim}."
                )
            if (
                vocabulary is not None
                and stage1.vocabulary is not None
                and vocabulary != stage1.vocabulary
            ):
                raise ValueError("The vocabulary differs from the Stage-I model's.")
            if kwargs.get("text_encoder") is not None:
                raise ValueError(
                    "Stage-II reads captions with its Stage-I's text encoder; it takes no "
                    "text_encoder= of its own."
                )
            vocabulary, embedding_dim = stage1.vocabulary, stage1.embedding_dim
            image_size = image_size or stage1.image_size * 4
            kwargs.update(
                text_encoder=stage1.text_encoder,
                train_text_encoder=False,
                noise_dim=stage1.noise_dim,
                max_length=stage1.max_length,
            )
            defaults = _stage2_defaults(stage1)
        elif stage1 is not None:
            raise ValueError("stage1= is only for stage=2.")
        else:
            defaults = preset_settings(StackGAN, "birds", part="stage1")  # the authors' CUB
        given = dict(gf=gf, df=df, c_dim=c_dim, r_num=r_num, lr_decay_every=lr_decay_every)
        settings = {k: defaults[k] if v is None else v for k, v in given.items()}
        super().__init__(
            vocabulary=vocabulary,
            embedding_dim=embedding_dim,
            image_size=image_size or 64,
            lr_decay_every=settings["lr_decay_every"],
            **kwargs,
        )
        self.stage, self.kl_weight = stage, kl_weight
        self.text_batch_norm = (
            self.text_encoder is not None if text_batch_norm is None else text_batch_norm
        )
        self.gf, self.df, self.c_dim, self.r_num = (
            settings["gf"],
            settings["df"],
            settings["c_dim"],
            settings["r_num"],
        )
        if stage == 1:
            self.generator = build_stage1_generator(
                self.noise_dim,
                self.condition_dim,
                self.image_size,
                self.gf,
                self.c_dim,
                self.text_batch_norm,
            )
        else:
            self.stage1_config = keras.saving.serialize_keras_object(stage1)
            stage1.generator.trainable = False
            self.generator = build_stage2_generator(
                stage1.generator,
                self.noise_dim,
                self.condition_dim,
                self.image_size,
                self.gf,
                self.c_dim,
                self.r_num,
                self.text_batch_norm,
            )
            self.start_from_stage1_conditioning = start_from_stage1_conditioning
            if start_from_stage1_conditioning:
                _copy_conditioning(stage1.generator, self.generator)
        self.discriminator = ConditionalDiscriminator(
            self.image_size,
            self.df,
            self.c_dim,
            unconditional=stage == 2,
            spectral_norm=self.remedies.spectral_norm,
            with_projection=self.remedies.projection,
            name="discriminator",
        )
        self.built = True

    @property
    def loss_names(self):
        names = ["d_loss", "g_loss", "d_real", "d_wrong", "d_fake", "g_fake", "kl"]
        if self.stage == 2:
            names += ["d_real_uncond", "d_fake_uncond", "g_fake_uncond"]
        return tuple(names)

    @property
    def latent_widths(self):
        """z, then the conditioning-augmentation noise of each stage (Stage-I's first)."""
        return [self.noise_dim] + [inp.shape[-1] for inp in self.generator.inputs[2:]]

    def run_generator(self, latent, condition, training=False):
        """Splits the latent into z and the CA noises and runs G: {"images": {size: images}
        (Stage-II: its Stage-I's too), "mu", "logvar"}."""
        pieces, start = [], 0
        for width in self.latent_widths:
            pieces.append(latent[:, start : start + width])
            start += width
        out = self.generator([pieces[0], condition, *pieces[1:]], training=training)
        images = {self.image_size: out[0]}
        if self.stage == 2:
            images = {out[1].shape[1]: out[1], **images}
        return {"images": images, "mu": out[-2], "logvar": out[-1]}

    def _fake(self, batch, text_gradient):
        """(image, μ, log σ², sentence) from G for a batch. With `text_gradient`, the text
        encoder gets gradients through μ (the D step: D's loss trains the encoder, through the
        CA layer, whose own weights only the G step updates); else the sentence is a constant."""
        condition = self.sentence_condition(batch, training=True)
        if not text_gradient:
            condition = ops.stop_gradient(condition)
        batch_size = ops.shape(condition)[0]
        out = self.run_generator(self.sample_latent(batch, batch_size), condition, training=True)
        return out["images"][self.image_size], out["mu"], out["logvar"], condition

    def discriminator_loss(self, batch):
        """Stage-I: real + ½(wrong + fake). Stage-II: ½(real_c + real_u) + ⅓(fake_c + wrong_c +
        fake_u). D is conditioned on μ; wrong pairs reuse the real images' features, as the
        authors' loss does."""
        fake, mu, _, sentence = self._fake(batch, text_gradient=True)
        return self.discriminator.discriminator_loss(
            self.discriminator_view(batch["images"]),
            self.discriminator_view(ops.stop_gradient(fake)),
            mu,
            self.wrong_pairs(batch, sentence),
            self.real_label,
            self.remedies,
        )

    def generator_loss(self, batch):
        """Fool D's conditional (and, in Stage-II, unconditional) head, plus kl_weight · KL."""
        fake, mu, logvar, _ = self._fake(batch, text_gradient=False)
        parts = self.discriminator.generator_losses(
            self.discriminator_view(fake), ops.stop_gradient(mu), self.remedies.adversarial_loss
        )
        parts["kl"] = losses.kl_divergence(mu, logvar)
        total = sum(v for k, v in parts.items() if k != "kl") + self.kl_weight * parts["kl"]
        return total, parts

    def get_config(self):
        config = super().get_config()
        config.update(
            stage=self.stage,
            gf=self.gf,
            df=self.df,
            c_dim=self.c_dim,
            r_num=self.r_num,
            kl_weight=self.kl_weight,
            text_batch_norm=self.text_batch_norm,
        )
        if self.stage == 2:
            for key in (
                "vocabulary",
                "embedding_dim",
                "noise_dim",
                "max_length",
                "train_text_encoder",
                "text_encoder",
            ):
                config.pop(key)  # they come from Stage-I
            config["stage1"] = self.stage1_config
            config["start_from_stage1_conditioning"] = self.start_from_stage1_conditioning
        return config

    @classmethod
    def from_preset(cls, preset, stage=None, recipe="paper", **kwargs):
        """As `TextToImageGAN.from_preset`, for `stage` (default 1): a named preset's settings
        of both stages with its own stage's over them (e.g. the small Stage-II's gf 64); a
        Stage-II's `stage1=` is given in `kwargs`. A saved preset holds its stage, which a
        `stage` given must equal."""
        if preset not in cls.PRESETS:
            model = super().from_preset(preset, recipe=recipe, **kwargs)
            if stage not in (None, model.stage):
                raise ValueError(
                    f"The preset {preset} holds a Stage-{model.stage} StackGAN, not stage {stage}."
                )
            return model
        settings = preset_settings(cls, preset, part=f"stage{stage or 1}", recipe=recipe)
        return cls(stage=stage or 1, **{**settings, **kwargs})

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_entry(config, "stage1"))


def _stage2_defaults(stage1):
    """The settings a Stage-II takes from its Stage-I where none are given: Stage-I's widths
    (gf at least STAGE2_MIN_GF) and schedule, the birds Stage-I's 50 epochs becoming the birds
    Stage-II's 100. On a preset's Stage-I, these are that preset's Stage-II settings."""
    every = stage1.lr_decay_every
    return {
        "gf": max(stage1.gf, STAGE2_MIN_GF),
        "df": stage1.df,
        "c_dim": stage1.c_dim,
        "r_num": stage1.r_num,
        "lr_decay_every": LR_DECAY_EVERY[2] if every == LR_DECAY_EVERY[1] else every,
    }


def _copy_conditioning(source, target):
    """Copies the text BatchNorm and CA layers from one generator to another where shapes match."""
    for name in ("text_bn", "ca"):
        try:
            from_layer, to_layer = source.get_layer(name), target.get_layer(name)
        except ValueError:
            continue
        if [w.shape for w in from_layer.weights] == [w.shape for w in to_layer.weights]:
            to_layer.set_weights(from_layer.get_weights())


def _load_stage1(stage1):
    """A Stage-I StackGAN, given or loaded from a .keras path; anything else is an error."""
    if isinstance(stage1, (str, os.PathLike)):
        if not os.path.exists(stage1):
            raise FileNotFoundError(f"No Stage-I model at {stage1}")
        stage1 = keras.models.load_model(stage1)
    if not isinstance(stage1, StackGAN) or stage1.stage != 1:
        raise ValueError(
            "stage=2 needs stage1=, a trained Stage-I StackGAN (or its .keras path); "
            f"got {type(stage1).__name__}."
        )
    return stage1
