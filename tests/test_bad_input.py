"""The reliability catalogue, training side: every way data reach `fit`, the divergence guard,
and the models and files that must never be drawn from or saved with non-finite weights.

One row per case: what the user does, and the error (type and text) they must get. Each row
also checks that the model it ran on holds finite weights: no bad batch took a step.
"""

import os
import warnings

import keras
import numpy as np
import pytest
from conftest import tiny_dcgan

from gan_zoo import callbacks, metrics
from gan_zoo.convert.state_dict import read_state_dict
from gan_zoo.data import make_dataset
from gan_zoo.divergence import DivergenceError, DivergenceGuard


@pytest.fixture(scope="module")
def setting(shapes32):
    """A compiled tiny DCGAN-cls, float images in [-1, 1] and their tokens (16 of each)."""
    images, captions, _, vocab = shapes32
    model = tiny_dcgan(vocab)
    model.compile()
    floats = images[:16].astype("float32") / 127.5 - 1.0
    tokens = vocab.encode([c[0] for c in captions[:16]], model.max_length)
    return model, floats, tokens


def with_value(array, index, value):
    array = array.copy()
    array[index] = value
    return array


def dict_of(images=None, tokens=None):
    return lambda f, t: {
        "images": f if images is None else images(f),
        "tokens": t if tokens is None else tokens(t),
    }


def tf_data_of(images=None, tokens=None):
    def build(f, t):
        tf = pytest.importorskip("tensorflow")
        return tf.data.Dataset.from_tensor_slices(dict_of(images, tokens)(f, t)).batch(8)

    return build


def py_dataset_of(images=None, tokens=None):
    """A user's PyDataset whose second batch is the bad one: every batch is checked."""

    class Batches(keras.utils.PyDataset):
        def __init__(self, f, t):
            super().__init__()
            self.good, self.bad = {"images": f, "tokens": t}, dict_of(images, tokens)(f, t)

        def __len__(self):
            return 2

        def __getitem__(self, index):
            batch = self.bad if index else self.good
            return {key: value[:8] for key, value in batch.items()}

    return Batches


uint8 = lambda f: np.round((f + 1) * 127.5).astype("uint8")  # noqa: E731
in_0_255 = lambda f: (f + 1) * 127.5  # noqa: E731
in_0_1 = lambda f: (f + 1) / 2 + 0.5  # noqa: E731  (up to 1.5: past the slack)
nan_pixel = lambda f: with_value(f, (3, 4, 5, 1), np.nan)  # noqa: E731
inf_pixel = lambda f: with_value(f, (9, 0, 0, 2), np.inf)  # noqa: E731
far_token = lambda t: with_value(t, (2, 0), 10_000)  # noqa: E731
negative_token = lambda t: with_value(t, (5, 1), -1)  # noqa: E731

FIT_CASES = [
    ("arrays: uint8 images", dict_of(uint8), "uint8 .*images / 127.5 - 1"),
    ("arrays: floats in [0, 255]", dict_of(in_0_255), r"lie in \[-1, 1\].*x / 127.5 - 1"),
    ("arrays: floats past 1", dict_of(in_0_1), r"lie in \[-1, 1\]; these lie in"),
    ("arrays: a NaN pixel", dict_of(nan_pixel), "1 NaN or infinite"),
    ("arrays: an inf pixel", dict_of(inf_pixel), "1 NaN or infinite"),
    ("arrays: a token past the vocabulary", dict_of(tokens=far_token), "Token id 10000 is outside"),
    ("arrays: a negative token", dict_of(tokens=negative_token), "Token id -1 is outside"),
    ("tf.data: uint8 images", tf_data_of(uint8), "uint8 .*images / 127.5 - 1"),
    (
        "tf.data: floats in [0, 255]",
        tf_data_of(in_0_255),
        r"failed its check: images must lie in \[-1, 1\]",
    ),
    ("tf.data: a NaN pixel", tf_data_of(nan_pixel), "failed its check: images hold NaN or inf"),
    ("tf.data: an inf pixel", tf_data_of(inf_pixel), "failed its check: images hold NaN or inf"),
    ("tf.data: a token past the vocabulary", tf_data_of(tokens=far_token), "token id is outside"),
    ("tf.data: a negative token", tf_data_of(tokens=negative_token), "token id is outside"),
    ("PyDataset: uint8 images", py_dataset_of(uint8), "uint8 .*images / 127.5 - 1"),
    ("PyDataset: floats in [0, 255]", py_dataset_of(in_0_255), r"lie in \[-1, 1\]"),
    ("PyDataset: a NaN pixel in batch 2", py_dataset_of(nan_pixel), "1 NaN or infinite"),
    ("PyDataset: a token past the vocabulary", py_dataset_of(tokens=far_token), "Token id 10000"),
]


