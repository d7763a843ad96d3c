"""Callbacks for training runs: sample grids, attention maps, loss plots, quality curves,
resumable checkpoints, lr decay."""

import json
import math
import os
import warnings

import keras
from keras import ops

from gan_zoo.data.validation import check_positive_int
from gan_zoo.text.vocabulary import first_caption
from gan_zoo.utils.files import load_weights, save_model_atomically, write_json_atomically
from gan_zoo.utils.plots import (
    save_attention_maps,
    save_image_grid,
    save_loss_plot,
    save_metric_curves,
    stages_side_by_side,
)


class SampleGrid(keras.callbacks.Callback):
    """Fixed captions × fixed seeds -> one PNG per epoch, so progress can be seen.

    Like the other callbacks that sample, it draws from G's moving average when the model keeps
    one (`generator_ema`): the G that `fit` ends with.

    For a multi-stage model each sample shows its stages side by side (Stage-I, Stage-II).
    """

    def __init__(self, captions, directory, num_per_caption=6, seed=0, every=1):
        super().__init__()
        check_positive_int(every, "every")
        self.captions, self.directory = list(captions), directory
        self.num_per_caption, self.seed, self.every = num_per_caption, seed, every
        self.last_path = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        with self.model.averaged_generator() as model:
            stages = model.generate(
                self.captions,
                seed=self.seed,
                num_per_caption=self.num_per_caption,
                return_stages=True,
            )
        images = stages_side_by_side(stages)
        self.last_path = os.path.join(self.directory, f"samples_epoch_{epoch + 1:03d}.png")
        save_image_grid(
            images, self.last_path, row_labels=self.captions, title=f"epoch {epoch + 1}"
        )


class AttentionMaps(keras.callbacks.Callback):
    """AttnGAN: each caption's image and its words' attention (the last attention stage) as a
    PNG per epoch, so one sees which words steer which regions as training goes."""

    def __init__(self, captions, directory, seed=0, every=1):
        super().__init__()
        check_positive_int(every, "every")
        self.captions, self.directory, self.seed, self.every = (
            list(captions),
            directory,
            seed,
            every,
        )
        self.last_path = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        model = self.model
        with model.averaged_generator():
            images, maps = model.generate(self.captions, seed=self.seed, return_attention=True)
        read = model.vocabulary.decode(model.vocabulary.encode(self.captions, model.max_length))
        self.last_path = os.path.join(self.directory, f"attention_epoch_{epoch + 1:03d}.png")
        save_attention_maps(
            images, maps[-1], [r.split() for r in read], self.last_path, title=f"epoch {epoch + 1}"
        )


class LossPlot(keras.callbacks.Callback):
    """Records the logged losses every `every` steps and redraws a PNG at each epoch end.

    Keras logs each loss as its mean since the epoch began, so a point is that running mean at
    its step: the curve is smooth within an epoch and starts afresh at each one.

    Every term the model logs is kept (a GAN's `loss_names`: d_real, d_wrong, kl, w_loss, ...;
    otherwise each log whose name holds "loss"), and the plot puts the discriminator's terms
    and the generator's in two panels under the model's name. The numbers are kept in a JSON
    file beside the PNG; an existing one is continued, so a resumed run's plot covers the
    whole run.
    """

    def __init__(self, path, every=10):
        super().__init__()
        check_positive_int(every, "every")
        self.path, self.every = path, every
        self.history_path = os.path.splitext(path)[0] + ".json"
        self.history = {"step": []}
        if os.path.exists(self.history_path):
            with open(self.history_path) as f:
                self.history = json.load(f)
        self._step = 0  # the model's step, when training begins

    def on_train_begin(self, logs=None):
        """Continues at the model's step: points past it (an epoch a kill cut short before its
        checkpoint) are dropped, as that epoch runs again."""
        self._step = int(ops.convert_to_numpy(self.model.optimizer.iterations))
        extra = sum(step > self._step for step in self.history["step"])  # the last ones
        self.history = {
            name: values[: max(0, len(values) - extra)] for name, values in self.history.items()
        }

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0:
            self._record(logs)

    def on_epoch_end(self, epoch, logs=None):
        if not self.history["step"] or self.history["step"][-1] != self._step:
            self._record(logs)  # every epoch ends with a point, however short it was
        save_loss_plot(self.history, self.path, title=self.model.name)
        write_json_atomically(self.history, self.history_path)

    def _record(self, logs):
        names = getattr(self.model, "loss_names", ())
        self.history["step"].append(self._step)
        for name, value in (logs or {}).items():
            if name in names or "loss" in name:
                self.history.setdefault(name, []).append(float(value))


