import inspect

import keras
import numpy as np
import pytest
from conftest import tiny_dcgan, trainable_count
from model_harness import assert_reload_gives_the_same

from gan_zoo import DAMSM, DCGANCLS, TextEncoder, Vocabulary, callbacks
from gan_zoo.data import make_dataset, shapes

pytestmark = pytest.mark.xdist_group("dcgan_cls")  # module fixtures: one worker runs the file


@pytest.mark.once
def test_plain_variant_matches_the_common_pytorch_port():
    """Reference §8: the plain-DCGAN GAN-CLS port (ngf = ndf = 64, 1024-d text) has a
    4,756,736-parameter G and a 2,899,072-parameter D."""
    model = DCGANCLS(embedding_dim=1024, variant="plain", ngf=64, ndf=64)
    assert trainable_count(model.generator) == 4_756_736
    assert trainable_count(model.discriminator) == 2_899_072


@pytest.mark.once
def test_birds_preset_matches_the_authors_lua_networks():
    """Counted layer by layer from main_cls_int.lua (ngf 128, ndf 64, nt 128, nz 100, 1024-d
    text). Conv biases are left out: the authors zero them before every step."""
    bn = lambda c: 2 * c  # noqa: E731  (gamma, beta)
    conv = lambda i, o, k: i * o * k * k  # noqa: E731
    generator = (
        1024 * 128
        + 128  # text Linear
        + conv(228, 1024, 4)
        + bn(1024)  # 1x1 -> 4x4
        + conv(1024, 256, 1)
        + bn(256)
        + conv(256, 256, 3)
        + bn(256)
        + conv(256, 1024, 3)
        + bn(1024)
        + conv(1024, 512, 4)
        + bn(512)  # -> 8x8
        + conv(512, 128, 1)
        + bn(128)
        + conv(128, 128, 3)
        + bn(128)
        + conv(128, 512, 3)
        + bn(512)
        + conv(512, 256, 4)
        + bn(256)
        + conv(256, 128, 4)
        + bn(128)
        + conv(128, 3, 4)
    )
    discriminator = (
        conv(3, 64, 4)
        + conv(64, 128, 4)
        + bn(128)
        + conv(128, 256, 4)
        + bn(256)
        + conv(256, 512, 4)
        + bn(512)
        + conv(512, 128, 1)
        + bn(128)
        + conv(128, 128, 3)
        + bn(128)
        + conv(128, 512, 3)
        + bn(512)
        + 1024 * 128
        + 128
        + bn(128)  # text Linear + BN
        + conv(640, 512, 1)
        + bn(512)
        + conv(512, 1, 4)
    )
    model = DCGANCLS(embedding_dim=1024)
    assert trainable_count(model.generator) == generator
    assert trainable_count(model.discriminator) == discriminator
    # With the jointly trained TextEncoder, G's text projection gains a BatchNorm (README).
    jointly = DCGANCLS(embedding_dim=1024, text_batch_norm=True)
    assert trainable_count(jointly.generator) == generator + bn(128)


@pytest.mark.once
def test_the_constructors_defaults_are_the_birds_preset():
    presets = DCGANCLS.PRESETS
    parameters = inspect.signature(DCGANCLS).parameters
    assert {key: parameters[key].default for key in presets["birds"]} == presets["birds"]
    assert all(set(settings) == set(presets["birds"]) for settings in presets.values())
    assert "preset" not in parameters