@pytest.mark.parametrize(
    "build, message", [c[1:] for c in FIT_CASES], ids=[c[0] for c in FIT_CASES]
)
def test_bad_data_on_every_path_into_fit_is_refused_before_its_step(setting, build, message):
    model, floats, tokens = setting
    with pytest.raises(ValueError, match=message) as caught:
        model.fit(build(floats, tokens), epochs=1, verbose=0)
    assert caught.value.__cause__ is None and "Traceback" not in str(caught.value)
    assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in model.weights)


def test_good_data_on_every_path_still_trains(setting):
    model, floats, tokens = setting
    for build in (dict_of(), tf_data_of(), py_dataset_of()):
        history = model.fit(build(floats, tokens), epochs=1, verbose=0, batch_size=8)
        assert np.isfinite(history.history["g_loss"]).all()


@pytest.fixture
def diverging(shapes32):
    """A tiny DCGAN-cls at learning rate 1e30 (NaN in its first steps), and a make_dataset."""
    images, captions, _, vocab = shapes32
    model = tiny_dcgan(vocab, learning_rate=1e30)
    model.compile()
    return model, make_dataset(images[:32], captions[:32], vocab, batch_size=16, seed=0)


def test_a_diverging_run_stops_naming_step_epoch_and_cause_and_saves_nothing(
    diverging, shapes32, tmp_path
):
    images, captions, _, vocab = shapes32
    healthy = tiny_dcgan(vocab)
    healthy.compile()
    ds = make_dataset(images[:32], captions[:32], vocab, batch_size=16, seed=0)
    healthy.fit(ds, epochs=1, verbose=0, callbacks=[callbacks.Checkpoint(tmp_path)])
    saved = sorted(os.listdir(tmp_path))
    model, ds = diverging
    model.set_weights(healthy.get_weights())
    with pytest.raises(DivergenceError, match=r"at step \d+ \(batch \d+ of epoch 2\)") as caught:
        model.fit(ds, epochs=3, verbose=0, callbacks=[callbacks.Checkpoint(tmp_path)])
    assert "learning rate too high" in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == saved  # the epoch-1 checkpoint, untouched
    again = tiny_dcgan(vocab)
    again.compile()
    assert callbacks.Checkpoint(tmp_path).restore(again) == 1
    assert all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in again.weights)


def test_without_the_guard_a_nan_is_still_never_saved(diverging, tmp_path):
    model, ds = diverging
    with pytest.raises(DivergenceError, match="Cannot save .*non-finite weights"):
        model.fit(
            ds, epochs=1, verbose=0, nan_guard=False, callbacks=[callbacks.Checkpoint(tmp_path)]
        )
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".keras")]
    with pytest.raises(DivergenceError, match="Cannot save"):
        model.save(tmp_path / "diverged.keras")
    assert not (tmp_path / "diverged.keras").exists()
    with pytest.raises(DivergenceError, match="Cannot draw images: .* non-finite weights"):
        model.generate(["a red circle"])
    with pytest.raises(DivergenceError, match="Cannot draw images"):
        metrics.evaluate(
            model,
            {"images": ds.source_images[:8], "captions": ["a red circle"] * 8},
            metrics=["fid"],
            feature_extractor=metrics.pixels(),
            num_samples=8,
        )


def test_a_generator_of_nan_batches_is_stopped_by_the_guard_naming_the_data(setting, shapes32):
    _, floats, tokens = setting
    model = tiny_dcgan(shapes32[3])
    model.compile()

    def batches():
        while True:
            yield ({"images": nan_pixel(floats)[:8], "tokens": tokens[:8]},)

    with pytest.raises(DivergenceError, match="batch holding NaN, inf or values far outside"):
        model.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0)


