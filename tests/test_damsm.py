"""DAMSM: its losses against a hand computation, its encoders' sizes, training, saving
(R-precision after pretraining is in test_damsm_attngan_learning.py)."""

import warnings

import keras
import numpy as np
import pytest
from conftest import trainable_count
from model_harness import assert_reload_gives_the_same

from gan_zoo import DAMSM, Vocabulary, losses
from gan_zoo.callbacks import LearningRateDecay
from gan_zoo.data import make_dataset
from gan_zoo.models.image_encoders import InceptionEncoder
from gan_zoo.text import TextEncoder


def _softmax(x, axis):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def _authors_word_similarity(regions, words, lengths, gamma1=4.0, gamma2=5.0):
    """The authors' words_loss loop: caption i's real words against every image j."""
    sims = np.zeros((len(regions), len(words)))
    for i, length in enumerate(lengths):
        w = words[i, :length]
        for j, r in enumerate(regions):
            attention = _softmax(
                gamma1 * _softmax(r @ w.T, axis=1).T, axis=1
            )  # words, then regions
            context = attention @ r
            cos = (w * context).sum(1) / (
                np.linalg.norm(w, axis=1) * np.linalg.norm(context, axis=1)
            )
            sims[j, i] = np.log(np.exp(gamma2 * cos).sum())
    return sims


def test_word_similarity_matches_the_authors_loop():
    rng = np.random.default_rng(0)
    regions = rng.normal(size=(4, 6, 8)).astype("float32")
    words = rng.normal(size=(4, 5, 8)).astype("float32")
    lengths = np.array([5, 3, 1, 4])
    mask = np.arange(5)[None] < lengths[:, None]
    got = keras.ops.convert_to_numpy(losses.damsm_word_similarity(regions, words, mask))
    np.testing.assert_allclose(
        got, _authors_word_similarity(regions, words, lengths), rtol=1e-5, atol=1e-5
    )


def test_matching_loss_by_hand_and_with_same_class_masking():
    sim = np.array([[0.9, 0.1, 0.3], [0.2, 0.8, 0.1], [0.4, 0.6, 0.5]], "float32")
    loss0, loss1 = (
        float(keras.ops.convert_to_numpy(x)) for x in losses.damsm_matching_loss(sim, 10.0)
    )
    logits = 10.0 * sim.astype("float64")
    ce_rows = -np.mean(np.log(np.diag(_softmax(logits, 1))))
    ce_cols = -np.mean(np.log(np.diag(_softmax(logits, 0))))
    np.testing.assert_allclose([loss0, loss1], [ce_rows, ce_cols], rtol=1e-5)
    # rows 1 and 2 share a class: neither is the other's negative
    masked = losses.damsm_matching_loss(sim, 10.0, labels=np.array([0, 1, 1]))
    logits[1, 2] = logits[2, 1] = -np.inf
    np.testing.assert_allclose(
        [float(keras.ops.convert_to_numpy(x)) for x in masked],
        [
            -np.mean(np.log(np.diag(_softmax(logits, 1)))),
            -np.mean(np.log(np.diag(_softmax(logits, 0)))),
        ],
        rtol=1e-5,
    )


def test_sentence_similarity_is_the_cosine_matrix():
    a = np.array([[1.0, 0.0], [1.0, 1.0]], "float32")
    b = np.array([[2.0, 0.0], [0.0, 3.0]], "float32")
    got = keras.ops.convert_to_numpy(losses.damsm_sentence_similarity(a, b))
    np.testing.assert_allclose(got, [[1.0, 0.0], [2**-0.5, 2**-0.5]], rtol=1e-6)


@pytest.mark.once
def test_encoder_sizes_equal_the_authors():
    """RNN_ENCODER: 2,075,320 in PyTorch for 5,450 rows, which keeps two LSTM biases where Keras
    keeps one: 2 directions x 4 x 128 fewer. CNN_ENCODER: 721,152 trainable (the two heads)."""
    text = TextEncoder(5450)
    text.build((None, 18))
    assert trainable_count(text) == 2_075_320 - 2 * 4 * 128
    image = InceptionEncoder(256, weights=None)
    regions, code = image(np.zeros((2, 64, 64, 3), "float32"))
    assert regions.shape == (2, 289, 256) and code.shape == (2, 256)
    assert trainable_count(image) == 721_152


@pytest.mark.once
def test_inception_weights_are_checked(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        InceptionEncoder(weights=str(tmp_path / "missing.weights.h5"))
    wrong = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    wrong.save_weights(tmp_path / "wrong.weights.h5")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(
            ValueError, match="does not hold keras.applications.InceptionV3 weights"
        ):
            InceptionEncoder(weights=str(tmp_path / "wrong.weights.h5"))
    assert not caught, "the failed attempts' per-layer warnings should not reach the user"


def test_compile_clips_the_text_encoder_globally_and_decays_per_epoch():
    vocab = Vocabulary.build(["a red circle"])
    damsm = DAMSM(vocab, image_encoder="small", image_size=32)
    damsm.compile()
    assert (
        damsm.text_optimizer.global_clipnorm == 0.25
        and damsm.image_optimizer.global_clipnorm is None
    )
    schedule = damsm.learning_rate_schedule()
    assert isinstance(schedule, LearningRateDecay)
    assert schedule.scale(0) == 1.0 and schedule.scale(3) == pytest.approx(0.98**3)
    # the authors' `if lr > lr0 / 10: lr *= 0.98` stops after the first step below a tenth
    assert 0.98**114 < 0.1 < 0.98**113
    assert schedule.scale(500) == schedule.scale(114) == pytest.approx(0.98**114)
    with pytest.raises(ValueError, match="image_encoder"):
        DAMSM(vocab, image_encoder="resnet")
    with pytest.raises(ValueError, match="power of two"):
        DAMSM(vocab, image_encoder="small", image_size=48)


def test_damsm_round_trip(shapes32, tmp_path):
    images, captions, _, vocab = shapes32
    damsm = DAMSM(vocab, image_encoder="small", image_size=32, seed=0)
    damsm.compile()
    damsm.fit(make_dataset(images, captions, vocab, batch_size=32), epochs=1, verbose=0)
    captions = ["a big red circle", "a blue square"]
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    assert_reload_gives_the_same(
        damsm,
        tmp_path / "damsm.keras",
        lambda m: (m.embed_captions(captions), m.embed_images(images)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_r_precision_takes_each_images_caption_list(shapes32):
    images, captions, _, vocab = shapes32
    damsm = DAMSM(vocab, image_encoder="small", image_size=32, seed=0)
    first = [c[0] for c in captions]
    assert damsm.r_precision(images, captions, folds=2) == damsm.r_precision(images, first, folds=2)
    with pytest.raises(ValueError, match="one caption .* per image; got 127 for 128"):
        damsm.r_precision(images, first[:-1])
