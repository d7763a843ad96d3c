"""TextToImageGAN: what every text-to-image GAN here shares.

The adversarial step (the discriminator's update, then the generator's), the two players'
optimizers, the conditioning helpers the losses use, and the config saved in `.keras` files
(`generate` and `interpolate` come from `generation.CaptionedGeneration`). Subclasses say
only what differs: their networks (`run_generator`) and their two losses.
"""

import keras
from keras import ops

from gan_zoo import losses, remedies, stabilizers, training
from gan_zoo.models import checks, generation, moving_average
from gan_zoo.models.captioned_model import CaptionedImageModel
from gan_zoo.models.presets import preset_settings
from gan_zoo.text import Vocabulary, text_encoder_for
from gan_zoo.text.encoder import text_config
from gan_zoo.text.hub import hub_text_arguments
from gan_zoo.training.optimizers import player_optimizers

# The constructor arguments `get_config` saves as the attributes of the same name.
CONFIG_ATTRIBUTES = (
    "name", "embedding_dim", "image_size", "noise_dim", "max_length", "learning_rate", "beta_1",
    "beta_2", "lr_decay_every", "lr_decay_factor", "train_text_encoder", "seed",
    "label_smoothing", "instance_noise", "instance_noise_steps",
)  # fmt: skip


class TextToImageGAN(CaptionedImageModel, generation.CaptionedGeneration):
    """Base class of the zoo's GANs. Batches are dicts {"images", "tokens" or "embeddings"}.

    Args:
        vocabulary: the `Vocabulary` captions are encoded with; the model then owns a
            `TextEncoder`. Give `embedding_dim` instead for precomputed sentence embeddings,
            or neither with a `HubTextEncoder`, whose tokenizer is then the vocabulary.
        embedding_dim: width of precomputed sentence embeddings (batches carry "embeddings").
        image_size: side of the generated images.
        noise_dim: size of z ~ N(0, 1).
        max_length: caption length in tokens (AttnGAN's WORDS_NUM, 18 by default; a
            `HubTextEncoder`'s own sequence length).
        learning_rate, beta_1, beta_2: the default Adam of both players.
        lr_decay_every, lr_decay_factor: multiply both learning rates by the factor every
            that many epochs (0 = never), as the authors' training scripts do.
        seed: seeds the noise drawn in training and the text encoder's dropout. Initial
            weights follow Keras's global seed: call `keras.utils.set_random_seed` before
            building for identical ones (`gan-zoo train --seed` does).
        text_encoder: an existing `TextEncoder` to use (shared with another model) instead of
            a new one, or a dict of a new one's settings (embedding_dim, hidden_dim, dropout,
            seed), as `get_config` saves them; or a `HubTextEncoder` (a keras-hub CLIP or
            BERT, docs/text_encoders.md), given without a vocabulary.
        train_text_encoder: False keeps the encoder frozen and runs it with training=False,
            as for a pretrained encoder or one shared with an already trained model.
        label_smoothing: one-sided label smoothing, D's real target 1 - it (0 = off, as in
            the papers; 0.1 is the usual choice). See `gan_zoo.stabilizers`.
        instance_noise: σ of Gaussian noise on every image D sees, annealed linearly to 0 over
            `instance_noise_steps` steps (0 = off, as in the papers).
        generator_ema: momentum of a moving average of G's weights, kept by the default G
            optimizer (Keras's `use_ema`), which replaces them when `fit` ends (None or 0 = off;
            AttnGAN's default: the authors' 0.999).
        adversarial_loss, spectral_norm, r1_gamma, ma_gp, diff_augment, g_learning_rate,
            d_learning_rate, d_steps, projection, wrong_pairs: the `gan_zoo.remedies`
            options (held in `model.remedies`), off by default: the papers' recipes.
    """

    PRESETS = {}  # name -> constructor arguments; each model sets its own (see `from_preset`)
    RECIPES = {"paper": {}}  # name -> remedy settings (gan_zoo.remedies) over a preset
    loss_names = ("d_loss", "g_loss")
    optimizer_names = ("g_optimizer", "d_optimizer")
    lr_decay_offset = 1  # see callbacks.LearningRateDecay
    projection_head = False  # whether `projection=True` is offered (see gan_zoo.remedies)
    evaluation_truncation = None  # the noise truncation the authors' evaluation samples with

    def __init__(
        self,
        vocabulary=None,
        embedding_dim=None,
        image_size=64,
        noise_dim=100,
        max_length=None,
        learning_rate=2e-4,
        beta_1=0.5,
        beta_2=0.999,
        lr_decay_every=0,
        lr_decay_factor=0.5,
        seed=None,
        text_encoder=None,
        train_text_encoder=True,
        label_smoothing=0.0,
        instance_noise=0.0,
        instance_noise_steps=10000,
        generator_ema=None,
        **kwargs,
    ):
        self.remedies = remedies.Remedies.pop_from(kwargs, label_smoothing, self.projection_head)
        super().__init__(**kwargs)
        if isinstance(vocabulary, dict):
            vocabulary = Vocabulary.from_config(vocabulary)
        vocabulary, text_encoder, max_length = hub_text_arguments(
            vocabulary, text_encoder, max_length
        )
        checks.check_model_arguments(
            vocabulary, embedding_dim, image_size, noise_dim, max_length, learning_rate
        )
        stabilizers.check(
            label_smoothing=label_smoothing,
            instance_noise=instance_noise,
            instance_noise_steps=instance_noise_steps,
            generator_ema=generator_ema or 0.0,
        )
        self.vocabulary, self.embedding_dim = vocabulary, embedding_dim
        self.image_size, self.noise_dim, self.max_length = image_size, noise_dim, max_length
        self.learning_rate, self.beta_1, self.beta_2 = learning_rate, beta_1, beta_2
        self.lr_decay_every, self.lr_decay_factor = lr_decay_every, lr_decay_factor
        self.seed = seed
        self.label_smoothing = label_smoothing
        self.instance_noise, self.instance_noise_steps = instance_noise, instance_noise_steps
        self.generator_ema = generator_ema or None
        self.train_text_encoder = train_text_encoder
        self.text_encoder = text_encoder_for(
            vocabulary, text_encoder, max_length, seed, trainable=train_text_encoder
        )
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        self._trackers = {}
        self._players = None

    @classmethod
    def from_preset(cls, preset, recipe="paper", **kwargs):
        """A new model in a named configuration of `cls.PRESETS`, trained by a recipe; or a
        saved model, from a preset directory or a kaggle:// or hf:// handle.

        Args:
            preset: a name, e.g. "birds" (the authors' CUB settings, also the constructor's
                defaults), "coco" or "small" (for CPU work), which builds a new, untrained
                model; anything else is a saved preset (`save_to_preset`, or `gan-zoo
                convert ... --to-preset`): a directory, or a kaggle:// or hf:// handle.
            recipe: for a named preset, "paper" (the authors' training) or another name in
                `cls.RECIPES`, e.g. "stable": remedies chosen by benchmarks/quality.py
                (docs/stabilizers.md). A saved preset keeps the settings it was saved with.
            **kwargs: constructor arguments, which take precedence over the preset's and the
                recipe's (for a saved preset: config entries that replace the saved ones).

        Returns:
            A new `cls` from the named preset's settings updated with the recipe's and
            `kwargs`; or the saved model (of `cls` or a subclass), with its weights.

        Raises:
            ValueError: for an unknown preset or recipe, naming those there are; for a saved
                preset of another class, naming it.
            ConnectionError: a kaggle:// or hf:// handle with no network to download it.
        """
        if preset in cls.PRESETS:
            return cls(**{**preset_settings(cls, preset, recipe=recipe), **kwargs})
        if recipe != "paper":
            raise ValueError(
                f"recipe={recipe!r} applies over a named {cls.__name__} preset "
                f"{sorted(cls.PRESETS)}, which {preset!r} is not; a saved preset keeps the "
                "settings it was saved with (give a change as a keyword argument)."
            )
        return super().from_preset(preset, **kwargs)

    # ----------------------------------------------------------------- the networks
    def run_generator(self, latent, condition, training=False):
        """G on latent noise [B, latent_dim] and the conditions `encode_captions` gives.

        Returns:
            A dict with "images": {size: float images in [-1, 1]} (one entry per stage), and
            whatever else the model's G gives (μ and log σ², attention maps).
        """
        raise NotImplementedError

    def discriminator_loss(self, batch):
        """Returns (loss, dict of named parts). Subclasses implement it with keras.ops."""
        raise NotImplementedError

    def generator_loss(self, batch):
        """Returns (loss, dict of named parts). Subclasses implement it with keras.ops."""
        raise NotImplementedError

    # ----------------------------------------------------------------- the step
    def train_step(self, *args):
        """Keras's hook; the backend's calling convention is handled in gan_zoo.training."""
        return training.train_step(self, self.adversarial_step, *args)

    def adversarial_step(self, data):
        """`d_steps` D updates (1, as in every paper here; more reuse the batch with fresh noise
        and augmentation, the last one's losses logged), then one G update."""
        batch = self.check_batch(data)
        extra = {"instance_noise": self.instance_noise_sigma()} if self.instance_noise else {}
        for _ in range(self.remedies.d_steps):
            d_loss, d_parts = training.minimize(
                self.d_optimizer,
                self.discriminator_variables,
                lambda: self.discriminator_loss(batch),
            )
        g_loss, g_parts = training.minimize(
            self.g_optimizer, self.generator_variables, lambda: self.generator_loss(batch)
        )
        self.optimizer.iterations.assign_add(1)
        return self.record({"d_loss": d_loss, "g_loss": g_loss, **d_parts, **g_parts, **extra})

    def check_batch(self, data):
        return checks.check_batch(self, data, self.image_size, self.latent_dim)

    # ----------------------------------------------------------------- what the losses use
    @property
    def latent_widths(self):
        """Widths of the random inputs G takes, in order: z, then any other noise."""
        return [self.noise_dim]

    @property
    def latent_dim(self):
        return sum(self.latent_widths)

    @property
    def condition_dim(self):
        """Width of the sentence condition the networks receive."""
        return self.embedding_dim or self.text_encoder.output_dim

    def sentence_condition(self, batch, training=False):
        """The sentence vector of a batch: the TextEncoder's, or the precomputed embedding."""
        if self.text_encoder is None:
            return ops.cast(batch["embeddings"], "float32")
        return self.text_encoder(batch["tokens"], training=training and self.train_text_encoder)[1]

    def sample_latent(self, batch, count):
        """Latent noise [count, latent_dim] for a train step, drawn from the model's seed
        generator; or the batch's own "latent" rows (repeated up to `count`), which lets runs
        on different backends, whose random streams differ, be compared step for step."""
        if "latent" in batch:
            latent = ops.cast(batch["latent"], "float32")
            return ops.concatenate([latent, latent], axis=0)[:count]
        return keras.random.normal((count, self.latent_dim), seed=self.seed_generator)

    def wrong_pairs(self, batch, sentences):
        """(order, weights) of D's wrong pairs by the `wrong_pairs` remedy, from the batch's
        sentence vectors [B, E]: caption i meets image order[i] (`losses.wrong_pairs`)."""
        texts = batch["tokens"] if self.text_encoder is not None else batch["embeddings"]
        rule, labels = self.remedies.wrong_pairs, batch.get("labels")
        return losses.wrong_pairs(rule, texts, sentences, labels, self.seed_generator)

    @property
    def real_label(self):
        """D's target for real images: 1, or 1 - label_smoothing."""
        return 1.0 - self.label_smoothing

    def instance_noise_sigma(self):
        """σ of the instance noise at the current training step."""
        return stabilizers.instance_noise_scale(
            self.optimizer.iterations, self.instance_noise, self.instance_noise_steps
        )

    def discriminator_view(self, images):
        """Images as D sees them in training: as they are, or DiffAugmented, or with annealed
        instance noise (after the augmentation), each drawn anew at every call."""
        images = self.remedies.augment(images, self.seed_generator)
        if not self.instance_noise:
            return images
        return stabilizers.add_instance_noise(
            images, self.instance_noise_sigma(), self.seed_generator
        )

    # ----------------------------------------------------------------- players and optimizers
    @property
    def logged_names(self):
        noise = ("instance_noise",) if self.instance_noise else ()
        return self.loss_names + self.remedies.logged_names + noise

    @property
    def generator_variables(self):
        return self.generator.trainable_variables

    @property
    def discriminator_variables(self):
        """D's variables, plus the text encoder's when it trains: the matching-aware D loss does."""
        encoder = (
            self.text_encoder.trainable_variables
            if self.text_encoder is not None and self.train_text_encoder
            else []
        )
        return self.discriminator.trainable_variables + encoder

    def trained_parts(self):
        return {
            "generator": self.generator_variables,
            "discriminator": self.discriminator_variables,
        }

    def optimized_variables(self):
        """The generator's, then the discriminator's."""
        return self.generator_variables + self.discriminator_variables

    def default_optimizer(self, player, moving_average=None):
        """The paper's Adam at `player`'s rate ("generator" or "discriminator": see
        `Remedies.learning_rate`); with `moving_average`, it also keeps that average."""
        average = dict(use_ema=True, ema_momentum=moving_average) if moving_average else {}
        rate = self.remedies.learning_rate(player, self.learning_rate)
        return keras.optimizers.Adam(rate, beta_1=self.beta_1, beta_2=self.beta_2, **average)

    def compile(self, g_optimizer=None, d_optimizer=None, jit_compile=None, **kwargs):
        """Compiles with the paper's Adam for both players unless optimizers are given (G's
        keeps the moving average of its weights when `generator_ema` is set).

        XLA (`jit_compile=True`) is on by default on TensorFlow (but not under a tf.distribute
        strategy) and JAX; on PyTorch it would mean torch.compile, so it is off there. Under the
        `mixed_float16` policy each player's optimizer is wrapped in a LossScaleOptimizer
        (Keras's `auto_scale_loss` would wrap only one optimizer).
        """
        self._players = player_optimizers(
            g_optimizer or self.default_optimizer("generator", self.generator_ema),
            d_optimizer or self.default_optimizer("discriminator"),
            self.discriminator_variables,
            expected_average=self.generator_ema if g_optimizer is not None else None,
            loss_scaling=self.dtype_policy.name == "mixed_float16",
        )
        self._make_trackers()
        self.compile_with(self._players, jit_compile, **kwargs)
        self.remedies.check_compiled(self)

    @property
    def g_optimizer(self):
        return self._players.g_optimizer if self._players else None

    @property
    def d_optimizer(self):
        return self._players.d_optimizer if self._players else None

    def learning_rate_schedule(self):
        from gan_zoo.callbacks import LearningRateDecay

        if not self.lr_decay_every:
            return None
        return LearningRateDecay(self.lr_decay_every, self.lr_decay_factor, self.lr_decay_offset)

    def averaged_generator(self):
        """A context in which G holds its moving-average weights (see `moving_average`); the
        callbacks and the CLI sample through it, so they show the G a run ends with."""
        return moving_average.averaged_generator(self)

    # ----------------------------------------------------------------- saving
    def get_config(self):
        config = {name: getattr(self, name) for name in CONFIG_ATTRIBUTES}
        config.update(
            text_config(self.vocabulary, self.text_encoder), generator_ema=self.generator_ema or 0
        )
        return {**config, **self.remedies.get_config()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
