"""gan_zoo's Conv2DTranspose: the native layer's outputs, gradients and weight paths, computed
without input dilation where JAX runs on the CPU."""

import keras
import numpy as np
import pytest
from conftest import tiny_dcgan

from gan_zoo.layers import Conv2DTranspose, blocks
from gan_zoo.layers.transposed_conv import _jax_on_cpu
from gan_zoo.training import minimize

# (input shape, layer arguments): DCGAN-cls's two layouts, and two left to the backend
LAYOUTS = [
    ((3, 5, 6, 7), dict(filters=4, kernel_size=4, strides=2, padding="same")),
    ((3, 1, 1, 7), dict(filters=4, kernel_size=4, strides=1, padding="valid")),
    ((3, 5, 5, 7), dict(filters=4, kernel_size=3, strides=2, padding="same")),
    ((3, 1, 1, 7), dict(filters=4, kernel_size=1, strides=2, padding="valid")),
]


def one_sgd_step(undilated, input_shape, arguments, use_bias):
    """A layer with seeded weights, its output and its weights and input after one SGD step
    on a loss that weighs every output element differently."""
    keras.utils.set_random_seed(0)
    layer = Conv2DTranspose(
        **arguments,
        use_bias=use_bias,
        activation="tanh",
        bias_initializer="random_normal",
        undilated=undilated,
    )
    rng = np.random.default_rng(0)
    inputs = keras.Variable(rng.normal(size=input_shape).astype("float32"))
    layer.build(input_shape)
    weights = rng.normal(size=layer.compute_output_shape(input_shape)[1:]).astype("float32")
    outputs = keras.ops.convert_to_numpy(keras.ops.stop_gradient(layer(inputs.value)))
    variables = layer.trainable_variables + [inputs]
    optimizer = keras.optimizers.SGD(1.0)
    optimizer.build(variables)
    minimize(
        optimizer,
        variables,
        lambda: (keras.ops.sum(keras.ops.multiply(layer(inputs), weights)), {}),
    )
    return outputs, [keras.ops.convert_to_numpy(v) for v in variables]


@pytest.mark.parametrize("input_shape, arguments", LAYOUTS)
@pytest.mark.parametrize("use_bias", [False, True])
def test_undilated_gives_the_native_outputs_and_gradients(input_shape, arguments, use_bias):
    native_outputs, native_after = one_sgd_step(False, input_shape, arguments, use_bias)
    undilated_outputs, undilated_after = one_sgd_step(True, input_shape, arguments, use_bias)
    assert undilated_outputs.shape == native_outputs.shape
    np.testing.assert_allclose(undilated_outputs, native_outputs, rtol=1e-4, atol=1e-5)
    for undilated_value, native_value in zip(
        undilated_after, native_after
    ):  # kernel, [bias], input
        np.testing.assert_allclose(undilated_value, native_value, rtol=1e-4, atol=1e-4)


def test_keras_round_trip_keeps_the_choice_to_the_loading_machine(tmp_path):
    model = keras.Sequential([keras.Input((4, 4, 3)), Conv2DTranspose(2, 4, 2, "same")])
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.layers[0], Conv2DTranspose) and loaded.layers[0].undilated is None
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x))
    )


def test_a_dcgan_saved_with_keras_own_layer_loads_and_draws_the_same(
    shapes32, tmp_path, monkeypatch
):
    """Models saved before gan_zoo had its own Conv2DTranspose hold the same weight paths."""
    vocab = shapes32[3]
    with monkeypatch.context() as patch:
        patch.setattr(blocks, "Conv2DTranspose", keras.layers.Conv2DTranspose)
        old = tiny_dcgan(vocab)
    assert not any(isinstance(layer, Conv2DTranspose) for layer in old.generator.layers)
    old.save(tmp_path / "old.keras")
    loaded = keras.models.load_model(tmp_path / "old.keras")
    assert any(isinstance(layer, Conv2DTranspose) for layer in loaded.generator.layers)
    captions = ["a red circle", "a blue square"]
    np.testing.assert_allclose(
        loaded.generate(captions, seed=1), old.generate(captions, seed=1), atol=1e-5
    )


@pytest.mark.skipif(not _jax_on_cpu(), reason="inspects JAX's lowering of the step on the CPU")
def test_jax_gradient_of_dcgan_generator_has_no_input_dilated_convolution():
    """The kernel gradient of an input-dilated convolution is XLA:CPU's slow path."""
    import re

    import jax

    from gan_zoo.models.dcgan_cls import build_generator

    def dilated_convolutions(model, inputs):
        def loss(trainable):
            non_trainable = [v.value for v in model.non_trainable_variables]
            outputs, _ = model.stateless_call(trainable, non_trainable, inputs, training=True)
            return keras.ops.sum(outputs)

        hlo = jax.jit(jax.grad(loss)).lower([v.value for v in model.trainable_variables]).as_text()
        return len(re.findall(r"convolution.*lhs_dilate = \[(?!1, 1\])", hlo))

    generator = build_generator(noise_dim=10, condition_dim=6, image_size=32, ngf=4, text_dim=4)
    assert (
        dilated_convolutions(generator, [np.zeros((2, 10), "float32"), np.zeros((2, 6), "float32")])
        == 0
    )
    native = keras.Sequential(
        [keras.Input((4, 4, 3)), Conv2DTranspose(2, 4, 2, "same", undilated=False)]
    )
    assert dilated_convolutions(native, np.zeros((2, 4, 4, 3), "float32")) > 0