@pytest.mark.once
def test_presets_set_the_widths():
    vocab = Vocabulary.build(["a red circle"])
    assert (
        DCGANCLS(vocabulary=vocab).text_batch_norm and not DCGANCLS(embedding_dim=8).text_batch_norm
    )
    assert (DCGANCLS(vocabulary=vocab).ngf, DCGANCLS(vocabulary=vocab).ndf) == (128, 64)
    coco = DCGANCLS.from_preset("coco", vocabulary=vocab)
    assert (coco.ngf, coco.ndf, coco.text_dim, coco.d_layout) == (
        196,
        196,
        128,
        "cls",
    )  # train_coco.sh: nt 128
    birds = DCGANCLS(vocabulary=vocab)
    assert (birds.interp_weight, birds.lr_decay_every, coco.interp_weight, coco.lr_decay_every) == (
        1.0,
        100,
        0.0,
        40,
    )
    chosen = DCGANCLS.from_preset("coco", vocabulary=vocab, interp_weight=0.5, lr_decay_every=0)
    assert (chosen.interp_weight, chosen.lr_decay_every) == (0.5, 0)  # overrides, 0 included
    again = DCGANCLS.from_config(chosen.get_config())
    assert (again.interp_weight, again.lr_decay_every) == (0.5, 0)
    assert "preset" not in again.get_config()
    with pytest.raises(
        ValueError, match=r"preset 'huge'; choose from \['birds', 'coco', 'small'\]"
    ):
        DCGANCLS.from_preset("huge", vocabulary=vocab)


@pytest.mark.once
def test_the_coco_discriminator_is_main_cls_luas():
    """main_cls.lua (the COCO script) builds D with a LeakyReLU after the 8x8 conv and no
    BatchNorm on the text projection; main_cls_int.lua (birds) the other way round."""
    cls = DCGANCLS.from_preset("coco", embedding_dim=1024, image_size=64).discriminator
    cls_int = DCGANCLS.from_preset("coco", embedding_dim=1024, d_layout="cls_int").discriminator

    def leaky_relus(model):
        return sum(type(layer).__name__ == "LeakyReLU" for layer in model.layers)

    assert (
        trainable_count(cls_int) - trainable_count(cls) == 2 * 128
    )  # the text BN's gamma and beta
    assert leaky_relus(cls) == leaky_relus(cls_int) + 1
    config = DCGANCLS.from_preset("coco", embedding_dim=8, ngf=8, ndf=8, image_size=16).get_config()
    assert DCGANCLS.from_config(config).d_layout == "cls"
    with pytest.raises(ValueError, match="d_layout"):
        DCGANCLS(embedding_dim=8, d_layout="lua")


def test_output_shapes_and_dtypes(shapes32):
    *_, vocab = shapes32
    model = tiny_dcgan(vocab)
    images = model.generate(
        ["a small red circle on the left", "a big blue square at the top"],
        seed=0,
        num_per_caption=3,
    )
    assert images.shape == (6, 32, 32, 3) and images.dtype == np.uint8
    steps = model.interpolate("a red circle", "a blue square", steps=8, seed=0)
    assert steps.shape == (8, 32, 32, 3) and steps.dtype == np.uint8


@pytest.mark.xla
def test_compile_defaults_to_the_papers_adam_and_xla(shapes32):
    *_, vocab = shapes32
    model = tiny_dcgan(vocab)
    model.compile()
    # XLA on TensorFlow and JAX; on PyTorch jit_compile would mean torch.compile: off
    assert model.jit_compile is (keras.backend.backend() != "torch")
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert np.isclose(float(optimizer.learning_rate), 2e-4) and optimizer.beta_1 == 0.5
    assert model.g_optimizer is not model.d_optimizer
    assert model.get_compile_config()["jit_compile"] is None  # a reload works the default out anew
    model.compile(jit_compile=False)
    assert model.jit_compile is False and model.get_compile_config()["jit_compile"] is False


