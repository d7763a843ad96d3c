"""The backend-specific lines of the adversarial step: taking gradients and applying them.

Everything else in a gan_zoo train step (losses, the D-then-G order, metrics) is written once
with keras.ops. Each backend module provides three functions:

- `minimize(optimizer, variables, loss_fn)`: calls `loss_fn() -> (loss, parts)`, applies the
  gradients of `loss` with respect to `variables` with `optimizer`, returns `(loss, parts)`;
- `train_step(model, step, *args)`: runs `step(data)` as the backend's trainer expects
  (JAX's trainer passes a pure `(state, data)` and wants `(logs, state)` back);
- `default_jit_compile()`: whether XLA is on unless the user says otherwise.
"""

import importlib

import keras

_BACKENDS = {
    "tensorflow": "gan_zoo.training.tensorflow",
    "jax": "gan_zoo.training.jax",
    "torch": "gan_zoo.training.torch",
}


def _backend_module():
    return importlib.import_module(_BACKENDS[keras.backend.backend()])  # checked at import


def minimize(optimizer, variables, loss_fn):
    """One optimizer update of `variables` down the gradient of `loss_fn()`'s loss."""
    return _backend_module().minimize(optimizer, variables, loss_fn)


def train_step(model, step, *args):
    """Runs `step(batch) -> logs` inside the backend trainer's calling convention."""
    return _backend_module().train_step(model, step, *args)


def default_jit_compile():
    """XLA by default on TensorFlow (except under a tf.distribute strategy, where Keras cannot
    compile the step) and JAX; on PyTorch it would mean torch.compile, so off."""
    return _backend_module().default_jit_compile()
