"""TextToImageGAN: what every text-to-image GAN here shares.

`compile` (two optimizers behind one MultiOptimizer), `train_step` (the discriminator update,
then the generator update), `generate`, `interpolate`, configs for `.keras` files, and the
input checks. Subclasses say only what differs: their networks and their two losses.
"""

import contextlib
import warnings

import keras
import numpy as np
from keras import ops

from gan_zoo import losses, stabilizers, training
from gan_zoo.data.validation import to_uint8
from gan_zoo.text import TextEncoder, Vocabulary
from gan_zoo.training.optimizers import PlayerOptimizers, unwrapped


def follows_own_schedule(optimizer):
    """Whether an optimizer (or the one a LossScaleOptimizer wraps) has a LearningRateSchedule."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return isinstance(
        getattr(inner, "_learning_rate", None), keras.optimizers.schedules.LearningRateSchedule
    )


def reject_raw_strings(batch):
    """Captions must reach a model as token ids; raw strings get an error that says how."""
    if not isinstance(batch, dict):
        return
    for key, value in batch.items():
        dtype = getattr(value, "dtype", "")
        if "str" in str(dtype) or getattr(dtype, "kind", "") in ("U", "S", "O"):  # tf or numpy text
            raise TypeError(
                f"Batch entry {key!r} holds raw strings: encode captions with "
                "gan_zoo.data.make_dataset(images, captions, vocabulary)."
            )


def _swap(variable, other):
    """Exchanges two variables' values."""
    value = ops.convert_to_numpy(variable)
    variable.assign(other)
    other.assign(value)


def check_labels(batch):
    """Class labels must be one id per image: a column [B, 1] would broadcast to [B, B] in the
    mismatch and DAMSM masks and corrupt the losses without an error."""
    if "labels" in batch and len(tuple(batch["labels"].shape)) != 1:
        raise ValueError(
            f"The batch's 'labels' must be [batch] class ids; got shape "
            f"{tuple(batch['labels'].shape)}."
        )


