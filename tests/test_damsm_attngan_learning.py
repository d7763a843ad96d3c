"""DAMSM pretraining, then AttnGAN over that DAMSM: each learns the captioned shapes.

One file, so the DAMSM is trained once per pass (its `xdist_group` keeps both tests on one
pytest worker)."""

import keras
import pytest
from conftest import EASY_SHAPES

from gan_zoo import DAMSM, AttnGAN, Vocabulary
from gan_zoo.data import make_dataset, shapes

pytestmark = [
    pytest.mark.xla,  # long training: the library's default compilation
    pytest.mark.xdist_group("damsm_attngan_learning"),  # one worker trains the DAMSM once
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="about 3 CPU minutes; it runs in the TensorFlow pass (JAX learns in "
        "test_learning.py, and test_attngan.py trains AttnGAN's steps on every backend)",
    ),
]


@pytest.fixture(scope="module")
def trained_damsm():
    """A small DAMSM trained 3 epochs on 1,920 easy captioned shapes (32 px), and its history."""
    keras.utils.set_random_seed(0)
    images, captions, _ = shapes.load(
        "train", num_images=1920, image_size=32, seed=0, fixed=EASY_SHAPES
    )
    vocab = Vocabulary.build(captions)
    damsm = DAMSM(vocab, image_encoder="small", image_size=32, seed=0)
    damsm.compile()
    history = damsm.fit(
        make_dataset(images, captions, vocab, batch_size=48, seed=0), epochs=3, verbose=0
    )
    return damsm, history


@pytest.mark.slow
def test_damsm_pretraining_reaches_r_precision_well_above_chance(trained_damsm):
    """Chance is 1% (1 true caption among 100). With only 18 shape-colour combinations, about
    5 of the 99 mismatched captions describe the same combination, so ~16% is the ceiling."""
    damsm, history = trained_damsm
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    images, captions, _ = shapes.load(
        "test", num_images=200, image_size=32, seed=1, fixed=EASY_SHAPES, verbose=0
    )
    mean, std = damsm.r_precision(images, [c[0] for c in captions])
    assert mean >= 0.06, (mean, std)


@pytest.mark.slow
def test_attngan_alignment_rises_well_above_chance(trained_damsm):
    damsm, _ = trained_damsm
    images, captions, _ = shapes.load(
        "train", num_images=1920, image_size=32, seed=0, fixed=EASY_SHAPES
    )
    keras.utils.set_random_seed(0)
    model = AttnGAN.from_preset("small", damsm=damsm, seed=0)
    model.compile()
    _, test_captions, truth = shapes.load(
        "test", num_images=200, image_size=32, seed=0, fixed=EASY_SHAPES
    )
    prompts = [c[0] for c in test_captions]
    oracle = shapes.ShapesOracle()
    chance = shapes.chance_alignment()
    assert oracle.score(model.generate(prompts, seed=0), truth)["alignment"] <= 2 * chance
    history = model.fit(
        make_dataset(images, captions, damsm.vocabulary, batch_size=32, seed=0), epochs=2, verbose=0
    )
    after = oracle.score(model.generate(prompts, seed=0), truth)
    assert after["alignment"] >= 3 * chance, after
    # μ carries the caption (without the text BatchNorm the KL stays ~0.002: G's first stage
    # sees noise where the text should be)
    assert history.history["kl"][-1] > 0.05, history.history["kl"]
