"""The remedies of gan_zoo.remedies: the three adversarial losses by hand, the gradient
penalties against finite differences (and their own gradient, a gradient of a gradient),
spectral normalisation's σ, DiffAugment, and one training step of every model with every
option on, saved and reloaded. Runs on each backend of `make test`."""

import keras
import numpy as np
import pytest
from conftest import tiny_dcgan, trainable_count
from keras import ops
from model_harness import assert_reload_gives_the_same

from gan_zoo import DAMSM, DCGANCLS, AttnGAN, StackGAN, losses, remedies, training
from gan_zoo.data import make_dataset
from gan_zoo.layers import augment
from gan_zoo.layers.blocks import SpectralNormalization


def as_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def softplus(x):
    return np.log1p(np.exp(x))


# ----------------------------------------------------------------- the losses by hand
REAL, WRONG, FAKE = (
    np.array([2.0, -0.5, 0.3]),
    np.array([0.5, 1.5, -2.0]),
    np.array([-1.2, 0.7, 0.0]),
)
HAND = {  # D on real (target t), D on fake, G on fake: each loss's per-logit formula
    "bce": (
        lambda x, t: t * softplus(-x) + (1 - t) * softplus(x),
        lambda x: softplus(x),
        lambda x: softplus(-x),
    ),
    "hinge": (lambda x, t: np.maximum(0, 1 - x), lambda x: np.maximum(0, 1 + x), lambda x: -x),
    "lsgan": (lambda x, t: (x - t) ** 2, lambda x: x**2, lambda x: (x - 1) ** 2),
}


@pytest.mark.parametrize("loss", losses.ADVERSARIAL_LOSSES)
def test_each_adversarial_loss_against_a_hand_computation(loss):
    on_real, on_fake, for_g = HAND[loss]
    label = 1.0 if loss == "hinge" else 0.9  # hinge takes no smoothing
    mask = np.array([1.0, 0.0, 1.0])
    total, parts = losses.matching_aware_discriminator_loss(
        REAL, WRONG, FAKE, 0.5, mask, real_label=label, loss=loss
    )
    real = np.mean(on_real(REAL, label))
    wrong = np.sum(on_fake(WRONG) * mask) / 2  # the masked-out pair left out
    fake = np.mean(on_fake(FAKE))
    np.testing.assert_allclose(
        [as_numpy(parts[k]) for k in ("d_real", "d_wrong", "d_fake")],
        [real, wrong, fake],
        rtol=1e-5,
    )
    np.testing.assert_allclose(as_numpy(total), real + 0.5 * wrong + 0.5 * fake, rtol=1e-5)
    total, parts = losses.conditional_and_unconditional_discriminator_loss(
        REAL, WRONG, FAKE, FAKE, REAL, real_label=label, loss=loss
    )
    uncond_real, uncond_fake = np.mean(on_real(FAKE, label)), np.mean(on_fake(REAL))
    wrong = np.mean(on_fake(WRONG))
    expected = (real + uncond_real) / 2 + (fake + wrong + uncond_fake) / 3
    np.testing.assert_allclose(as_numpy(total), expected, rtol=1e-5)
    weights = np.array([1.0, 1.0, 0.5])
    np.testing.assert_allclose(
        as_numpy(losses.generator_loss(FAKE, weights, loss)),
        np.mean(for_g(FAKE) * weights),
        rtol=1e-5,
    )


def test_the_hinge_loss_refuses_a_smoothed_label_and_unknown_losses_are_named():
    with pytest.raises(ValueError, match="hinge loss takes no label smoothing"):
        losses.discriminator_term(REAL, True, "hinge", real_label=0.9)
    with pytest.raises(ValueError, match="Unknown adversarial loss 'wgan'"):
        losses.generator_loss(FAKE, loss="wgan")


# ----------------------------------------------------------------- the gradient penalties
def tiny_discriminator():
    """D(x [B, 3, 3, 2], e [B, 3]) -> [B, 1], smooth (tanh) and with rows independent."""
    keras.utils.set_random_seed(1)
    x, e = keras.Input((3, 3, 2)), keras.Input((3,))
    h = keras.layers.Concatenate()([keras.layers.Flatten()(x), e])
    h = keras.layers.Dense(5, activation="tanh")(h)
    return keras.Model([x, e], keras.layers.Dense(1)(h))


