"""One train step of each model on the backend in KERAS_BACKEND, from weights in a file.

Run by test_backends.py in one subprocess per backend, which runs every configuration that
backend is tested in:
    python backend_step.py WEIGHTS_DIR OUT_DIR DEVICES:XLA [DEVICES:XLA ...]
writing OUT_DIR/DEVICES-XLA.npz for each. The first run saves the weights it builds from a
fixed seed into WEIGHTS_DIR; later runs load them. The weights are seeded: a fresh random build
can leave units on a ReLU's kink, where the last bit of rounding decides the gradient (one
build in eight made TensorFlow with and without XLA disagree in one conv channel by 1,000x
the rest, 10% of an update). The noise comes in through the batch ("latent"), the batch is
not shuffled, dropout is 0 and the optimizers are SGD, so the updated weights depend only on
the gradients, which every backend must get the same.

With DEVICES > 1 the step runs data-parallel over that many CPU devices: JAX through
keras.distribution.DataParallel, TensorFlow through a MirroredStrategy with synchronized
BatchNorm. The process makes the largest DEVICES count's devices at its start (the caller sets
JAX's XLA_FLAGS; TensorFlow's logical CPUs are made here); a one-device run uses the first.
The batch's two halves are identical, so each replica's rolled (mismatched) pairs are the
global batch's. XLA is "default" (the model's own choice) or "off".
"""

import contextlib
import os
import sys

import keras
import numpy as np

from gan_zoo import DCGANCLS, StackGAN, TextEncoder, Vocabulary
from gan_zoo.data import shapes


def models(vocab):
    def encoder():
        return TextEncoder(
            len(vocab), embedding_dim=16, hidden_dim=8, dropout=0.0, name="text_encoder"
        )

    yield (
        "dcgan",
        DCGANCLS(
            vocabulary=vocab, image_size=32, ngf=8, ndf=8, text_dim=16, text_encoder=encoder()
        ),
    )
    yield (
        "stackgan1",
        StackGAN.from_preset("small", vocabulary=vocab, image_size=32, text_encoder=encoder()),
    )
    # the remedies with no randomness of their own, R1's gradient of a gradient among them
    # (DiffAugment draws from each backend's own random stream; MA-GP's 6th power blows up
    # under these SGD steps, and test_dfgan.py trains it on every backend)
    yield (
        "dcgan_remedies",
        DCGANCLS(
            vocabulary=vocab,
            image_size=32,
            ngf=8,
            ndf=8,
            text_dim=16,
            text_encoder=encoder(),
            adversarial_loss="hinge",
            spectral_norm=True,
            r1_gamma=1.0,
            d_steps=2,
            projection=True,
        ),
    )


# compared across backends only, in each one's default compilation: the data-parallel runs
# and TensorFlow's run without XLA (their reference) compare the papers' steps
ACROSS_BACKENDS_ONLY = ("dcgan_remedies",)


def make_devices(devices):
    """TensorFlow's logical CPUs, made before its runtime starts (JAX's come from XLA_FLAGS)."""
    if devices > 1 and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * devices
        )


@contextlib.contextmanager
def distribution_scope(devices):
    """A context in which models are built and trained on `devices` CPU devices."""
    if devices == 1:
        yield
    elif keras.backend.backend() == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        try:
            yield
        finally:
            keras.distribution.set_distribution(None)
    else:
        import tensorflow as tf

        with tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(devices)]).scope():
            yield


def run(weights_dir, out, devices, xla):
    """One step of each model on `devices` devices, its results saved to `out`."""
    keras.backend.clear_session()  # layer names (the variables' paths) start afresh each run
    keras.utils.set_random_seed(0)
    images, captions, _ = shapes.load(num_images=4, image_size=32, seed=0)
    images, captions = np.concatenate([images, images]), captions + captions
    vocab = Vocabulary.build(captions)
    result = {"devices": np.int64(devices)}
    with distribution_scope(devices):
        for name, model in models(vocab):
            if name in ACROSS_BACKENDS_ONLY and (devices > 1 or xla == "off"):
                continue
            path = os.path.join(weights_dir, f"{name}.weights.h5")
            if os.path.exists(path):
                model.load_weights(path)
            else:
                model.save_weights(path)
            if devices > 1 and keras.backend.backend() == "tensorflow":
                for layer in model._flatten_layers():  # statistics over the global batch
                    if isinstance(layer, keras.layers.BatchNormalization):
                        layer.synchronized = True
            model.compile(
                g_optimizer=keras.optimizers.SGD(0.1),
                d_optimizer=keras.optimizers.SGD(0.1),
                jit_compile=False if xla == "off" else None,
            )
            latent = (
                np.random.default_rng(0).standard_normal((4, model.latent_dim)).astype("float32")
            )
            batch = {
                "images": images.astype("float32") / 127.5 - 1.0,
                "tokens": vocab.encode([c[0] for c in captions], model.max_length),
                "latent": np.concatenate([latent, latent]),
            }
            initial = {v.path: keras.ops.convert_to_numpy(v) for v in model.variables}
            # unshuffled: the rows' order decides the mismatched (rolled) pairs, and fit's
            # shuffle draws from each backend's own unseeded random stream
            history = model.fit(batch, batch_size=8, epochs=1, verbose=0, shuffle=False).history
            for key, values in history.items():
                result[f"{name}/loss/{key}"] = np.float64(values[-1])
            for variable in model.variables:
                result[f"{name}/var/{variable.path}"] = keras.ops.convert_to_numpy(variable)
                result[f"{name}/init/{variable.path}"] = initial[variable.path]
            # the optimizers' state, in its fixed order: each player's step count and the one
            # the instance-noise schedule reads
            for i, variable in enumerate(model.optimizer.variables):
                result[f"{name}/optimizer/{i}"] = keras.ops.convert_to_numpy(variable)
            result[f"{name}/steps"] = np.array(
                [
                    int(keras.ops.convert_to_numpy(o.iterations))
                    for o in (model.g_optimizer, model.d_optimizer, model.optimizer)
                ]
            )
    np.savez(out, **result)


def main(weights_dir, out_dir, *configs):
    configs = [(int(devices), xla) for devices, xla in (c.split(":") for c in configs)]
    make_devices(max(devices for devices, _ in configs))
    for devices, xla in configs:
        run(weights_dir, os.path.join(out_dir, f"{devices}-{xla}.npz"), devices, xla)


if __name__ == "__main__":
    main(*sys.argv[1:])