class QualityMonitor(keras.callbacks.Callback):
    """Every `every` epochs and at the last, cheap quality estimates into the logs and a PNG of
    their curves; a run stopped early has its last epoch measured when training ends (into the
    PNG and JSON only: that epoch's logs are closed).

    `fid`: FID between `num_samples` generated and real images in `extractor`'s feature
    space (default: 16x16 pixels, which needs no weights). With `shapes_options` (the run is
    on captioned shapes; shapes.load's `fixed`), also `alignment` (oracle, 100 test captions)
    and `diversity` (spread ratio), with a warning when diversity falls below the collapse
    threshold. The numbers are kept in a JSON beside the PNG, continued on resume.
    """

    def __init__(
        self,
        images,
        captions,
        path,
        every=1,
        num_samples=256,
        extractor=None,
        shapes_options=None,
        seed=0,
    ):
        super().__init__()
        from gan_zoo import metrics

        check_positive_int(every, "every")
        check_positive_int(num_samples, "num_samples")
        self.images, self.captions = images[:num_samples], captions
        self.path, self.every, self.num_samples, self.seed = path, every, num_samples, seed
        self.extractor = extractor or metrics.pixels()
        self.shapes_options = shapes_options
        self.history_path = os.path.splitext(path)[0] + ".json"
        self.history = {"epoch": []}
        if os.path.exists(self.history_path):
            with open(self.history_path) as f:
                self.history = json.load(f)
        self._real = None
        self._finished = self._measured = None  # the last epoch ended, and the last measured

    def measure(self):
        """The current estimates: {"fid": ..., and on shapes "alignment", "diversity"}."""
        from gan_zoo import metrics
        from gan_zoo.metrics import shapes_metrics

        if self._real is None:
            self._real = metrics.GaussianStatistics.of(self.extractor(self.images)["features"])
        prompts = [
            first_caption(self.captions[i % len(self.captions)]) for i in range(self.num_samples)
        ]
        fake = self.model.generate(prompts, seed=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a few hundred samples: a cheap, biased estimate
            values = {"fid": metrics.frechet_distance(self._real, self.extractor(fake)["features"])}
        if self.shapes_options is not None:
            fixed = self.shapes_options.get("fixed")
            values["alignment"] = shapes_metrics.alignment(self.model, 100, self.seed, fixed=fixed)[
                "alignment"
            ]
            diversity = shapes_metrics.diversity(
                self.model,
                self.extractor,
                num_captions=3,
                samples_per_caption=8,
                seed=self.seed,
                fixed=fixed,
            )
            values["diversity"] = diversity["spread_ratio"]
            if diversity["collapsed"]:
                warnings.warn(
                    f"Mode collapse suspected: the samples of one caption spread "
                    f"{diversity['spread_ratio']:.3f} as much as real images "
                    f"(threshold {diversity['threshold']}).",
                    stacklevel=2,
                )
        return values

    def on_train_begin(self, logs=None):
        self._finished = self._measured = None

    def on_epoch_end(self, epoch, logs=None):
        self._finished = epoch + 1
        if (epoch + 1) % self.every and epoch + 1 != (self.params or {}).get("epochs"):
            return  # measured every `every` epochs and at the last, which a sweep summarises
        values = self._record(epoch + 1)
        if logs is not None:
            logs.update(values)

    def on_train_end(self, logs=None):
        if self._finished is not None and self._finished != self._measured:  # stopped early
            self._record(self._finished)

    def _record(self, epoch):
        """Measures the (averaged) generator after `epoch` and adds the values to the curves."""
        with self.model.averaged_generator():
            values = self.measure()
        if epoch in self.history["epoch"]:  # run again after a kill cut it short: replaced
            keep = self.history["epoch"].index(epoch)
            self.history = {name: series[:keep] for name, series in self.history.items()}
        self.history["epoch"].append(epoch)
        for name, value in values.items():
            self.history.setdefault(name, []).append(float(value))
        save_metric_curves(self.history, self.path)
        write_json_atomically(self.history, self.history_path)
        self._measured = epoch
        return values


class LearningRateDecay(keras.callbacks.Callback):
    """Multiplies the model's learning rates by `factor` every `every` epochs, down to `floor`.

    The rate at 0-based epoch e is base · factor ** ((e + offset) // every): Reed et al.'s Lua
    loop halves it at the start of 1-based epochs 100, 200, ... (offset 1); StackGAN's trainer
    at 0-based epochs 50, 100, ... (offset 0); DAMSM's ×0.98 per epoch stops after the first
    step that reaches base · floor (floor 0.1), as its `if lr > lr0 / 10: lr *= 0.98` does.
    Sets each of `model.scheduled_optimizers` (the MultiOptimizer hides `learning_rate`).
    """

    def __init__(self, every, factor=0.5, offset=1, floor=None):
        super().__init__()
        check_positive_int(every, "every")
        self.every, self.factor, self.offset, self.floor = every, factor, offset, floor

    def scale(self, epoch):
        steps = (epoch + self.offset) // self.every
        if self.floor is not None:
            steps = min(steps, math.ceil(math.log(self.floor) / math.log(self.factor)))
        return self.factor**steps

    def on_epoch_begin(self, epoch, logs=None):
        for optimizer, base in zip(self.model.scheduled_optimizers, self.model.base_learning_rates):
            optimizer.learning_rate = base * self.scale(epoch)


class Checkpoint(keras.callbacks.Callback):
    """Saves the whole training state each epoch, atomically, and resumes from it.

    Writes `epoch_NNN.keras` (weights, both optimizers, seed-generator states, config), then
    swaps `state.json` to point at it, then deletes the previous file: a run killed at any
    moment leaves a complete checkpoint of the last finished epoch. `model.fit` calls
    `restore` for a Checkpoint in its callbacks, so training continues where it stopped.
    `state.json` also keeps every epoch's logs (`history()`), so a resumed run's history is
    whole; put the Checkpoint after callbacks that add to the logs (`QualityMonitor`).
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = directory

    @property
    def state_path(self):
        return os.path.join(self.directory, "state.json")

    def latest(self):
        """(path of the newest checkpoint, epochs done), or (None, 0) when there is none."""
        state = self._state()
        if not state:
            return None, 0
        return os.path.join(self.directory, state["checkpoint"]), state["epoch"]

    def restore(self, model):
        """Loads the newest checkpoint into `model`; returns the number of epochs done.

        Raises:
            FileNotFoundError: state.json names a checkpoint that is missing.
            UnreadableModelError: the checkpoint is cut short, corrupted or of another model.
        """
        path, epoch = self.latest()
        if path is None:
            return 0
        if not os.path.exists(path):
            raise FileNotFoundError(f"{self.state_path} names {path}, which is missing.")
        load_weights(model, path)
        print(f"Resuming from {path}: {epoch} epoch(s) done.")
        return epoch

    def history(self):
        """{log name: one value per epoch} over every epoch of the run, resumed parts included;
        None for an epoch that did not log it (a QualityMonitor measuring every few epochs)."""
        return self._state().get("history", {})

    def _state(self):
        """state.json's contents ({} where there is none), refused by name where it is not
        one that `on_epoch_end` writes (a disk fault, a hand edit)."""
        if not os.path.exists(self.state_path):
            return {}
        fault = None
        try:
            with open(self.state_path) as f:
                state = json.load(f)
        except ValueError as error:  # not JSON, or not even text
            fault = f"not JSON: {error}"
        else:
            if not (
                isinstance(state, dict)
                and isinstance(state.get("checkpoint"), str)
                and isinstance(state.get("epoch"), int)
            ):
                fault = "it names no checkpoint and epoch"
        if fault:
            raise ValueError(
                f"{self.state_path} is not a readable checkpoint state ({fault}): write it "
                'again as {"epoch": N, "checkpoint": "epoch_NNN.keras"}, naming the newest '
                "checkpoint beside it, or remove the folder to train afresh."
            )
        return state

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        previous, _ = self.latest()
        name = f"epoch_{epoch + 1:03d}.keras"
        save_model_atomically(self.model, os.path.join(self.directory, name), previous)
        history = self.history()
        logs = {key: float(ops.convert_to_numpy(value)) for key, value in (logs or {}).items()}
        for key in [*history, *(key for key in logs if key not in history)]:  # one entry per epoch
            column = history.get(key, [])[:epoch]
            history[key] = column + [None] * (epoch - len(column)) + [logs.get(key)]
        write_json_atomically(
            {"epoch": epoch + 1, "checkpoint": name, "history": history}, self.state_path
        )
        if previous and os.path.basename(previous) != name and os.path.exists(previous):
            os.remove(previous)