def finite_difference_gradients(d, images, condition, eps=1e-2):
    """Each row's ∇_x D and ∇_e D by central differences, every shifted input in one batch."""
    rows = len(images)
    grads = []
    for which in (0, 1):
        flat = [images, condition][which].reshape(rows, -1)
        width = flat.shape[1]
        shifts = np.concatenate([np.eye(width), -np.eye(width)]) * eps  # [2·width, width]
        moved = (flat[None] + shifts[:, None]).reshape(-1, width)  # [2·width·rows, width]
        inputs = [np.tile(images, (2 * width, 1, 1, 1)), np.tile(condition, (2 * width, 1))]
        inputs[which] = moved.reshape((-1,) + inputs[which].shape[1:])
        logits = as_numpy(d([x.astype("float32") for x in inputs])).reshape(2, width, rows)
        grads.append(((logits[0] - logits[1]) / (2 * eps)).T)  # [rows, width]
    return grads


def penalty_inputs():
    rng = np.random.default_rng(0)
    return rng.normal(size=(4, 3, 3, 2)), rng.normal(size=(4, 3))


def test_r1_and_ma_gp_match_finite_difference_gradient_norms():
    d = tiny_discriminator()
    images, condition = penalty_inputs()
    settings = remedies.Remedies(r1_gamma=3.0, ma_gp=2.0)
    logits, extra, penalties = settings.real_pair(
        lambda x, e: (d([x, e]), "features"),
        ops.convert_to_tensor(images.astype("float32")),
        ops.convert_to_tensor(condition.astype("float32")),
    )
    gx, ge = finite_difference_gradients(d, images, condition)
    image_squares, all_squares = np.sum(gx**2, 1), np.sum(gx**2, 1) + np.sum(ge**2, 1)
    assert np.all(np.sum(ge**2, 1) > 1e-3)  # the sentence's gradient counts in MA-GP
    np.testing.assert_allclose(as_numpy(penalties["d_r1"]), 1.5 * np.mean(image_squares), rtol=1e-3)
    np.testing.assert_allclose(
        as_numpy(penalties["d_ma_gp"]), 2.0 * np.mean(all_squares**3), rtol=5e-3
    )
    np.testing.assert_allclose(as_numpy(logits), as_numpy(d([images, condition])), rtol=1e-6)
    assert extra == "features"
    only_r1 = remedies.Remedies(r1_gamma=1.0).real_pair(
        lambda x, e: (d([x, e]), 0), images, condition
    )
    assert set(only_r1[2]) == {"d_r1"}


def test_the_penalty_trains_d_through_its_gradient_of_a_gradient():
    """One SGD step (rate 1) down the penalties moves each weight by minus the penalty's
    derivative, which central differences of the penalty in that weight give."""
    d = tiny_discriminator()
    images, condition = (ops.convert_to_tensor(a.astype("float32")) for a in penalty_inputs())
    settings = remedies.Remedies(r1_gamma=4.0, ma_gp=0.5)

    def penalty():
        penalties = settings.real_pair(lambda x, e: (d([x, e]), None), images, condition)[2]
        return sum(penalties.values())

    kernel = d.layers[-2].kernel  # the hidden Dense's
    start = as_numpy(kernel)
    expected, indices = [], [(0, 0), (5, 2), (20, 4)]
    for index in indices:
        values = []
        for sign in (1, -1):
            moved = start.copy()
            moved[index] += sign * 1e-2
            kernel.assign(moved.astype("float32"))
            values.append(as_numpy(penalty()))
        expected.append((values[0] - values[1]) / 2e-2)
    kernel.assign(start.astype("float32"))
    hidden = d.layers[-2].trainable_variables  # the output bias does not touch the gradients
    optimizer = keras.optimizers.SGD(1.0)
    optimizer.build(hidden)
    training.minimize(optimizer, hidden, lambda: (penalty(), {}))
    moved = start - as_numpy(kernel)
    assert np.all(np.abs(expected) > 1e-3)
    np.testing.assert_allclose([moved[i] for i in indices], expected, rtol=2e-2)


# ----------------------------------------------------------------- spectral normalisation
def spectral_layers(model):
    return [layer for layer in model._flatten_layers() if isinstance(layer, SpectralNormalization)]


