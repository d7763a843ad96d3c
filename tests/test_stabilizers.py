"""Stabilisers: one-sided label smoothing and annealed instance noise, by hand and in training."""

import warnings

import keras
import numpy as np
import pytest
from conftest import tiny_dcgan
from keras import ops

from gan_zoo import DAMSM, AttnGAN, StackGAN, losses, stabilizers
from gan_zoo.data import make_dataset


def bce(logits, target):
    p = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype="float64")))
    return float(np.mean(-(target * np.log(p) + (1.0 - target) * np.log(1.0 - p))))


def test_instance_noise_falls_linearly_to_zero():
    values = [
        float(ops.convert_to_numpy(stabilizers.instance_noise_scale(step, 0.2, 4)))
        for step in (0, 1, 2, 4, 10)
    ]
    np.testing.assert_allclose(values, [0.2, 0.15, 0.1, 0.0, 0.0], atol=1e-7)


def test_label_smoothing_moves_only_the_real_targets():
    real, wrong, fake = np.array([2.0, -1.0]), np.array([0.5, 1.5]), np.array([-0.3, 0.7])
    total, parts = losses.matching_aware_discriminator_loss(real, wrong, fake, 0.5, real_label=0.9)
    assert float(parts["d_real"]) == pytest.approx(bce(real, 0.9), rel=1e-5)
    assert float(parts["d_wrong"]) == pytest.approx(bce(wrong, 0.0), rel=1e-5)
    assert float(parts["d_fake"]) == pytest.approx(bce(fake, 0.0), rel=1e-5)
    expected = bce(real, 0.9) + 0.5 * bce(wrong, 0.0) + 0.5 * bce(fake, 0.0)
    assert float(total) == pytest.approx(expected, rel=1e-5)
    _, parts = losses.conditional_and_unconditional_discriminator_loss(
        real, wrong, fake, wrong, real, real_label=0.8
    )
    assert float(parts["d_real"]) == pytest.approx(bce(real, 0.8), rel=1e-5)
    assert float(parts["d_real_uncond"]) == pytest.approx(bce(wrong, 0.8), rel=1e-5)
    assert float(parts["d_fake_uncond"]) == pytest.approx(bce(real, 0.0), rel=1e-5)


@pytest.mark.parametrize(
    "setting, words",
    [
        ({"label_smoothing": 1.0}, "label_smoothing must be in"),
        ({"label_smoothing": -0.1}, "label_smoothing must be in"),
        ({"instance_noise": -0.5}, "instance_noise is a standard deviation"),
        ({"instance_noise_steps": 0}, "instance_noise_steps must be at least 1"),
        ({"generator_ema": 1.0}, "generator_ema is a moving average's momentum, in \\[0, 1\\)"),
    ],
)
def test_settings_out_of_range_are_refused(shapes32, setting, words):
    with pytest.raises(ValueError, match=words):
        tiny_dcgan(shapes32[3], **setting)


def test_discriminator_sees_noise_of_the_scheduled_sigma(shapes32):
    model = tiny_dcgan(shapes32[3], instance_noise=0.5, instance_noise_steps=100)
    model.compile()
    model.optimizer.iterations.assign(50)
    images = np.full((64, 32, 32, 3), 0.25, dtype="float32")
    seen = ops.convert_to_numpy(model.discriminator_view(images))
    assert np.std(seen) == pytest.approx(0.25, rel=0.03)
    assert np.mean(seen) == pytest.approx(0.25, abs=0.01)
    plain = tiny_dcgan(shapes32[3])
    assert plain.discriminator_view(images) is images


def test_instance_noise_anneals_step_by_step_inside_the_compiled_step(shapes32):
    """The logged σ is each epoch's mean over its steps, read from the step counter at run time
    (a value frozen when the step was traced would log 1.0 every epoch)."""
    images, captions, _, vocab = shapes32
    model = tiny_dcgan(vocab, instance_noise=1.0, instance_noise_steps=4)
    model.compile()
    data = make_dataset(
        images[:32], captions[:32], vocab, batch_size=16, seed=0
    )  # two steps an epoch
    history = model.fit(data, epochs=3, verbose=0)
    np.testing.assert_allclose(history.history["instance_noise"], [0.875, 0.375, 0.0], atol=1e-6)


def test_label_smoothing_keeps_the_discriminator_from_certainty(shapes32):
    """A real target of 0.7 instead of 1 makes D less sure of real images: after the same
    training its mean σ(logit) on them is lower (by 0.21-0.25 for seeds 0 and 1 on each backend)."""
    images, captions, _, vocab = shapes32

    def real_confidence(**setting):
        model = tiny_dcgan(vocab, **setting)
        model.compile()
        model.fit(make_dataset(images, captions, vocab, batch_size=32, seed=0), epochs=8, verbose=0)
        tokens = vocab.encode([c[0] for c in captions], model.max_length)
        condition = model.text_encoder(tokens, training=False)[1]
        real = ops.convert_to_tensor(images.astype("float32") / 127.5 - 1.0)
        logits = model.discriminator([real, condition], training=False)
        return float(np.mean(ops.convert_to_numpy(ops.sigmoid(logits))))

    smoothed, plain = real_confidence(label_smoothing=0.3), real_confidence()
    assert plain > smoothed + 0.1