def test_compile_refuses_what_it_would_ignore_and_fit_asks_to_recompile(shapes32):
    images, captions, _, vocab = shapes32
    model = tiny_dcgan(vocab)
    with pytest.raises(ValueError, match="takes g_optimizer= and d_optimizer=, not optimizer"):
        model.compile(optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match="not loss, metrics"):
        model.compile(loss="mse", metrics=["mae"])
    with pytest.raises(ValueError, match="loss_scale_factor is not supported"):
        model.compile(keras.optimizers.Adam(loss_scale_factor=128.0), keras.optimizers.Adam())
    model.compile()
    model.text_encoder.trainable = False  # after compile: the optimizer was built without it
    batch = {
        "images": images[:8].astype("float32") / 127.5 - 1,
        "tokens": vocab.encode([c[0] for c in captions[:8]], 18),
    }
    with pytest.raises(ValueError, match="changed after compile\\(\\).*call compile\\(\\) again"):
        model.fit(batch, batch_size=8, epochs=1, verbose=0)
    with pytest.raises(TypeError):  # a compile() that fails part way leaves no usable optimizer
        model.compile(no_such_argument=1)
    with pytest.raises(RuntimeError, match="Call DCGANCLS.compile\\(\\) before fit"):
        model.fit(batch, batch_size=8, epochs=1, verbose=0)
    model.compile()
    unknown = dict(
        batch, tokens=np.full_like(batch["tokens"], len(vocab))
    )  # one past the embedding
    with pytest.raises(
        ValueError, match=f"Token id {len(vocab)} is outside this model's vocabulary"
    ):
        model.fit(unknown, batch_size=8, epochs=1, verbose=0)
    model.fit(batch, batch_size=8, epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations) == 1


@pytest.fixture(scope="module")
def trained(shapes32):
    """A tiny DCGAN-cls after 8 epochs (32 steps) on 128 shapes, with its weights from before."""
    images, captions, _, vocab = shapes32
    model = tiny_dcgan(vocab)
    model.compile()
    before = {v.path: keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables}
    history = model.fit(make_dataset(images, captions, vocab, batch_size=32), epochs=8, verbose=0)
    return model, before, history


def test_training_updates_both_players_and_the_text_encoder(trained):
    model, before, history = trained
    assert set(history.history) == set(DCGANCLS.loss_names)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    changed = {
        v.path
        for v in model.trainable_variables
        if not np.array_equal(before[v.path], keras.ops.convert_to_numpy(v))
    }
    for part in (model.generator, model.discriminator, model.text_encoder):
        assert all(v.path in changed for v in part.trainable_variables), part.name
    assert int(model.g_optimizer.iterations) == int(model.d_optimizer.iterations) == 32


def test_different_captions_give_different_images(trained):
    """The caption reaches the pixels: same z, two captions, two images (compared in float,
    before rounding, since a 32-step model still paints mostly grey)."""
    model = trained[0]
    z = np.random.default_rng(0).standard_normal((1, model.noise_dim)).astype("float32")
    a, b = (
        keras.ops.convert_to_numpy(
            model.run_generator(z, model.encode_captions([c]))["images"][model.image_size]
        )
        for c in ("a small red circle", "a big blue square at the top")
    )
    assert np.abs(a - b).mean() > 1e-3
    first = model.generate(["a small red circle"], seed=0)
    assert np.array_equal(first, model.generate(["a small red circle"], seed=0))
    assert not np.array_equal(first, model.generate(["a small red circle"], seed=1))


def test_keras_file_round_trip_generates_the_same_images(trained, tmp_path):
    prompts = ["a small red circle on the left", "a big blue square at the top"]
    assert_reload_gives_the_same(
        trained[0], tmp_path / "dcgan.keras", lambda m: m.generate(prompts, seed=7)
    )


def test_a_text_encoder_of_other_widths_survives_save_and_reload(shapes32, tmp_path):
    *_, vocab = shapes32
    model = tiny_dcgan(vocab, text_encoder=TextEncoder(len(vocab), embedding_dim=24, hidden_dim=12))
    assert model.condition_dim == 24
    assert (
        tiny_dcgan(vocab, seed=3, text_encoder={"hidden_dim": 12}).text_encoder.seed == 4
    )  # the model's seed + 1
    prompts = ["a small red circle on the left", "a big blue square at the top"]
    again = assert_reload_gives_the_same(
        model, tmp_path / "narrow.keras", lambda m: m.generate(prompts, seed=7)
    )
    assert (again.text_encoder.embedding_dim, again.text_encoder.hidden_dim) == (24, 12)