def largest_singular_value(matrix):
    return np.linalg.svd(matrix, compute_uv=False)[0]


def test_spectral_norm_brings_each_layers_largest_singular_value_to_one(shapes32):
    vocab = shapes32[3]
    plain = tiny_dcgan(vocab, image_size=16)
    normed = tiny_dcgan(vocab, image_size=16, spectral_norm=True)
    assert trainable_count(plain.discriminator) == trainable_count(normed.discriminator)
    wrapped = spectral_layers(normed.discriminator)
    # 2 convs down, the residual block's 3, the text's dense, the 1x1 and the last conv
    assert len(wrapped) == 8
    images = np.random.default_rng(0).normal(size=(4, 16, 16, 3)).astype("float32")
    condition = np.random.default_rng(1).normal(size=(4, normed.condition_dim)).astype("float32")
    for layer in wrapped:  # each training call runs and keeps power iterations (1 by default)
        layer.power_iterations = 100  # here more: a kernel whose top two singular values are
        # close converges slowly (25 x 4 iterations once left an estimate 4.5% off on JAX)
    for _ in range(4):
        normed.discriminator([images, condition], training=True)
    for layer in wrapped:
        kernel = as_numpy(layer.kernel).reshape(-1, layer.kernel.shape[-1])
        u = as_numpy(layer.vector_u)
        v = u @ kernel.T / np.linalg.norm(u @ kernel.T)
        sigma = (v @ kernel @ u.T).item()  # the layer's estimate, from its stored vector
        assert largest_singular_value(kernel / sigma) == pytest.approx(1.0, rel=0.01)
        assert not largest_singular_value(kernel) == pytest.approx(1.0, rel=0.1)


# ----------------------------------------------------------------- DiffAugment
def augmented(images, policy, seed):
    return as_numpy(
        augment.diff_augment(
            ops.convert_to_tensor(images),
            augment.parse_policy(policy),
            keras.random.SeedGenerator(seed),
        )
    )


def test_diff_augment_is_deterministic_for_a_seed_and_the_same_draw_for_real_and_fake():
    rng = np.random.default_rng(0)
    real, fake = (rng.uniform(-1, 1, size=(6, 16, 16, 3)).astype("float32") for _ in range(2))
    policy = "color,translation,cutout"
    np.testing.assert_array_equal(augmented(real, policy, 3), augmented(real, policy, 3))
    assert not np.allclose(augmented(real, policy, 3), augmented(real, policy, 4))
    ones = np.ones_like(real)
    # one seed, one draw: the same pixels erased and moved out for real and generated images
    for policy in ("translation", "cutout", "translation,cutout"):
        kept_real = augmented(real, policy, 5) != 0
        kept_fake = augmented(fake, policy, 5) != 0
        np.testing.assert_array_equal(kept_real, kept_fake)
        np.testing.assert_array_equal(kept_real, augmented(ones, policy, 5) != 0)
    assert np.mean(augmented(ones, "cutout", 5) == 0) == pytest.approx(0.25, abs=0.1)


def test_translation_moves_whole_images_within_an_eighth():
    image = np.zeros((8, 16, 16, 1), "float32")
    image[:, 8, 8, 0] = 1.0
    moved = augmented(image, "translation", 0)
    shifts = set()
    for row in moved[..., 0]:
        assert np.sum(row) == 1.0 and np.max(row) == 1.0  # 2 px in 16 cannot push it out
        y, x = np.argwhere(row == 1.0)[0]
        shifts.add((y - 8, x - 8))
    assert all(abs(dy) <= 2 and abs(dx) <= 2 for dy, dx in shifts)
    assert len(shifts) > 1


def test_diff_augment_is_differentiable():
    images = np.random.default_rng(0).uniform(-1, 1, size=(4, 16, 16, 3)).astype("float32")
    for policy in ("translation,cutout", "color"):
        _, _, (grad,) = training.input_gradients(
            lambda x, p=policy: (
                augment.diff_augment(x, augment.parse_policy(p), keras.random.SeedGenerator(7)),
                None,
            ),
            [images],
        )
        grad = as_numpy(grad)
        assert np.all(np.isfinite(grad)) and np.any(grad != 0)
        if policy == "translation,cutout":  # linear, 0/1: each kept pixel counts once
            assert set(np.unique(grad)) <= {0.0, 1.0}
            assert grad.sum() == augmented(np.ones_like(images), policy, 7).sum()


