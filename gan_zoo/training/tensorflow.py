"""TensorFlow: a GradientTape around the loss."""

import tensorflow as tf


def value_and_grad(loss_fn, variables):
    with tf.GradientTape() as tape:
        loss, parts = loss_fn()
    return (loss, parts), tape.gradient(loss, variables)
