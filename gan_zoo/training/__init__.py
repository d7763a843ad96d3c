"""The backend-specific lines of the adversarial step: taking gradients and applying them.

Everything else in a gan_zoo train step (losses, the D-then-G order, metrics) is written once
with keras.ops. Each backend module provides three functions:

- `minimize(optimizer, variables, loss_fn)`: calls `loss_fn() -> (loss, parts)`, applies the
  gradients of `loss` with respect to `variables` with `optimizer`, returns `(loss, parts)`;
- `train_step(model, step, *args)`: runs `step(data)` as the backend's trainer expects
  (JAX's trainer passes a pure `(state, data)` and wants `(logs, state)` back);
- `default_jit_compile()`: whether XLA is on unless the user says otherwise;
- `input_gradients(fn, inputs)`: `fn`'s output and its gradient with respect to its inputs,
  itself differentiable (gradient penalties need a gradient of a gradient);
- `keep_weights_on_error(model)`: called before `fit`, so that a fit stopped by an error
  leaves the model's weights in place.
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


def keep_weights_on_error(model):
    """Makes sure an error inside `fit` (a bad batch, a divergence) leaves `model` whole."""
    keep = getattr(_backend_module(), "keep_weights_on_error", None)
    if keep is not None:
        keep(model)


def default_jit_compile():
    """XLA by default on TensorFlow (except under a tf.distribute strategy, where Keras cannot
    compile the step) and JAX; on PyTorch it would mean torch.compile, so off."""
    return _backend_module().default_jit_compile()


def input_gradients(fn, inputs):
    """The value of `fn(*inputs)` and the gradient of its sum with respect to each input, as
    a differentiable function of the variables `fn` reads: a loss built from the gradient (a
    gradient penalty) can itself be minimized, which takes a gradient of a gradient.

    Args:
        fn: inputs -> (value, extra): `value` a tensor (e.g. D's logits, one per row), `extra`
            anything else to hand back (e.g. features to reuse), not differentiated here.
        inputs: a list of tensors.

    Returns:
        (value, extra, gradients): `gradients` one tensor per input, of its shape (zeros for an
        input `value` does not depend on). Rows are independent where `fn` treats them so, so
        each row's gradient is that of its own value.

    Variables `fn` writes (BatchNorm's moving statistics) are updated as by a plain call (on
    JAX, within a loss `minimize` differentiates; elsewhere its writes are dropped there).
    """
    return _backend_module().input_gradients(fn, [keras.ops.convert_to_tensor(x) for x in inputs])
