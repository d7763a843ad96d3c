"""AttnGAN: Xu et al., "AttnGAN: Fine-Grained Text to Image Generation with Attentional
Generative Adversarial Networks" (CVPR 2018).

A first stage paints a coarse image from the sentence; each later stage doubles it, after
every region has gathered the words that concern it (word attention). A discriminator per
stage judges each image alone and with its sentence, and a pretrained, frozen DAMSM scores
how well the last image matches the caption word by word. Widths, blocks, losses and
hyperparameters follow the authors' code (`model.py`, `trainer.py`, `cfg/bird_attn2.yml`).
"""

import keras
from keras import layers, ops

from gan_zoo import losses
from gan_zoo.layers import (
    ResidualBlock,
    WordAttention,
    activation,
    batch_norm,
    condition_on_text,
    conv_initializer,
    to_image,
    up_block,
)
from gan_zoo.models import generation
from gan_zoo.models.base import TextToImageGAN
from gan_zoo.models.damsm import frozen_text_arguments
from gan_zoo.models.discriminator import ConditionalDiscriminator, doublings
from gan_zoo.models.presets import deserialize_entry

# The authors' cfg/bird_attn2.yml ("birds", the defaults) and coco_attn2.yml, and a small
# model for CPU work (see `gan_zoo.models.presets`). generator_ema: the authors' moving average
# of G's weights (0.999); off for the short runs the small preset is for, where an average
# without bias correction stays near the start.
PRESETS = {
    "birds": {
        "gf": 32,
        "df": 64,
        "r_num": 2,
        "stages": 3,
        "base_size": 64,
        "damsm_weight": 5.0,
        "generator_ema": 0.999,
    },
    "coco": {
        "gf": 48,
        "df": 96,
        "r_num": 3,
        "stages": 3,
        "base_size": 64,
        "damsm_weight": 50.0,
        "generator_ema": 0.999,
    },
    "small": {
        "gf": 16,
        "df": 16,
        "r_num": 1,
        "stages": 2,
        "base_size": 16,
        "damsm_weight": 5.0,
        "generator_ema": None,
    },
}
INIT = "orthogonal"  # the authors' weights_init for every conv and linear of G and D


def build_generator(
    noise_dim,
    sentence_dim,
    word_dim,
    max_length,
    gf=32,
    r_num=2,
    stages=3,
    base_size=64,
    c_dim=100,
    text_batch_norm=False,
):
    """[z, sentence, words, word mask, ε]
    -> [image per stage..., attention per later stage..., μ, log σ²].

    Stage 0 (INIT_STAGE_G): [text BatchNorm,] GLU conditioning augmentation, FC -> 4x4, GLU
    up-blocks to `base_size` with `gf` channels. Each later stage (NEXT_STAGE_G): word
    attention, the context joined to the features, `r_num` GLU residual blocks, one up-block.
    Every stage draws its image with conv3x3 -> tanh.
    """
    z = keras.Input((noise_dim,), name="noise")
    sentence = keras.Input((sentence_dim,), name="sentence")
    words = keras.Input((max_length, word_dim), name="words")
    mask = keras.Input((max_length,), name="word_mask")
    eps = keras.Input((c_dim,), name="ca_noise")
    c, mu, logvar = condition_on_text(sentence, eps, c_dim, "glu", text_batch_norm, INIT)
    up_steps = doublings(base_size / 4, "AttnGAN's first stage size from 4x4")
    width = gf * 2**up_steps
    x = layers.Dense(
        4 * 4 * width * 2, use_bias=False, kernel_initializer=conv_initializer(INIT), name="fc"
    )(layers.Concatenate()([c, z]))
    x = layers.Reshape((4, 4, width))(activation("glu")(batch_norm("fc_bn")(x)))
    for step in range(1, up_steps + 1):
        width //= 2
        x = up_block(x, width, "glu", INIT, name=f"stage0_up{step}")
    images, maps = [to_image(x, INIT, name="image_0")], []
    for stage in range(1, stages):
        context, attention = WordAttention(initializer=INIT, name=f"attention_{stage}")(
            x, words, mask
        )
        x = layers.Concatenate()([x, context])
        for block in range(r_num):
            x = ResidualBlock(
                activation="glu",
                activate_output=False,
                initializer=INIT,
                name=f"stage{stage}_residual{block}",
            )(x)
        x = up_block(x, gf, "glu", INIT, name=f"stage{stage}_up")
        images.append(to_image(x, INIT, name=f"image_{stage}"))
        maps.append(attention)
    return keras.Model(
        [z, sentence, words, mask, eps], images + maps + [mu, logvar], name="generator"
    )


