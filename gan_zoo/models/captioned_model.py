"""CaptionedImageModel: the Keras plumbing every trainable model here shares, GANs and DAMSM.

`fit` on make_dataset's batches (checks, resume, the authors' learning-rate schedule), one
optimizer assembled by the subclass and saved with the model, the logged running means, and
exact seed-state saving.
"""

import warnings

import keras
from keras import ops

from gan_zoo import training
from gan_zoo.models import checks, preset_files


def follows_own_schedule(optimizer):
    """Whether an optimizer (or the one a LossScaleOptimizer wraps) has a LearningRateSchedule."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return isinstance(
        getattr(inner, "_learning_rate", None), keras.optimizers.schedules.LearningRateSchedule
    )


class DataEpochs(keras.callbacks.Callback):
    """Sets a make_dataset pipeline to each epoch's random plan as the epoch begins."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def on_epoch_begin(self, epoch, logs=None):
        self.dataset.set_epoch(epoch)


class CaptionedImageModel(keras.Model):
    """What the zoo's trainable models share, GANs and DAMSM alike: `fit` on make_dataset's
    batches (vocabulary check, resume, the authors' lr schedule), two optimizers saved with the
    model, and exact seed-state saving. Subclasses set `vocabulary` and `optimizer_names`, and
    their `compile` assembles one optimizer and hands it to `compile_with`."""

    optimizer_names = ()  # compile's two optimizer arguments, in `base_learning_rates` order

    def fit(self, x=None, *args, callbacks=None, initial_epoch=0, nan_guard=True, **kwargs):
        """keras.Model.fit, plus: the data are checked (see `checks.checked_input`), a
        `DivergenceGuard` stops the run at the first non-finite loss or weight, the authors'
        learning-rate schedule is added (unless an optimizer follows a schedule of its own), a
        `Checkpoint` callback resumes, and make_dataset's pipelines are set to each epoch's
        random plan, so that a resumed run sees the batches an uninterrupted one would.

        Args:
            nan_guard: False leaves the `DivergenceGuard` out (a NaN then trains on, and a
                `Checkpoint` refuses to save it).
            Everything else: as keras.Model.fit.
        """
        from gan_zoo.callbacks import Checkpoint, LearningRateDecay
        from gan_zoo.divergence import DivergenceGuard

        checks.check_fit(self, x)
        x, data_checked = checks.checked_input(self, x)
        callbacks = list(callbacks or [])
        if nan_guard and not any(isinstance(c, DivergenceGuard) for c in callbacks):
            # first: before any callback saves
            callbacks.insert(0, DivergenceGuard(data_checked=data_checked))
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
            callbacks.insert(0, DataEpochs(x))
        kwargs.setdefault("shuffle", False)  # make_dataset's pipelines shuffle themselves
        training.keep_weights_on_error(self)
        with checks.data_errors_named():
            return super().fit(x, *args, callbacks=callbacks, initial_epoch=initial_epoch, **kwargs)

    def save(self, filepath, *args, **kwargs):
        """keras.Model.save, refused while a weight is NaN or infinite (see `divergence`)."""
        from gan_zoo.divergence import check_finite_weights

        check_finite_weights(self, f"save {filepath}")
        return super().save(filepath, *args, **kwargs)

    def save_to_preset(self, preset_dir):
        """Saves the model as a keras-hub preset directory: config.json, model.weights.h5,
        metadata.json and the vocabulary as an asset (see `preset_files`), which `from_preset`
        loads back, as does keras-hub's machinery from a kaggle:// or hf:// upload of it.

        Args:
            preset_dir: the directory to write (created if need be).
        """
        preset_files.save_preset(self, preset_dir)

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """The model a saved preset holds, with its weights (`save_to_preset` writes one).

        Args:
            preset: a preset directory, or a kaggle:// or hf:// handle (downloaded, or read
                from the hub's cache).
            **kwargs: config entries that replace the saved ones.

        Returns:
            The model, of the class it was saved from (`cls` or a subclass).

        Raises:
            ValueError: an unknown handle, or a preset of another class (both named).
            FileNotFoundError: a directory that lacks a preset's file.
            ConnectionError: a remote handle with no network to download it (the error says
                how to download it elsewhere and give the local directory instead).
        """
        return preset_files.load_preset(cls, preset, **kwargs)

    def check_batch(self, data):
        """The batch as a dict, its structure and shapes checked (see `checks.check_batch`)."""
        return checks.check_batch(self, data)

    def learning_rate_schedule(self):
        """The authors' learning-rate decay as a `LearningRateDecay` callback, or None."""
        return None

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

    def _seed_states(self):
        """Every seed generator's state (noise, dropout), which Keras's `variables` hold beside
        the `weights`: saved so that a resume is exact."""
        weights = {id(w) for w in self.weights}
        return [v for v in self.variables if id(v) not in weights]

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