@pytest.mark.parametrize("use_tf_data", [False, True], ids=["numpy", "tf.data"])
def test_resumed_run_ends_with_the_same_weights(shapes32, tmp_path, use_tf_data):
    """Two epochs straight, against one epoch, a fresh process-like restart, and one more, on
    both of make_dataset's pipelines (crops and caption picks drawn anew each epoch)."""
    images, captions, _, vocab = shapes32
    if use_tf_data:
        pytest.importorskip("tensorflow")

    def run(epochs, directory):
        model = tiny_dcgan(vocab)
        model.compile()
        ds = make_dataset(
            images,
            captions,
            vocab,
            batch_size=32,
            seed=0,
            random_crop=True,
            use_tf_data=use_tf_data,
        )
        model.fit(ds, epochs=epochs, verbose=0, callbacks=[callbacks.Checkpoint(directory)])
        return model

    straight = run(2, tmp_path / "straight")
    run(1, tmp_path / "resumed")  # "killed" after epoch 1
    resumed = run(2, tmp_path / "resumed")
    assert callbacks.Checkpoint(tmp_path / "resumed").latest()[1] == 2
    for a, b in zip(straight.variables, resumed.variables):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), err_msg=a.path
        )
    for a, b in zip(straight.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_learning_rate_halves_on_the_authors_schedule(shapes32):
    images, captions, _, vocab = shapes32
    model = tiny_dcgan(vocab, lr_decay_every=2)
    model.compile()
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(
            (float(model.g_optimizer.learning_rate), float(model.d_optimizer.learning_rate))
        )
    )
    ds = make_dataset(images[:32], captions[:32], vocab, batch_size=32)
    model.fit(ds, epochs=4, verbose=0, callbacks=[record])
    np.testing.assert_allclose([g for g, _ in seen], [2e-4, 1e-4, 1e-4, 5e-5])
    np.testing.assert_allclose([d for _, d in seen], [2e-4, 1e-4, 1e-4, 5e-5])
    # optimizers with schedules of their own keep them: the authors' decay is not added
    decay = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=1, decay_rate=0.5)
    model.compile(g_optimizer=keras.optimizers.Adam(decay), d_optimizer=keras.optimizers.Adam(1e-4))
    with pytest.warns(UserWarning, match="own LearningRateSchedule"):
        model.fit(ds, epochs=2, verbose=0)
    assert float(model.d_optimizer.learning_rate) == pytest.approx(1e-4)
    assert float(model.g_optimizer.learning_rate) == pytest.approx(1e-3 * 0.5**2)


def test_bad_inputs_get_clear_errors(shapes32):
    images, captions, _, vocab = shapes32
    model = tiny_dcgan(vocab)
    model.compile()
    with pytest.raises(ValueError, match="empty"):
        model.generate(["a red circle", "  "])
    import tensorflow as tf

    raw = tf.data.Dataset.from_tensor_slices(
        {"images": images.astype("float32") / 127.5 - 1, "captions": [c[0] for c in captions]}
    ).batch(32)
    with pytest.raises(TypeError, match="make_dataset"):
        model.fit(raw, epochs=1, verbose=0)
    with pytest.raises(TypeError, match="raw strings"):  # numpy arrays too
        model.fit(
            {"images": images[:32] / 127.5 - 1, "tokens": np.array([c[0] for c in captions[:32]])},
            batch_size=32,
            verbose=0,
        )
    wrong_size = make_dataset(images, captions, vocab, batch_size=32, image_size=64)
    with pytest.raises(ValueError, match="32, 32, 3"):
        model.fit(wrong_size, epochs=1, verbose=0)
    other_vocab = Vocabulary.build(["completely different words"])
    mismatched = make_dataset(
        images, [["completely different"]] * len(images), other_vocab, batch_size=32
    )
    with pytest.raises(ValueError, match="different vocabulary"):
        model.fit(mismatched, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="not both"):
        DCGANCLS(vocabulary=vocab, embedding_dim=1024)
    with pytest.raises(RuntimeError, match="compile"):
        tiny_dcgan(vocab).fit(make_dataset(images, captions, vocab, batch_size=32), verbose=0)
    with pytest.raises(ValueError, match=r"max_length=18"):  # tokens padded for another model
        model.fit(
            make_dataset(images, captions, vocab, batch_size=32, max_length=10), epochs=1, verbose=0
        )
    with pytest.raises(ValueError, match="No captions"):
        model.generate([])
    with pytest.raises(ValueError, match="num_per_caption"):
        model.generate(["a red circle"], num_per_caption=0)
    with pytest.raises(ValueError, match="steps >= 2"):
        model.interpolate("a red circle", "a blue square", steps=1)


