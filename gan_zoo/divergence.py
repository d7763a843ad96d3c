"""The divergence guard: training stops at the first non-finite loss or weight, and no
non-finite weight is ever saved, drawn from or evaluated.

`fit` adds a `DivergenceGuard` to every run (`fit(..., nan_guard=False)` leaves it out). It
checks the logged losses after every step (a few scalars) and every weight after every epoch,
before the callbacks that save (it runs first), and raises `DivergenceError` naming the step,
the epoch and the likely cause. It also warns when a loss runs away without becoming NaN.
"""

import math
import warnings

import keras
import numpy as np
from keras import ops


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss or weight, or a model holding such weights was
    asked to draw, evaluate or save."""


def non_finite_weights(variables):
    """{variable path: number of non-finite entries} over the variables that hold any."""
    counts = {}
    for variable in variables:
        values = ops.convert_to_numpy(variable.value)
        if not np.issubdtype(values.dtype, np.floating):
            continue
        bad = values.size - int(np.count_nonzero(np.isfinite(values)))
        if bad:
            counts[variable.path] = bad
    return counts


def check_finite_weights(model, action, source=None):
    """Raises `DivergenceError` when any of `model`'s weights is NaN or infinite.

    Args:
        model: a Keras model (or layer).
        action: what was asked of it, for the message ("draw images", "save", ...).
        source: the file it came from, named in the message.
    """
    bad = non_finite_weights(model.weights)
    if not bad:
        return
    total = sum(bad.values())
    size = sum(int(np.prod(w.shape)) for w in model.weights)
    first = next(iter(bad))
    origin = f" loaded from {source}" if source else ""
    raise DivergenceError(
        f"Cannot {action}: this {type(model).__name__}{origin} holds {total:,} non-finite "
        f"weights (NaN or inf) of {size:,}, in {len(bad)} variables (the first: {first}). "
        "Its training diverged: use an earlier checkpoint, and train again with a lower "
        "learning rate or a stabilizing recipe (docs/stabilizers.md)."
    )


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training at a non-finite loss (checked every step) or weight (every epoch), and
    warns when a loss runs away.

    Args:
        loss_bound: a warning fires when a logged loss's epoch mean stays above this many
            (in absolute value) for `patience` epochs in a row: the papers' losses sit
            between 0 and about 10 in a healthy run, so 100 means the run is leaving them.
        d_wins_below: a warning fires when D's loss stays below this for `patience` epochs
            while G's stays above `g_lost_above`: D wins outright, and G learns nothing.
        g_lost_above: see `d_wins_below`.
        patience: epochs in a row before a warning; None turns the warnings off.
        data_checked: whether every batch was checked finite and in range before the step
            (`fit` checks every input but a Python generator): the message then blames the
            learning rate alone.
    """

    def __init__(
        self,
        loss_bound=100.0,
        d_wins_below=0.01,
        g_lost_above=10.0,
        patience=2,
        data_checked=False,
    ):
        super().__init__()
        self.data_checked = data_checked
        self.loss_bound, self.patience = loss_bound, patience
        self.d_wins_below, self.g_lost_above = d_wins_below, g_lost_above
        self._last_finite = {}
        self._epoch, self._runaway, self._d_wins = 0, {}, 0

    def on_train_begin(self, logs=None):
        self._last_finite = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        values = _losses(logs)
        bad = sorted(name for name, value in values.items() if not math.isfinite(value))
        if bad:
            step = int(ops.convert_to_numpy(self.model.optimizer.iterations))
            self.model.stop_training = True
            raise DivergenceError(
                f"Training diverged at step {step} (batch {batch + 1} of epoch "
                f"{self._epoch + 1}): {', '.join(bad)} became {values[bad[0]]}. "
                + _likely_cause(self._last_finite, self.data_checked)
                + " Nothing of this epoch was saved: a Checkpoint's last file holds finite weights."
            )
        self._last_finite = values

    def on_epoch_end(self, epoch, logs=None):
        bad = non_finite_weights(self.model.weights)
        if bad:
            self.model.stop_training = True
            raise DivergenceError(
                f"Training diverged in epoch {epoch + 1}: {sum(bad.values()):,} weights are "
                f"NaN or inf (first: {next(iter(bad))}) though the losses stayed finite. "
                + _likely_cause(self._last_finite, self.data_checked)
                + " This epoch was not saved: a Checkpoint's last file holds finite weights."
            )
        if self.patience:
            self._warn_on_runaway(epoch, _losses(logs))

    def _warn_on_runaway(self, epoch, values):
        for name, value in values.items():
            self._runaway[name] = (
                self._runaway.get(name, 0) + 1 if abs(value) > self.loss_bound else 0
            )
            if self._runaway[name] == self.patience:
                warnings.warn(
                    f"{name} has stayed above {self.loss_bound:g} in absolute value for "
                    f"{self.patience} epochs (now {value:.4g} at epoch {epoch + 1}): the run is "
                    "diverging. Lower the learning rate or use a stabilizing recipe "
                    "(docs/stabilizers.md).",
                    stacklevel=2,
                )
        d, g = values.get("d_loss"), values.get("g_loss")
        d_wins = d is not None and g is not None and d < self.d_wins_below and g > self.g_lost_above
        self._d_wins = self._d_wins + 1 if d_wins else 0
        if self._d_wins == self.patience:
            warnings.warn(
                f"D is winning outright: d_loss {d:.3g} < {self.d_wins_below:g} and g_loss "
                f"{g:.3g} > {self.g_lost_above:g} for {self.patience} epochs (epoch "
                f"{epoch + 1}), so G gets no useful gradient. Try a lower D learning rate, "
                "a gradient penalty or DiffAugment (docs/stabilizers.md).",
                stacklevel=2,
            )


def _losses(logs):
    """The logged losses as floats (Keras may hand over tensors)."""
    out = {}
    for name, value in (logs or {}).items():
        if "loss" in name:
            out[name] = float(ops.convert_to_numpy(value))
    return out


def _likely_cause(last, data_checked):
    """A guess at why, from the losses of the step before and whether the data were checked."""
    rate = "a learning rate too high: lower it or use a stabilizing recipe (docs/stabilizers.md)"
    if data_checked:
        return f"The data were checked (finite, in [-1, 1]), so the likely cause is {rate}."
    if last and max(abs(v) for v in last.values()) > 100:
        return (
            f"The losses had reached {max(abs(v) for v in last.values()):.3g} the step "
            f"before: the likely cause is {rate}."
        )
    return (
        "The likely cause is a batch holding NaN, inf or values far outside [-1, 1] (this "
        f"input was not checked), else {rate}."
    )