def test_a_runaway_loss_and_a_winning_discriminator_are_warned_about():
    guard = DivergenceGuard(loss_bound=100.0, patience=2)
    runaway = [{"d_loss": 0.5, "g_loss": 150.0}] * 2
    with pytest.warns(UserWarning, match="g_loss has stayed above 100 .* for 2 epochs"):
        for epoch, logs in enumerate(runaway):
            guard._warn_on_runaway(epoch, logs)
    guard = DivergenceGuard(patience=2)
    with pytest.warns(UserWarning, match="D is winning outright"):
        for epoch in range(2):
            guard._warn_on_runaway(epoch, {"d_loss": 0.001, "g_loss": 12.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a healthy run: nothing
        for epoch in range(5):
            guard._warn_on_runaway(epoch, {"d_loss": 0.7, "g_loss": 3.0})


def test_a_converter_refuses_an_authors_file_holding_nan():
    state = {"module.conv.weight": np.ones((2, 2), "float32"), "fc.bias": np.array([0.0, np.nan])}
    with pytest.raises(ValueError, match="tensor 'fc.bias' holds NaN or inf"):
        read_state_dict(state)


NUMBER_CASES = [
    (
        "make_dataset batch_size 0",
        lambda m, f, t: make_dataset(f, ["a"] * 16, m.vocabulary, batch_size=0),
    ),
    (
        "make_dataset batch_size 2.5",
        lambda m, f, t: make_dataset(f, ["a"] * 16, m.vocabulary, batch_size=2.5),
    ),
    ("generate batch_size 0", lambda m, f, t: m.generate(["a red circle"], batch_size=0)),
    ("generate num_per_caption 0", lambda m, f, t: m.generate(["a red circle"], num_per_caption=0)),
    (
        "generate num_per_caption 1.5",
        lambda m, f, t: m.generate(["a red circle"], num_per_caption=1.5),
    ),
    ("SampleGrid every 0", lambda m, f, t: callbacks.SampleGrid(["a"], "grids", every=0)),
    ("LossPlot every 0", lambda m, f, t: callbacks.LossPlot("losses.png", every=0)),
    ("LearningRateDecay every 0", lambda m, f, t: callbacks.LearningRateDecay(0)),
    (
        "QualityMonitor num_samples 0",
        lambda m, f, t: callbacks.QualityMonitor(f, ["a"], "q.png", num_samples=0),
    ),
]


@pytest.mark.parametrize("call", [c[1] for c in NUMBER_CASES], ids=[c[0] for c in NUMBER_CASES])
def test_counts_must_be_positive_integers(setting, call):
    with pytest.raises(ValueError, match="must be a positive integer; got"):
        call(*setting)


OTHER_CASES = [
    (
        "generate seed 'abc'",
        lambda m, f, t: m.generate(["a"], seed="abc"),
        ValueError,
        "seed must be None or an integer",
    ),
    (
        "generate seed -1",
        lambda m, f, t: m.generate(["a"], seed=-1),
        ValueError,
        "seed must be None or an integer",
    ),
    (
        "a caption set of None",
        lambda m, f, t: make_dataset(f, [None] * 16, m.vocabulary, batch_size=8),
        TypeError,
        "captions of image 0 are a NoneType",
    ),
    (
        "fit on float token ids",
        lambda m, f, t: m.fit({"images": f, "tokens": t.astype("float32")}),
        ValueError,
        "tokens must be integer ids; got float32",
    ),
    (
        "fit on entries of other lengths",
        lambda m, f, t: m.fit({"images": f, "tokens": t[:8]}),
        ValueError,
        r"different numbers of rows: \{'images': 16, 'tokens': 8\}",
    ),
    (
        "fit on an image array alone",
        lambda m, f, t: m.fit(f),
        TypeError,
        r"got an array of shape \(16, 32, 32, 3\)",
    ),
    (
        "image_size 0",
        lambda m, f, t: type(m)(vocabulary=m.vocabulary, image_size=0),
        ValueError,
        "image_size must be a positive integer",
    ),
    (
        "noise_dim -1",
        lambda m, f, t: type(m)(vocabulary=m.vocabulary, noise_dim=-1),
        ValueError,
        "noise_dim must be a positive integer",
    ),
    (
        "learning_rate -1",
        lambda m, f, t: type(m)(vocabulary=m.vocabulary, learning_rate=-1),
        ValueError,
        "learning_rate must be a finite number > 0",
    ),
    (
        "learning_rate NaN",
        lambda m, f, t: type(m)(vocabulary=m.vocabulary, learning_rate=float("nan")),
        ValueError,
        "learning_rate must be a finite number > 0",
    ),
]


@pytest.mark.parametrize(
    "call, kind, message", [c[1:] for c in OTHER_CASES], ids=[c[0] for c in OTHER_CASES]
)
def test_other_bad_arguments_are_named(setting, call, kind, message):
    with pytest.raises(kind, match=message):
        call(*setting)