def test_precomputed_embeddings_condition_the_model(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    embeddings = rng.normal(size=(64, 40)).astype("float32")
    keras.utils.set_random_seed(0)
    model = DCGANCLS(embedding_dim=40, image_size=32, ngf=8, ndf=8, text_dim=16)
    model.compile()
    ds = [
        {"images": images[i : i + 32] / 127.5 - 1, "embeddings": embeddings[i : i + 32]}
        for i in (0, 32)
    ]
    history = model.fit(_ListDataset(ds), epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    assert model.generate(embeddings=embeddings[:3], seed=0).shape == (3, 32, 32, 3)
    with pytest.raises(ValueError, match="precomputed"):
        model.generate(["a red circle"])


class _ListDataset(keras.utils.PyDataset):
    """Ready-made batches, as a user with precomputed embeddings might feed them (with Keras 3's
    `num_batches`, no `__len__`)."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    @property
    def num_batches(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def test_the_damsm_loss_adds_lambda_times_its_word_and_sentence_terms_to_gs(shapes32, tmp_path):
    """Over a DAMSM, `damsm_weight` λ adds λ·(w_loss + s_loss) of the images of the batch's
    captions to G's loss (the same noise: the batch's latent rows); the DAMSM stays frozen while
    the model trains, and comes back from a saved file with its weight."""
    images, captions, attributes, vocab = shapes32
    damsm = DAMSM(vocab, image_encoder="small", image_size=32, seed=0)
    paper, guided = (tiny_dcgan(None, damsm=damsm, damsm_weight=w) for w in (0.0, 2.0))
    guided.set_weights(paper.get_weights())
    batch = {
        "images": images[:8].astype("float32") / 127.5 - 1.0,
        "tokens": vocab.encode([c[0] for c in captions[:8]], paper.max_length),
        "latent": np.random.default_rng(0).standard_normal((8, paper.latent_dim)),
        "labels": shapes.class_labels(attributes)[:8],
    }
    without, parts = paper.generator_loss(batch)
    with_it, guided_parts = guided.generator_loss(batch)
    assert "w_loss" not in parts
    damsm_term = float(guided_parts["w_loss"] + guided_parts["s_loss"])
    assert damsm_term > 0
    np.testing.assert_allclose(float(with_it) - float(without), 2.0 * damsm_term, rtol=1e-5)
    frozen = [keras.ops.convert_to_numpy(v) for v in damsm.weights]
    guided.compile()
    history = guided.fit(make_dataset(images[:16], captions[:16], vocab, batch_size=8), verbose=0)
    assert {"w_loss", "s_loss"} <= set(history.history)
    for before, variable in zip(frozen, damsm.weights, strict=True):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(variable))
    again = assert_reload_gives_the_same(
        guided, tmp_path / "guided.keras", lambda m: m.generate(["a red circle"], seed=0)
    )
    assert again.damsm_weight == 2.0 and isinstance(again.damsm, DAMSM)


@pytest.mark.once
def test_the_damsm_loss_needs_a_damsm_and_a_weight_of_at_least_zero(shapes32):
    vocab = shapes32[3]
    with pytest.raises(ValueError, match="damsm_weight=1.0 needs damsm="):
        tiny_dcgan(vocab, damsm_weight=1.0)
    damsm = DAMSM(vocab, image_encoder="small", image_size=32, seed=0)
    with pytest.raises(ValueError, match="damsm_weight .* ≥ 0"):
        tiny_dcgan(None, damsm=damsm, damsm_weight=-1.0)