@pytest.mark.parametrize(
    "policy, words",
    [
        ("translation,flip", "flips are never used, because captions name positions"),
        ("rotate", "unknown policy 'rotate'.*color, translation, cutout"),
        (3, "unknown policy 3"),
    ],
)
def test_unknown_augmentation_policies_are_refused(shapes32, policy, words):
    with pytest.raises(ValueError, match=words):
        tiny_dcgan(shapes32[3], diff_augment=policy)


# ----------------------------------------------------------------- options, bad input
@pytest.mark.parametrize(
    "setting, words",
    [
        ({"r1_gamma": -1.0}, "r1_gamma is the R1 penalty's γ and must be a finite number ≥ 0"),
        ({"ma_gp": float("nan")}, "ma_gp is the MA-GP penalty's weight"),
        ({"adversarial_loss": "wgan"}, "adversarial_loss must be one of"),
        ({"d_steps": 0}, "d_steps \\(D updates per G update\\) must be ≥ 1"),
        ({"d_steps": 1.5}, "d_steps must be an integer ≥ 1"),
        ({"g_learning_rate": 0}, "g_learning_rate must be a positive learning rate"),
        ({"spectral_norm": "yes"}, "spectral_norm must be True or False"),
        ({"wrong_pairs": "hardest"}, "wrong_pairs must be one of \\('rolled', 'similar'\\)"),
        (
            {"adversarial_loss": "hinge", "label_smoothing": 0.1},
            "adversarial_loss='hinge' takes no label_smoothing",
        ),
    ],
)
def test_bad_remedy_options_are_refused_naming_the_option(shapes32, setting, words):
    with pytest.raises(ValueError, match=words):
        tiny_dcgan(shapes32[3], **setting)


@pytest.fixture(scope="module")
def damsm(shapes32):
    return DAMSM(shapes32[3], image_encoder="small", image_size=16, seed=0)


def test_a_projection_head_is_refused_where_there_is_none(damsm):
    with pytest.raises(ValueError, match="projection=True: this model has no projection"):
        AttnGAN.from_preset("small", damsm=damsm, base_size=8, projection=True)


@pytest.mark.once
def test_the_projection_head_adds_one_linear_map_of_the_sentence(shapes32):
    vocab = shapes32[3]
    plain, projected = tiny_dcgan(vocab), tiny_dcgan(vocab, projection=True)
    extra = trainable_count(projected.discriminator) - trainable_count(plain.discriminator)
    assert extra == plain.condition_dim * 4 * 8  # sentence -> 4·ndf channels at 4x4 (32 px)
    stage1 = StackGAN.from_preset("small", vocabulary=vocab, image_size=16, seed=0)
    with_head = StackGAN.from_preset(
        "small", vocabulary=vocab, image_size=16, seed=0, projection=True
    )
    extra = trainable_count(with_head.discriminator) - trainable_count(stage1.discriminator)
    assert extra == stage1.c_dim * stage1.df * 2  # μ -> 2·df channels at 4x4 (16 px)


def test_each_player_gets_its_own_learning_rate(shapes32):
    model = tiny_dcgan(shapes32[3], learning_rate=3e-4, d_learning_rate=1e-3)
    model.compile()
    rates = [as_numpy(o.learning_rate) for o in (model.g_optimizer, model.d_optimizer)]
    np.testing.assert_allclose(rates, [3e-4, 1e-3], rtol=1e-6)


def test_penalties_under_torch_compile_are_refused_up_front(shapes32):
    model = tiny_dcgan(shapes32[3], r1_gamma=1.0)
    if keras.backend.backend() != "torch":
        model.compile(jit_compile=True)  # TensorFlow's and JAX's XLA take the double gradient
        assert model.jit_compile
        return
    with pytest.raises(ValueError, match="torch.compile .* does not support"):
        model.compile(jit_compile=True)


