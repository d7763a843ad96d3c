"""TensorFlow: a GradientTape around the loss (nested, for gradients of gradients)."""

import tensorflow as tf


def minimize(optimizer, variables, loss_fn):
    with tf.GradientTape() as tape:
        loss, parts = loss_fn()
        scaled = optimizer.scale_loss(loss)  # a LossScaleOptimizer's scale (mixed_float16)
        # Under a tf.distribute strategy each replica's mean is over its share of the batch and
        # the replicas' gradients are summed: divide, as Keras's own losses do. The returned
        # loss stays unscaled, so the logs show the batch mean.
        scaled = scaled / tf.distribute.get_strategy().num_replicas_in_sync
    optimizer.apply(tape.gradient(scaled, variables), variables)
    return loss, parts


def train_step(model, step, data):
    return step(data)


def default_jit_compile():
    return not tf.distribute.has_strategy()


def input_gradients(fn, inputs):
    # An inner tape; the outer one (minimize's) records its gradient computation too.
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(inputs)
        value, extra = fn(*inputs)
        total = tf.reduce_sum(tf.cast(value, tf.float32))
    gradients = tape.gradient(total, inputs, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return value, extra, gradients
