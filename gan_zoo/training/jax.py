"""JAX: the stateful step runs inside StatelessScopes, so one step serves every backend.

Keras's JAX trainer calls `train_step(state, data)` with the model's state as values. The
whole step runs in a `StatelessScope` over that state; each `minimize` differentiates a
function that opens an inner scope in which the differentiated variables are the traced
arguments, and hands every other variable the loss wrote (BatchNorm statistics, seed
states) back to the outer scope, as TensorFlow and PyTorch would have updated them in place.

`input_gradients` differentiates with `jax.vjp` inside that traced loss. Its function runs in
a scope of its own over the values the loss's scope holds; what it writes (BatchNorm moving
statistics) leaves the vjp as auxiliary output and is written back to the loss's scope, so no
tracer of the inner differentiation escapes it.
"""

import jax
import keras

_model_variables = []  # the variables a loss may read: the stepped model's and its optimizer's
_scoped_variables = []  # the variables the running loss's scope maps (see input_gradients)


def minimize(optimizer, variables, loss_fn):
    differentiated = {id(v) for v in variables}
    others = [v for v in _model_variables if id(v) not in differentiated]
    other_values = [v.value for v in others]  # read through the outer scope

    def loss_of(values):
        global _scoped_variables
        mapping = list(zip(variables, values)) + list(zip(others, other_values))
        _scoped_variables = list(variables) + others
        try:
            with keras.StatelessScope(state_mapping=mapping) as scope:
                loss, parts = loss_fn()
        finally:
            _scoped_variables = []
        written = [scope.get_current_value(v) for v in others]
        written = [new if new is not old else None for new, old in zip(written, other_values)]
        return optimizer.scale_loss(loss), (loss, parts, written)  # scaled: mixed_float16

    (_, (loss, parts, written)), grads = jax.value_and_grad(loss_of, has_aux=True)(
        [v.value for v in variables]
    )
    for variable, new in zip(others, written):
        if new is not None:
            variable.assign(new)
    # The stateless update: a LossScaleOptimizer's finite check is a lax.cond, whose branches
    # must not write variables.
    slots = optimizer.variables
    values, slot_values = optimizer.stateless_apply(
        [v.value for v in slots], grads, [v.value for v in variables]
    )
    for variable, value in zip(list(variables) + list(slots), values + slot_values):
        variable.assign(value)
    return loss, parts


def input_gradients(fn, inputs):
    scoped = list(_scoped_variables)
    values = [v.value for v in scoped]  # read through the loss's scope: traced values

    def run(*xs):
        with keras.StatelessScope(state_mapping=list(zip(scoped, values))) as scope:
            value, extra = fn(*xs)
        written = [scope.get_current_value(v) for v in scoped]
        written = [new if new is not old else None for new, old in zip(written, values)]
        return value, (extra, written)

    value, pullback, (extra, written) = jax.vjp(run, *inputs, has_aux=True)
    for variable, new in zip(scoped, written):
        if new is not None:
            variable.assign(new)
    return value, extra, list(pullback(jax.numpy.ones_like(value)))


def train_step(model, step, state, data):
    groups = (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )
    mapping = [pair for group, values in zip(groups, state) for pair in zip(group, values)]
    global _model_variables
    _model_variables = groups[0] + groups[1] + groups[2]  # groups[2]: the step count, for schedules
    try:
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = step(data)
        return logs, tuple([scope.get_current_value(v) for v in group] for group in groups)
    finally:
        _model_variables = []


def keep_weights_on_error(model):
    """Keras's JAX trainer takes the variables' values out of the model while an epoch runs
    and puts back the last step's state when the epoch ends or fails. A failure in an epoch's
    first step (a bad batch from the data) has no last step's state, which left every
    variable empty; this gives the trainer the state it starts from as that fallback."""
    model._jax_state = {
        "trainable_variables": [v.value for v in model.trainable_variables],
        "non_trainable_variables": [v.value for v in model.non_trainable_variables],
        "optimizer_variables": [v.value for v in model.optimizer.variables],
        "metrics_variables": [v.value for v in model.metrics_variables],
    }


def default_jit_compile():
    return True
