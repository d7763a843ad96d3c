"""The backend-specific lines of the adversarial step: a loss's value and its gradients.

Everything else in a gan_zoo train step (losses, the D-then-G order, optimizer updates,
metrics) is written once with keras.ops; only `value_and_grad` differs per backend.
"""

import importlib

import keras

_BACKENDS = {"tensorflow": "gan_zoo.training.tensorflow"}


def value_and_grad(loss_fn, variables):
    """Calls `loss_fn()` -> (loss, parts) and returns ((loss, parts), gradients wrt `variables`)."""
    backend = keras.backend.backend()
    if backend not in _BACKENDS:
        raise NotImplementedError(
            f"gan_zoo's train_step supports the TensorFlow backend so far; KERAS_BACKEND={backend} "
            "can build, load and generate, but training on it is not implemented yet.")
    return importlib.import_module(_BACKENDS[backend]).value_and_grad(loss_fn, variables)