@pytest.mark.parametrize("build", ["dcgan", "stackgan", "attngan"])
def test_every_model_trains_with_all_three_and_keeps_them_when_saved(shapes32, tmp_path, build):
    images, captions, _, vocab = shapes32
    keras.utils.set_random_seed(0)
    setting = dict(
        label_smoothing=0.1, instance_noise=0.1, instance_noise_steps=50, generator_ema=0.5
    )
    if build == "dcgan":
        model = tiny_dcgan(vocab, **setting)
    elif build == "stackgan":
        model = StackGAN.from_preset("small", vocabulary=vocab, image_size=32, seed=0, **setting)
    else:
        model = AttnGAN.from_preset(
            "small",
            damsm=DAMSM(vocab, image_encoder="small", image_size=32, seed=0),
            seed=0,
            **setting,
        )
    model.compile()
    assert model.g_optimizer.use_ema and not model.d_optimizer.use_ema
    start = [keras.ops.convert_to_numpy(v).copy() for v in model.generator.trainable_variables]
    data = make_dataset(images, captions, vocab, batch_size=32, seed=0)
    logs = model.fit(data, epochs=1, verbose=0).history
    assert all(np.isfinite(values[-1]) for values in logs.values())
    assert logs["instance_noise"][-1] == pytest.approx(0.1 * (1 - 1.5 / 50), rel=1e-5)
    averages = {
        id(v): a
        for v, a in zip(
            model.g_optimizer._trainable_variables,
            model.g_optimizer._model_variables_moving_average,
        )
    }
    for before, v in zip(
        start, model.generator.trainable_variables
    ):  # G took its average at fit's end
        now = keras.ops.convert_to_numpy(v)
        np.testing.assert_array_equal(now, keras.ops.convert_to_numpy(averages[id(v)]))
        assert not np.array_equal(now, before)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert (
        loaded.label_smoothing,
        loaded.instance_noise,
        loaded.instance_noise_steps,
        loaded.generator_ema,
    ) == (0.1, 0.1, 50, 0.5)
    np.testing.assert_array_equal(
        loaded.generate(["a red circle"], seed=3), model.generate(["a red circle"], seed=3)
    )


def test_a_given_generator_optimizer_without_an_average_is_warned_about(shapes32):
    model = tiny_dcgan(shapes32[3], generator_ema=0.9)
    with pytest.warns(UserWarning, match="generator_ema=0.9 is kept by the default G optimizer"):
        model.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    with warnings.catch_warnings(record=True) as caught:  # an optimizer that averages: no warning
        warnings.simplefilter("always")
        model.compile(
            keras.optimizers.Adam(use_ema=True, ema_momentum=0.9), keras.optimizers.Adam()
        )
    assert not [w for w in caught if "generator_ema" in str(w.message)]
    assert model.g_optimizer.use_ema


def test_callbacks_see_the_generator_average_and_training_goes_on_from_its_own_weights(
    shapes32, tmp_path
):
    """Inside `averaged_generator()` G holds its moving average, after it its training weights;
    the quality monitor measures through it, so its last value is that of the G `fit` ends with."""
    from gan_zoo.callbacks import QualityMonitor

    images, captions, _, vocab = shapes32
    model = tiny_dcgan(vocab, generator_ema=0.5)
    with model.averaged_generator():  # not compiled: nothing to swap
        pass
    model.compile()
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch:
                return

            def weights():
                return [ops.convert_to_numpy(v).copy() for v in model.generator.trainable_variables]

            optimizer = model.g_optimizer
            averages = {
                id(v): ops.convert_to_numpy(a).copy()
                for v, a in zip(
                    optimizer._trainable_variables, optimizer._model_variables_moving_average
                )
            }
            seen["training"], seen["sample"] = weights(), model.generate(["a red circle"], seed=1)
            with model.averaged_generator():
                seen["inside"], seen["average_sample"] = (
                    weights(),
                    model.generate(["a red circle"], seed=1),
                )
                with model.averaged_generator():  # nested: still the average, not swapped back
                    seen["nested"] = weights()
            seen["after"] = weights()
            seen["averages"] = [averages[id(v)] for v in model.generator.trainable_variables]

    monitor = QualityMonitor(images, captions, str(tmp_path / "quality.png"), num_samples=64)
    model.fit(
        make_dataset(images, captions, vocab, batch_size=32, seed=0),
        epochs=2,
        verbose=0,
        callbacks=[Probe(), monitor],
    )
    for inside, nested, average, after, training in zip(
        seen["inside"], seen["nested"], seen["averages"], seen["after"], seen["training"]
    ):
        np.testing.assert_array_equal(inside, average)
        np.testing.assert_array_equal(nested, average)
        np.testing.assert_array_equal(after, training)
    assert not all(np.array_equal(a, t) for a, t in zip(seen["averages"], seen["training"]))
    assert not np.array_equal(seen["sample"], seen["average_sample"])
    assert monitor.history["fid"][-1] == pytest.approx(monitor.measure()["fid"], rel=1e-6)