@keras.saving.register_keras_serializable(package="gan_zoo")
class AttnGAN(TextToImageGAN):
    """AttnGAN over a pretrained DAMSM, whose text encoder (frozen) conditions it.

    The defaults are the authors' CUB settings; `AttnGAN.from_preset("coco" or "small", ...)`
    builds their COCO configuration or a small model for CPU work (`PRESETS`).

    Args:
        damsm: the pretrained `DAMSM` or the path of its `.keras` file. Its vocabulary,
            caption length and text encoder are the model's; it is shared and frozen in place.
        vocabulary: optional; must equal the DAMSM's.
        gf, df: generator and discriminator widths (COCO: 48 and 96; small: 16 both).
        r_num: GLU residual blocks in each later stage (COCO: 3; small: 1).
        stages: generator stages, each doubling the image (small: 2).
        base_size: the first stage's image size (small: 16).
        damsm_weight: λ, the weight of the DAMSM loss in G's (COCO: 50).
        generator_ema: as in `TextToImageGAN` (the authors save and sample from such an
            average; the small preset turns it off); None or 0 turns it off.
        c_dim: conditioning-augmentation width.
        kl_weight: weight of the KL term.
        text_batch_norm: BatchNorm on the sentence vector before conditioning augmentation
            (the authors have none). A DAMSM trained here gives sentence vectors ~10x smaller
            than the CA noise: without it μ starts near 0, the KL term keeps it there, and the
            first stage draws without the caption.
        image_size: optional, checked: the image size is base_size · 2^(stages - 1) (256 px
            by default; small: 32).
        **kwargs: `TextToImageGAN` arguments (noise_dim, learning_rate, seed, ...).
    """

    PRESETS = PRESETS

    loss_names = (
        "d_loss",
        "g_loss",
        "d_real",
        "d_wrong",
        "d_fake",
        "d_real_uncond",
        "d_fake_uncond",
        "g_fake",
        "g_fake_uncond",
        "w_loss",
        "s_loss",
        "kl",
    )

    def __init__(
        self,
        damsm=None,
        vocabulary=None,
        gf=32,
        df=64,
        r_num=2,
        stages=3,
        base_size=64,
        damsm_weight=5.0,
        generator_ema=0.999,
        c_dim=100,
        kl_weight=1.0,
        text_batch_norm=True,
        image_size=None,
        **kwargs,
    ):
        damsm, text = frozen_text_arguments(damsm, vocabulary, kwargs, "AttnGAN")
        expected = base_size * 2 ** (stages - 1)
        if image_size is not None and image_size != expected:
            raise ValueError(
                f"image_size {image_size} does not fit {stages} stages from {base_size} px: "
                f"it must be {expected} (base_size · 2^(stages - 1))."
            )
        super().__init__(image_size=expected, generator_ema=generator_ema, **text)
        self.damsm = damsm
        self.damsm.trainable = False
        self.c_dim, self.kl_weight = c_dim, kl_weight
        self.text_batch_norm = text_batch_norm
        self.gf, self.df, self.r_num = gf, df, r_num
        self.stages, self.base_size, self.damsm_weight = stages, base_size, damsm_weight
        self.stage_sizes = [self.base_size * 2**k for k in range(self.stages)]
        dim = self.text_encoder.output_dim
        self.generator = build_generator(
            self.noise_dim,
            dim,
            dim,
            self.max_length,
            self.gf,
            self.r_num,
            self.stages,
            self.base_size,
            c_dim,
            text_batch_norm,
        )
        self.discriminators = [
            ConditionalDiscriminator(
                size,
                self.df,
                dim,
                unconditional=True,
                initializer=INIT,
                spectral_norm=self.remedies.spectral_norm,
                name=f"discriminator_{size}",
            )
            for size in self.stage_sizes
        ]
        self.built = True

    @property
    def latent_widths(self):
        """z, then the conditioning-augmentation noise."""
        return [self.noise_dim, self.c_dim]

    @property
    def discriminator_variables(self):
        return [v for d in self.discriminators for v in d.trainable_variables]

    # ----------------------------------------------------------------- conditioning
    def text_features(self, tokens):
        """(words, sentence, mask) from the frozen text encoder, in inference mode."""
        words, sentence, mask = self.text_encoder(tokens, training=False)
        return ops.stop_gradient(words), ops.stop_gradient(sentence), mask

    def encode_captions(self, captions):
        tokens = self.vocabulary.encode(captions, self.max_length)
        words, sentence, mask = (
            ops.convert_to_numpy(t) for t in self.text_encoder(tokens, training=False)
        )
        return {"sentence": sentence, "words": words, "mask": mask}

    def encode_embeddings(self, embeddings):
        raise ValueError(
            "AttnGAN attends to the words of a caption, so it needs the captions "
            "themselves; sentence embeddings alone cannot condition it."
        )

    def run_generator(self, latent, condition, training=False):
        """{"images": {size: images} per stage, "attention": a map per later stage, "mu",
        "logvar"}; the condition is `encode_captions`' dict of sentence, words and mask."""
        latent = ops.convert_to_tensor(latent)
        z, eps = latent[:, : self.noise_dim], latent[:, self.noise_dim :]
        mask = ops.cast(condition["mask"], "float32")
        sentence, words = (ops.convert_to_tensor(condition[k]) for k in ("sentence", "words"))
        out = self.generator([z, sentence, words, mask, eps], training=training)
        return {
            "images": dict(zip(self.stage_sizes, out[: self.stages])),
            "attention": list(out[self.stages : -2]),
            "mu": out[-2],
            "logvar": out[-1],
        }

    def generate(
        self,
        captions=None,
        seed=None,
        num_per_caption=1,
        embeddings=None,
        batch_size=64,
        return_stages=False,
        truncation=None,
        return_attention=False,
    ):
        """As `TextToImageGAN.generate`; with `return_attention=True`, returns (images, maps):
        one float32 [N, T, h, w] map per attention stage, each word's weight over the image."""
        outputs = self.generate_outputs(
            captions, seed, num_per_caption, embeddings, batch_size, truncation
        )
        images = generation.stage_images(outputs["images"], return_stages)
        return (images, outputs["attention"]) if return_attention else images

    # ----------------------------------------------------------------- losses
    def _fake(self, batch):
        words, sentence, mask = self.text_features(batch["tokens"])
        condition = {"sentence": sentence, "words": words, "mask": mask}
        latent = self.sample_latent(batch, ops.shape(sentence)[0])
        out = self.run_generator(latent, condition, training=True)
        return list(out["images"].values()), (words, sentence, mask), out["mu"], out["logvar"]

    def real_images(self, batch):
        """The batch's images at every stage's size, shrunk from the largest by averaging each
        2^k x 2^k block: the authors resize their 256 px crop with PIL's (antialiased) bilinear;
        block averaging is as smooth and, unlike an antialiased resize, compiles under XLA."""
        images = batch["images"]
        return [
            images
            if size == self.image_size
            else ops.average_pool(images, self.image_size // size, self.image_size // size)
            for size in self.stage_sizes
        ]

    def discriminator_loss(self, batch):
        """Σ stages ½(real_c + real_u) + ⅓(fake_c + wrong_c + fake_u), each D conditioned on the
        sentence vector; wrong pairs reuse the real images' features (`wrong_pairs`)."""
        fakes, (_, sentence, _), _, _ = self._fake(batch)
        wrong = self.wrong_pairs(batch, sentence)
        total, parts = 0.0, {}
        for d, real, fake in zip(self.discriminators, self.real_images(batch), fakes):
            loss, stage_parts = d.discriminator_loss(
                self.discriminator_view(real),
                self.discriminator_view(ops.stop_gradient(fake)),
                sentence,
                wrong,
                self.real_label,
                self.remedies,
            )
            total += loss
            for name, value in stage_parts.items():
                parts[name] = parts.get(name, 0.0) + value / self.stages
        return total, parts

    def generator_loss(self, batch):
        """Σ stages (fool the conditional + the unconditional head) + λ · DAMSM(last image) + KL."""
        fakes, (words, sentence, mask), mu, logvar = self._fake(batch)
        parts = {"g_fake": 0.0, "g_fake_uncond": 0.0}
        loss = self.remedies.adversarial_loss
        for d, fake in zip(self.discriminators, fakes):
            view = self.discriminator_view(fake)
            for name, value in d.generator_losses(view, sentence, loss).items():
                parts[name] += value
        _, damsm_parts = self.damsm.image_text_loss(
            fakes[-1], (words, sentence, mask), batch.get("labels")
        )
        parts.update(damsm_parts, kl=losses.kl_divergence(mu, logvar))
        total = (
            parts["g_fake"]
            + parts["g_fake_uncond"]
            + self.damsm_weight * (parts["w_loss"] + parts["s_loss"])
            + self.kl_weight * parts["kl"]
        )
        return total, parts

    # ----------------------------------------------------------------- saving
    def get_config(self):
        config = super().get_config()
        for key in (
            "vocabulary",
            "embedding_dim",
            "image_size",
            "max_length",
            "train_text_encoder",
            "text_encoder",
        ):
            config.pop(key)  # they come from the DAMSM, the image size from the stages
        config.update(
            damsm=keras.saving.serialize_keras_object(self.damsm),
            gf=self.gf,
            df=self.df,
            r_num=self.r_num,
            stages=self.stages,
            base_size=self.base_size,
            damsm_weight=self.damsm_weight,
            c_dim=self.c_dim,
            kl_weight=self.kl_weight,
            text_batch_norm=self.text_batch_norm,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_entry(config, "damsm"))