class CaptionedImageModel(keras.Model):
    """What the zoo's trainable models share, GANs and DAMSM alike: `fit` on make_dataset's
    batches (vocabulary check, resume, the authors' lr schedule), two optimizers saved with the
    model, and exact seed-state saving. Subclasses set `vocabulary` and `optimizer_names`, and
    their `compile` assembles one optimizer and hands it to `compile_with`."""

    optimizer_names = ()  # compile's two optimizer arguments, in `base_learning_rates` order

    def fit(self, x=None, *args, callbacks=None, initial_epoch=0, **kwargs):
        """keras.Model.fit, plus: the dataset's vocabulary is checked against the model's, the
        authors' learning-rate schedule is added (unless an optimizer follows a schedule of
        its own), and a `Checkpoint` callback resumes."""
        from gan_zoo.callbacks import Checkpoint, LearningRateDecay

        compiled = getattr(self, "_compiled_variable_ids", None)  # None: no compile() finished
        if compiled is None:
            raise RuntimeError(f"Call {type(self).__name__}.compile() before fit().")
        frozen = [name for name, variables in self.trained_parts().items() if not variables]
        if frozen:
            raise ValueError(
                f"This {type(self).__name__} has nothing to train in its {' and '.join(frozen)}: a "
                "Stage-II StackGAN freezes its Stage-I's generator and an AttnGAN its DAMSM, in "
                "place, as they share them; set `.trainable = True` on it and compile() again "
                "to train it again."
            )
        if [id(v) for v in self.optimized_variables()] != compiled:
            raise ValueError(
                f"What this {type(self).__name__} trains changed after compile() (a part "
                "was frozen or unfrozen): call compile() again."
            )
        data_vocabulary = getattr(x, "vocabulary", None)
        if (
            data_vocabulary is not None
            and self.vocabulary is not None
            and data_vocabulary != self.vocabulary
        ):
            raise ValueError(
                f"The dataset was encoded with a different vocabulary ({len(data_vocabulary)} "
                f"entries) than the model's ({len(self.vocabulary)}): build it with "
                "make_dataset(..., vocabulary=model.vocabulary)."
            )
        first = x if isinstance(x, dict) else getattr(x, "element_spec", None)  # arrays, tf.data's,
        if first is None and isinstance(x, keras.utils.PyDataset) and x.num_batches != 0:
            first = x[0]  # or a PyDataset's first batch
        # Checked before Keras starts: its JAX trainer leaves a model unusable when its step
        # fails after it has moved the variables out. (Per-replica specs have no shapes.)
        if first is not None and all(hasattr(s, "shape") for s in keras.tree.flatten(first)):
            self.check_batch(first)
        callbacks = list(callbacks or [])
        for callback in callbacks:
            if isinstance(callback, Checkpoint):
                initial_epoch = max(initial_epoch, callback.restore(self))
        schedule = self.learning_rate_schedule()
        if schedule is not None and not any(isinstance(c, LearningRateDecay) for c in callbacks):
            if any(follows_own_schedule(o) for o in self.scheduled_optimizers):
                warnings.warn(
                    "An optimizer follows its own LearningRateSchedule, so the authors' "
                    "learning-rate decay is not added.",
                    stacklevel=2,
                )
            else:
                callbacks.append(schedule)
        if hasattr(x, "set_epoch"):
            x.set_epoch(initial_epoch)
        kwargs.setdefault("shuffle", False)  # make_dataset's pipelines shuffle themselves
        return super().fit(x, *args, callbacks=callbacks, initial_epoch=initial_epoch, **kwargs)

    def learning_rate_schedule(self):
        """The authors' learning-rate decay as a `LearningRateDecay` callback, or None."""
        return None

    def check_token_width(self, tokens):
        """Token ids must be [batch, max_length], as make_dataset pads them for this model, and
        (where they are at hand, as arrays given to fit) ids of its vocabulary: backends differ
        on an id past the embedding's end (JAX gives NaN silently)."""
        if tuple(tokens.shape)[1:] != (self.max_length,):
            raise ValueError(
                f"tokens must be [batch, {self.max_length}]; got {tuple(tokens.shape)}. "
                f"Use make_dataset(..., max_length={self.max_length})."
            )
        if not isinstance(tokens, np.ndarray) or not tokens.size:
            return
        low, high = tokens.min(), tokens.max()
        if low < 0 or high >= len(self.vocabulary):
            bad = low if low < 0 else high
            raise ValueError(
                f"Token id {bad} is outside this model's vocabulary of {len(self.vocabulary)} "
                "ids: encode captions with model.vocabulary (make_dataset does)."
            )

    def trained_parts(self):
        """{name: trainable variables} of the parts `fit` must be able to train."""
        return {"networks": self.trainable_variables}

    def optimized_variables(self):
        """The variables `compile` builds the optimizer on, in its slots' order."""
        return self.trainable_variables

    def compile_with(self, assembled, jit_compile=None, **kwargs):
        """keras.Model.compile with the optimizer the subclass assembled, built at once.

        `jit_compile=None` takes the backend's default (`training.default_jit_compile`); only a
        value given here is saved, so a model reloaded on another backend or under a
        tf.distribute strategy works its default out anew. Keras's loss and metric arguments
        are refused: the losses are the paper's, and the logs are their terms."""
        keras_only = sorted(
            set(kwargs) & {"optimizer", "loss", "loss_weights", "metrics", "weighted_metrics"}
        )
        if keras_only:
            raise ValueError(
                f"{type(self).__name__}.compile() takes "
                f"{' and '.join(n + '=' for n in self.optimizer_names)}, not "
                f"{', '.join(keras_only)}: it trains with the paper's losses."
            )
        self.requested_jit_compile = jit_compile
        self._compiled_variable_ids = None  # set once the optimizer is built
        super().compile(
            optimizer=assembled,
            **kwargs,
            jit_compile=training.default_jit_compile() if jit_compile is None else jit_compile,
        )
        variables = self.optimized_variables()
        self.optimizer.build(variables)  # now, so its slots exist in a fixed order
        self._compiled_variable_ids = [id(v) for v in variables]
        self.remember_learning_rates()

    @property
    def scheduled_optimizers(self):
        """The optimizers `LearningRateDecay` steers, in the order of `base_learning_rates`."""
        return tuple(getattr(self, name) for name in self.optimizer_names)

    def remember_learning_rates(self):
        """Keeps the optimizers' starting rates, which `LearningRateDecay` scales."""
        self.base_learning_rates = tuple(
            float(ops.convert_to_numpy(o.learning_rate)) for o in self.scheduled_optimizers
        )

    def get_compile_config(self):
        if getattr(self, "optimizer", None) is None:
            return None
        config = {
            name: keras.saving.serialize_keras_object(getattr(self, name))
            for name in self.optimizer_names
        }
        return dict(
            config,
            jit_compile=self.requested_jit_compile,
            base_learning_rates=list(self.base_learning_rates),
        )

    def compile_from_config(self, config):
        self.compile(
            **{
                name: keras.saving.deserialize_keras_object(config[name])
                for name in self.optimizer_names
            },
            jit_compile=config["jit_compile"],
        )
        self.base_learning_rates = tuple(config["base_learning_rates"])

    @property
    def logged_names(self):
        """What each train step reports (its running means show in the progress bar)."""
        return self.loss_names

    def _make_trackers(self):
        self._trackers = {name: keras.metrics.Mean(name=name) for name in self.logged_names}

    def record(self, logs):
        """Feeds a step's losses to the trackers; returns their running means (the progress bar)."""
        for name, tracker in self._trackers.items():
            tracker.update_state(logs[name])
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    @property
    def metrics(self):
        return list(self._trackers.values())

    @staticmethod
    def unwrap_batch(data):
        """Keras hands a dataset's dict batches over as they are or as a 1-tuple."""
        if isinstance(data, (tuple, list)) and len(data) == 1:
            return data[0]
        return data

    def _seed_states(self):
        """Every seed generator's state (noise, dropout): saved so that a resume is exact."""
        return [
            sg.state
            for layer in self._flatten_layers(include_self=True)
            for sg in layer._seed_generators
        ]

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for i, state in enumerate(self._seed_states()):
            store[f"seed_{i}"] = state

    def load_own_variables(self, store):
        keys = list(store.keys())
        super().load_own_variables({k: store[k] for k in keys if not k.startswith("seed_")})
        for i, state in enumerate(self._seed_states()):
            if f"seed_{i}" in keys:
                state.assign(store[f"seed_{i}"])