# ----------------------------------------------------------------- a step of every model
# DCGAN-cls takes every option at once; StackGAN and AttnGAN, whose shared
# ConditionalDiscriminator builds its own heads and penalties, one penalty each (one compiled
# step apiece keeps the JAX pass short).
OPTIONS = {
    "dcgan": dict(
        adversarial_loss="hinge",
        spectral_norm=True,
        r1_gamma=1.0,
        ma_gp=0.1,
        diff_augment="color,translation,cutout",
        g_learning_rate=1e-4,
        d_learning_rate=4e-4,
        d_steps=2,
        projection=True,
        wrong_pairs="similar",
    ),
    "stackgan": dict(
        adversarial_loss="lsgan",
        label_smoothing=0.1,
        spectral_norm=True,
        ma_gp=0.1,
        projection=True,
        wrong_pairs="similar",
    ),
    "attngan": dict(
        adversarial_loss="hinge",
        spectral_norm=True,
        r1_gamma=1.0,
        diff_augment="translation",
        wrong_pairs="similar",
    ),
}


def build(name, vocab, damsm):
    keras.utils.set_random_seed(0)
    if name == "dcgan":
        return tiny_dcgan(vocab, image_size=16, **OPTIONS[name])
    if name == "stackgan":
        return StackGAN.from_preset(
            "small", vocabulary=vocab, image_size=16, seed=0, **OPTIONS[name]
        )
    return AttnGAN.from_preset("small", damsm=damsm, base_size=8, seed=0, **OPTIONS[name])


@pytest.mark.parametrize(
    "name", ["dcgan", pytest.param("stackgan", marks=pytest.mark.xla), "attngan"]
)
def test_every_model_trains_a_step_with_the_options_and_keeps_them_when_saved(
    shapes32, damsm, tmp_path, name
):
    """On TensorFlow StackGAN's step compiles with XLA (MA-GP's double gradient under XLA)."""
    images, captions, _, vocab = shapes32
    model = build(name, vocab, damsm)
    model.compile()
    small = images[:8, ::2, ::2]  # 16 px
    logs = model.fit(
        make_dataset(small, captions[:8], vocab, batch_size=8, seed=0), epochs=1, verbose=0
    ).history
    assert set(model.remedies.logged_names) <= set(logs)
    assert all(np.isfinite(values[-1]) for values in logs.values())
    d_steps = model.remedies.d_steps
    assert (
        int(model.d_optimizer.iterations) == d_steps * int(model.g_optimizer.iterations) == d_steps
    )
    options = {k: v for k, v in OPTIONS[name].items() if k != "label_smoothing"}
    assert {k: model.get_config()[k] for k in options} == options
    if name == "attngan":  # its D's reload as StackGAN's, and its config is checked above
        return
    again = assert_reload_gives_the_same(
        model, tmp_path / "model.keras", lambda m: m.generate(["a red circle"], seed=3)
    )
    assert again.remedies.get_config() == model.remedies.get_config()


# ----------------------------------------------------------------- recipes
@pytest.mark.once
def test_a_recipe_sets_its_remedies_over_the_preset_and_arguments_override_it(shapes32):
    vocab = shapes32[3]
    stable = DCGANCLS.from_preset("small", recipe="stable", vocabulary=vocab, image_size=32)
    for name, value in DCGANCLS.RECIPES["stable"].items():
        assert stable.get_config()[name] == value, name
    assert stable.ngf == DCGANCLS.PRESETS["small"]["ngf"]  # the preset still holds
    paper = DCGANCLS.from_preset("small", vocabulary=vocab, image_size=32)
    differ = {k for k, v in stable.get_config().items() if paper.get_config()[k] != v}
    assert differ == set(DCGANCLS.RECIPES["stable"]) | {"name"}
    mine = DCGANCLS.from_preset("small", recipe="stable", vocabulary=vocab, projection=False)
    assert mine.remedies.projection is False
    with pytest.raises(ValueError, match="Unknown DCGANCLS recipe 'steady'; choose from"):
        DCGANCLS.from_preset("small", recipe="steady", vocabulary=vocab)
    with pytest.raises(ValueError, match="Unknown StackGAN recipe 'stable'"):
        StackGAN.from_preset("small", recipe="stable", vocabulary=vocab)


@pytest.mark.once
def test_the_command_line_takes_a_recipe_over_a_preset_only(tmp_path):
    from gan_zoo import cli

    common = ["train", "--model", "dcgan-cls", "--data", "shapes", "--num-images", "64"]
    common += ["--image-size", "32", "--epochs", "1", "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit, match="recipe= applies over a preset's settings: add --preset"):
        cli.main([*common, "--set", "recipe=stable"])
