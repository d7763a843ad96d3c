"""The moving average of G's weights (`generator_ema`), swapped into G for sampling.

The average itself is Keras's: the G optimizer's `use_ema`, which also replaces the weights
with it when `fit` ends. Keras has no public accessor for the (variable, average) pairs; its
own `SwapEMAWeights` callback reads the same two optimizer attributes this module does. Its
TensorFlow swap goes through additions, which do not restore the training weights to the bit,
so the values are exchanged through host copies here.
"""

import contextlib

from keras import ops

from gan_zoo.training.optimizers import unwrapped


def _average_pairs(optimizer):
    """(variable, its moving average) for each variable the optimizer averages."""
    return [
        (variable, average)
        for variable, average in zip(
            optimizer._trainable_variables, optimizer._model_variables_moving_average
        )
        if average is not None  # Keras keeps no average of some (float8 scales)
    ]


def _swap(variable, other):
    """Exchanges two variables' values exactly."""
    value = ops.convert_to_numpy(variable)
    variable.assign(other)
    other.assign(value)


@contextlib.contextmanager
def averaged_generator(model):
    """Inside the block, G holds its moving-average weights (those `fit` ends with); after it,
    its training weights again, exactly. Without an average, before the first step, or inside
    another such block, G stays as it is.

    Args:
        model: a compiled or uncompiled `TextToImageGAN`.

    Yields:
        The model.
    """
    optimizer = unwrapped(model.g_optimizer) if model.g_optimizer is not None else None
    if (
        optimizer is None
        or not optimizer.use_ema
        or int(optimizer.iterations) == 0
        or getattr(model, "_averaged", False)
    ):
        yield model
        return
    swapped = []
    try:
        model._averaged = True
        for variable, average in _average_pairs(optimizer):
            _swap(variable, average)
            swapped.append((variable, average))
        yield model
    finally:
        for variable, average in swapped:
            _swap(variable, average)
        model._averaged = False