class TextToImageGAN(CaptionedImageModel):
    """Base class of the zoo's GANs. Batches are dicts {"images", "tokens" or "embeddings"}.

    Args:
        vocabulary: the `Vocabulary` captions are encoded with; the model then owns a
            `TextEncoder`. Give `embedding_dim` instead for precomputed sentence embeddings.
        embedding_dim: width of precomputed sentence embeddings (batches carry "embeddings").
        image_size: side of the generated images.
        noise_dim: size of z ~ N(0, 1).
        max_length: caption length in tokens (AttnGAN's WORDS_NUM).
        learning_rate, beta_1, beta_2: the default Adam of both players.
        lr_decay_every, lr_decay_factor: multiply both learning rates by the factor every
            that many epochs (0 = never), as the authors' training scripts do.
        text_encoder: an existing `TextEncoder` to use (shared with another model) instead of
            a new one, or a dict of a new one's settings (embedding_dim, hidden_dim, dropout,
            seed), as `get_config` saves them.
        train_text_encoder: False keeps the encoder frozen and runs it with training=False,
            as for a pretrained encoder or one shared with an already trained model.
        seed: seeds the noise drawn in training and the text encoder's dropout. Initial
            weights follow Keras's global seed: call `keras.utils.set_random_seed` before
            building for identical ones (`gan-zoo train --seed` does).
        label_smoothing: one-sided label smoothing, D's real target 1 - it (0 = off, as in
            the papers; 0.1 is the usual choice). See `gan_zoo.stabilizers`.
        instance_noise: σ of Gaussian noise on every image D sees, annealed linearly to 0 over
            `instance_noise_steps` steps (0 = off, as in the papers).
        generator_ema: momentum of a moving average of G's weights, kept by the default G
            optimizer (Keras's `use_ema`), which replaces them when `fit` ends (None or 0 = off;
            AttnGAN's birds and coco presets: the authors' 0.999).
    """

    loss_names = ("d_loss", "g_loss")
    optimizer_names = ("g_optimizer", "d_optimizer")
    lr_decay_offset = 1  # see callbacks.LearningRateDecay

    def __init__(
        self,
        vocabulary=None,
        embedding_dim=None,
        image_size=64,
        noise_dim=100,
        max_length=18,
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
        super().__init__(**kwargs)
        if isinstance(vocabulary, dict):
            vocabulary = Vocabulary.from_config(vocabulary)
        if (vocabulary is None) == (embedding_dim is None):
            raise ValueError(
                "Give either vocabulary= (captions, encoded by the shared TextEncoder) "
                "or embedding_dim= (precomputed sentence embeddings), not both."
            )
        self.vocabulary = vocabulary
        self.embedding_dim = embedding_dim
        self.image_size = image_size
        self.noise_dim = noise_dim
        self.max_length = max_length
        self.learning_rate, self.beta_1, self.beta_2 = learning_rate, beta_1, beta_2
        self.lr_decay_every, self.lr_decay_factor = lr_decay_every, lr_decay_factor
        self.seed = seed
        stabilizers.check(
            label_smoothing=label_smoothing,
            instance_noise=instance_noise,
            instance_noise_steps=instance_noise_steps,
            generator_ema=generator_ema or 0.0,
        )
        self.label_smoothing = label_smoothing
        self.instance_noise, self.instance_noise_steps = instance_noise, instance_noise_steps
        self.generator_ema = generator_ema or None
        self.train_text_encoder = train_text_encoder
        if vocabulary is not None and text_encoder is None:
            text_encoder = {}
        if isinstance(text_encoder, dict):
            if vocabulary is None:
                raise ValueError(
                    "text_encoder settings need vocabulary=: precomputed embeddings "
                    "are not encoded."
                )
            text_encoder = TextEncoder(
                len(vocabulary),
                name="text_encoder",
                **{"seed": None if seed is None else seed + 1, **text_encoder},
            )
        if text_encoder is not None and not text_encoder.built:
            text_encoder.build((None, max_length))
        if text_encoder is not None and (
            vocabulary is None or text_encoder.vocabulary_size != len(vocabulary)
        ):
            raise ValueError(
                f"The text encoder has {text_encoder.vocabulary_size} entries but the "
                f"vocabulary {len(vocabulary) if vocabulary else 'is missing'}."
            )
        if text_encoder is not None and not train_text_encoder:
            text_encoder.trainable = False  # frozen, also for any model that shares it
        self.text_encoder = text_encoder
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        self._trackers = {}
        self._players = None

    # ----------------------------------------------------------------- conditioning
    @property
    def latent_widths(self):
        """Widths of the random inputs `synthesize` takes, in order: z, then any other noise."""
        return [self.noise_dim]

    @property
    def latent_dim(self):
        return sum(self.latent_widths)

    def _latent(self, seed, count):
        """Latent noise for `generate`, row i drawn from (seed, i): a row's noise does not depend
        on how many rows are drawn with it, and its parts come in turn, so a model whose inputs
        extend another's (Stage-II over Stage-I) sees the same first parts for the same seed."""
        seed = np.random.SeedSequence(seed).entropy  # None: a fresh random seed
        width = sum(self.latent_widths)
        return (
            np.stack(
                [np.random.default_rng([seed, i]).standard_normal(width) for i in range(count)]
            )
            .astype("float32")
            .reshape(count, width)
        )

    @property
    def condition_dim(self):
        """Width of the sentence condition the networks receive."""
        return self.embedding_dim or self.text_encoder.output_dim

    def sentence_condition(self, batch, training=False):
        """The sentence vector of a batch: the TextEncoder's, or the precomputed embedding."""
        if self.text_encoder is None:
            return ops.cast(batch["embeddings"], "float32")
        return self.text_encoder(batch["tokens"], training=training and self.train_text_encoder)[1]

    def mismatch_weights(self, batch):
        """1 for each rolled (image i-1, text i) pair that truly mismatches, else 0."""
        texts = batch["tokens"] if self.text_encoder is not None else batch["embeddings"]
        return losses.mismatch_weights(texts, batch.get("labels"))

    @property
    def real_label(self):
        """D's target for real images: 1, or 1 - label_smoothing."""
        return 1.0 - self.label_smoothing

    @property
    def logged_names(self):
        return self.loss_names + (("instance_noise",) if self.instance_noise else ())

    def instance_noise_sigma(self):
        """σ of the instance noise at the current training step."""
        return stabilizers.instance_noise_scale(
            self.optimizer.iterations, self.instance_noise, self.instance_noise_steps
        )

    def discriminator_view(self, images):
        """Images as D sees them in training: as they are, or with annealed instance noise."""
        if not self.instance_noise:
            return images
        return stabilizers.add_instance_noise(
            images, self.instance_noise_sigma(), self.seed_generator
        )

    def sample_latent(self, batch, count):
        """Latent noise [count, latent_dim] for a train step, drawn from the model's seed
        generator; or the batch's own "latent" rows (repeated up to `count`), which lets runs
        on different backends, whose random streams differ, be compared step for step."""
        if "latent" in batch:
            latent = ops.cast(batch["latent"], "float32")
            return ops.concatenate([latent, latent], axis=0)[:count]
        return keras.random.normal((count, self.latent_dim), seed=self.seed_generator)

    # ----------------------------------------------------------------- training
    @property
    def generator_variables(self):
        return self.generator.trainable_variables

    def trained_parts(self):
        return {
            "generator": self.generator_variables,
            "discriminator": self.discriminator_variables,
        }

    @property
    def discriminator_variables(self):
        """D's variables, plus the text encoder's when it trains: the matching-aware D loss does."""
        encoder = (
            self.text_encoder.trainable_variables
            if self.text_encoder is not None and self.train_text_encoder
            else []
        )
        return self.discriminator.trainable_variables + encoder

    def default_optimizer(self, moving_average=None):
        """The paper's Adam; with `moving_average`, it also keeps that average of the weights."""
        average = dict(use_ema=True, ema_momentum=moving_average) if moving_average else {}
        return keras.optimizers.Adam(
            self.learning_rate, beta_1=self.beta_1, beta_2=self.beta_2, **average
        )

    @contextlib.contextmanager
    def averaged_generator(self):
        """G with its moving-average weights (the weights `fit` ends with) inside the block, its
        training weights again after; as it is without an average, before the first step, or
        inside another such block.

        The callbacks sample through it, so grids and quality curves show the G a run yields.
        """
        optimizer = unwrapped(self.g_optimizer) if self.g_optimizer is not None else None
        if (
            optimizer is None
            or not optimizer.use_ema
            or int(optimizer.iterations) == 0
            or getattr(self, "_averaged", False)
        ):
            yield self
            return
        pairs = [
            (variable, average)
            for variable, average in zip(
                optimizer._trainable_variables, optimizer._model_variables_moving_average
            )
            if average is not None
        ]  # Keras keeps no average of some (float8 scales)
        swapped = []
        try:
            self._averaged = True
            for variable, average in pairs:
                _swap(variable, average)
                swapped.append((variable, average))
            yield self
        finally:
            for variable, average in swapped:
                _swap(variable, average)
            self._averaged = False

    def compile(self, g_optimizer=None, d_optimizer=None, jit_compile=None, **kwargs):
        """Compiles with the paper's Adam for both players unless optimizers are given (G's
        keeps the moving average of its weights when `generator_ema` is set).

        XLA (`jit_compile=True`) is on by default on TensorFlow (but not under a tf.distribute
        strategy) and JAX; on PyTorch it would mean torch.compile, so it is off there. Under the
        `mixed_float16` policy each player's optimizer is wrapped in a LossScaleOptimizer
        (Keras's `auto_scale_loss` would wrap only one optimizer).
        """
        if g_optimizer is not None and self.generator_ema and not unwrapped(g_optimizer).use_ema:
            warnings.warn(
                f"generator_ema={self.generator_ema} is kept by the default G optimizer; the "
                "g_optimizer given keeps no average (give it use_ema=True, ema_momentum=...).",
                stacklevel=2,
            )
        g_optimizer = g_optimizer or self.default_optimizer(self.generator_ema)
        d_optimizer = d_optimizer or self.default_optimizer()
        if g_optimizer is d_optimizer:
            raise ValueError("The generator and the discriminator need two optimizer instances.")
        if self.dtype_policy.name == "mixed_float16":
            g_optimizer, d_optimizer = (
                o
                if isinstance(o, keras.optimizers.LossScaleOptimizer)
                else keras.optimizers.LossScaleOptimizer(o)
                for o in (g_optimizer, d_optimizer)
            )
        self._players = PlayerOptimizers(g_optimizer, d_optimizer, self.discriminator_variables)
        self._make_trackers()
        self.compile_with(self._players, jit_compile, **kwargs)

    def optimized_variables(self):
        """The generator's, then the discriminator's."""
        return self.generator_variables + self.discriminator_variables

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

    def discriminator_loss(self, batch):
        """Returns (loss, dict of named parts). Subclasses implement it with keras.ops."""
        raise NotImplementedError

    def generator_loss(self, batch):
        """Returns (loss, dict of named parts). Subclasses implement it with keras.ops."""
        raise NotImplementedError

    def train_step(self, *args):
        """Keras's hook; the backend's calling convention is handled in gan_zoo.training."""
        return training.train_step(self, self.adversarial_step, *args)

    def adversarial_step(self, data):
        """One discriminator update, then one generator update, as in every paper here."""
        batch = self.check_batch(data)
        extra = {"instance_noise": self.instance_noise_sigma()} if self.instance_noise else {}
        d_loss, d_parts = training.minimize(
            self.d_optimizer, self.discriminator_variables, lambda: self.discriminator_loss(batch)
        )
        g_loss, g_parts = training.minimize(
            self.g_optimizer, self.generator_variables, lambda: self.generator_loss(batch)
        )
        self.optimizer.iterations.assign_add(1)
        return self.record({"d_loss": d_loss, "g_loss": g_loss, **d_parts, **g_parts, **extra})

    def check_batch(self, data):
        """Checks a batch's structure and shapes (at trace time) and returns it as a dict."""
        data = self.unwrap_batch(data)
        if not isinstance(data, dict):
            raise TypeError(
                "gan_zoo models train on dict batches {'images', 'tokens'} such as "
                "gan_zoo.data.make_dataset(images, captions, vocabulary) builds; got "
                f"{type(data).__name__}."
            )
        reject_raw_strings(data)
        check_labels(data)
        if "images" not in data:
            raise ValueError(f"The batch has no 'images' entry; it has {sorted(data)}.")
        shape = tuple(data["images"].shape)
        expected = (self.image_size, self.image_size, 3)
        if len(shape) != 4 or shape[1:] != expected:
            raise ValueError(
                f"This model takes images [batch, {self.image_size}, {self.image_size}, 3]; "
                f"the batch has {shape}. Use make_dataset(..., image_size={self.image_size})."
            )
        if "latent" in data and tuple(data["latent"].shape)[1:] != (self.latent_dim,):
            raise ValueError(
                f"The batch's 'latent' must be [batch, {self.latent_dim}]; got "
                f"{tuple(data['latent'].shape)}."
            )
        needed = "tokens" if self.text_encoder is not None else "embeddings"
        if needed not in data:
            raise ValueError(
                f"This model is conditioned on {needed!r}, which the batch lacks "
                f"(it has {sorted(data)})."
            )
        if needed == "tokens":
            self.check_token_width(data["tokens"])
        elif tuple(data["embeddings"].shape)[1:] != (self.embedding_dim,):
            raise ValueError(
                f"This model takes embeddings [batch, {self.embedding_dim}]; the batch has "
                f"{tuple(data['embeddings'].shape)}."
            )
        return data

    # ----------------------------------------------------------------- generation
    def synthesize(self, noise, condition):
        """Float images in [-1, 1] from latent noise [B, latent_dim] and sentence conditions;
        multi-stage models return a dict {size: images}. Subclasses implement."""
        raise NotImplementedError

    def encode_captions(self, captions):
        """Captions -> the conditions `synthesize` takes: numpy float32 [N, condition_dim]
        sentence vectors (AttnGAN: a dict that adds the words and their mask)."""
        if self.text_encoder is None:
            raise ValueError(
                "This model is conditioned on precomputed embeddings: pass embeddings=."
            )
        tokens = self.vocabulary.encode(captions, self.max_length)
        return ops.convert_to_numpy(self.text_encoder(tokens, training=False)[1])

    def encode_embeddings(self, embeddings):
        """Precomputed sentence embeddings [N, condition_dim] -> the conditions `synthesize`
        takes."""
        condition = np.asarray(embeddings, dtype="float32")
        if condition.ndim != 2 or condition.shape[1] != self.condition_dim:
            raise ValueError(f"embeddings must be [N, {self.condition_dim}]; got {condition.shape}")
        return condition

    def generate(
        self,
        captions=None,
        seed=None,
        num_per_caption=1,
        embeddings=None,
        batch_size=64,
        return_stages=False,
    ):
        """Images for captions (or embeddings): uint8 [N·k, H, W, 3], caption-major.

        The same `seed` gives the same images, on every backend and after a reload. With
        `return_stages=True`, a dict {size: images} with every stage's output.
        """
        noise, condition = self._generation_inputs(captions, embeddings, seed, num_per_caption)
        return self._as_images(
            self._batched(self._synthesize_stages, noise, condition, batch_size), return_stages
        )

    def interpolate(self, caption_a, caption_b, steps=8, seed=0):
        """GAN-INT: images along the line between two captions' conditions, one fixed z (word
        masks, where a model has them, are joined)."""
        if steps < 2:
            raise ValueError(f"interpolate needs steps >= 2 (the two captions' ends); got {steps}.")
        ends = self.encode_captions([caption_a, caption_b])
        t = np.linspace(0.0, 1.0, steps, dtype="float32")

        def blend(end):
            if end.dtype == bool:
                return np.repeat(end[:1] | end[1:], steps, axis=0)
            w = t.reshape((steps,) + (1,) * (end.ndim - 1))
            return (1.0 - w) * end[0] + w * end[1]

        condition = keras.tree.map_structure(blend, ends)
        noise = np.repeat(self._latent(seed, 1), steps, axis=0)
        stages = self._batched(self._synthesize_stages, noise, condition, steps)
        return to_uint8(stages[max(stages)])

    def _generation_inputs(self, captions, embeddings, seed, num_per_caption):
        """(latent noise, conditions) for `generate`, each caption's row repeated k times."""
        if (captions is None) == (embeddings is None):
            raise ValueError("Pass captions or embeddings= (one of them).")
        if len(captions if embeddings is None else embeddings) == 0:
            raise ValueError("No captions were given: pass at least one.")
        if num_per_caption < 1:
            raise ValueError(f"num_per_caption must be at least 1; got {num_per_caption}.")
        condition = (
            self.encode_embeddings(embeddings)
            if embeddings is not None
            else self.encode_captions(captions)
        )
        condition = keras.tree.map_structure(
            lambda a: np.repeat(a, num_per_caption, axis=0), condition
        )
        rows = len(keras.tree.flatten(condition)[0])
        return self._latent(seed, rows), condition

    @staticmethod
    def _as_images(stages, return_stages):
        """{size: float images} -> uint8: every stage's, or the largest stage's alone."""
        stages = {size: to_uint8(images) for size, images in stages.items()}
        return stages if return_stages else stages[max(stages)]

    def _synthesize_stages(self, noise, condition):
        out = self.synthesize(noise, condition)
        return out if isinstance(out, dict) else {self.image_size: out}

    @staticmethod
    def _batched(function, noise, condition, batch_size):
        """Runs `function(noise, condition)` in batches; its outputs joined as numpy arrays."""
        chunks = []
        for start in range(0, len(noise), batch_size):
            rows = slice(start, start + batch_size)
            part = keras.tree.map_structure(lambda a, rows=rows: a[rows], condition)
            out = function(noise[rows], part)
            chunks.append(keras.tree.map_structure(ops.convert_to_numpy, out))
        return keras.tree.map_structure(lambda *parts: np.concatenate(parts), *chunks)

    # ----------------------------------------------------------------- saving
    def get_config(self):
        return {
            "name": self.name,
            "vocabulary": self.vocabulary.get_config() if self.vocabulary is not None else None,
            "embedding_dim": self.embedding_dim,
            "image_size": self.image_size,
            "noise_dim": self.noise_dim,
            "max_length": self.max_length,
            "learning_rate": self.learning_rate,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "lr_decay_every": self.lr_decay_every,
            "lr_decay_factor": self.lr_decay_factor,
            "train_text_encoder": self.train_text_encoder,
            "text_encoder": None
            if self.text_encoder is None
            else {
                key: getattr(self.text_encoder, key)
                for key in ("embedding_dim", "hidden_dim", "dropout", "seed")
            },
            "seed": self.seed,
            "label_smoothing": self.label_smoothing,
            "instance_noise": self.instance_noise,
            "instance_noise_steps": self.instance_noise_steps,
            "generator_ema": self.generator_ema or 0,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def preset_settings(presets, preset, given, part=None):
    """A preset's settings (with its `part` sub-dict merged in, e.g. Stage-II's widths), then
    each entry of `given` that is not None in their place; an unknown preset is named."""
    if preset not in presets:
        raise ValueError(f"Unknown preset {preset!r}; choose from {sorted(presets)}")
    settings = {k: v for k, v in presets[preset].items() if not isinstance(v, dict)}
    settings.update(presets[preset].get(part, {}) if part else {})
    settings.update({k: v for k, v in given.items() if v is not None})
    return settings


def deserialize_entry(config, key):
    """A config whose `key` (a model this one builds on, saved inside it) is deserialized."""
    if isinstance(config.get(key), dict):
        config = dict(config, **{key: keras.saving.deserialize_keras_object(config[key])})
    return config
